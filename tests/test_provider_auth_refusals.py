"""A request Aliyun or Tencent Cloud refuses before reading its numbers — a wrong AccessKey secret / SecretKey, a
wrong key id, a clock too far off — sent nothing: every number of the batch goes back to `planned` (not an attempt,
nothing `failed`), the run is paused with what to fix in the operator's words, and once it is fixed `campaign
resume` sends each number exactly once. Against the local servers of tests/provider_servers.py, which check
signatures and timestamps the way the providers do (the clock case moves WINBACK_NOW — the business clock the
signers use — away from the server's own clock).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from console.campaigns import control, model
from console.channels import open_channel
from console.channels.base import DEFERRED, Message
from console.clock import parse_iso
from tests import test_provider_aliyun as ali
from tests import test_provider_tencent as tc
from tests.conftest import FROZEN_NOW

SERVER_TIME = parse_iso(FROZEN_NOW)
TWENTY_MINUTES_SLOW = (SERVER_TIME - timedelta(minutes=20)).isoformat()


def _statuses(db) -> Counter:
    return Counter(r[0] for r in db.execute("SELECT status FROM sends"))


def _nothing_attempted(db) -> None:
    assert _statuses(db) == {"planned": sum(_statuses(db).values())}
    assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] == 0


def test_aliyun_wrong_secret_leaves_everyone_planned_and_resume_sends_each_once_after_the_fix(tmp_path, monkeypatch):
    with ali._server() as srv:
        ws, db = ali._workspace(tmp_path, monkeypatch, srv.url, users=3)
        monkeypatch.setenv("WB_ALI_SECRET", "not-the-secret")
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        launched = ali._cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 1, launched.output   # winback paused the run: the send did not finish
        assert srv.state.taken == [] and [r["Code"] for _, r in srv.state.refused] == ["SignatureDoesNotMatch"]
        _nothing_attempted(db)
        paused = model.get(db, "c")
        assert paused.status == "paused"
        reason = paused.pause_reason or ""
        assert reason.startswith("sms: Aliyun refused the request: the signature does not match "
                                 "(SignatureDoesNotMatch: Specified signature does not match our calculation.)")
        assert "$WB_ALI_SECRET (access_key_secret_env)" in reason and "$WB_ALI_ID" in reason
        assert "then `winback campaign resume c`" in reason and "not-the-secret" not in reason
        assert "Aliyun refused the request" in launched.output

        monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")   # the fix
        resumed = ali._cli(ws, "campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
    assert Counter(t.phone for t in srv.state.taken) == {f"1380000000{i}": 1 for i in (1, 2, 3)}
    assert _statuses(db) == {"sent": 3}


def test_aliyun_clock_twenty_minutes_slow_pauses_the_run_until_the_clock_is_fixed(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", TWENTY_MINUTES_SLOW)   # the sending machine's clock
    with ali._server(clock=int(SERVER_TIME.timestamp())) as srv:
        ws, db = ali._workspace(tmp_path, monkeypatch, srv.url, users=3)
        model.create(db, "c", segment="all", channel="sms", template="notice-ali", holdout=0)
        control.launch(db, ws.config, "c", real=True)
        assert srv.state.taken == [] and [r["Code"] for _, r in srv.state.refused] == ["InvalidTimeStamp.Expired"]
        _nothing_attempted(db)
        paused = model.get(db, "c")
        assert paused.status == "paused" and (paused.pause_reason or "").startswith(
            "sms: Aliyun refused the request: the machine's clock is off by more than 15 minutes "
            "(InvalidTimeStamp.Expired: Specified time stamp or date value is expired.) — fix the clock "
            "(timedatectl set-ntp true, or NTP), then `winback campaign resume c`")

        monkeypatch.setenv("WINBACK_NOW", FROZEN_NOW)   # the clock fixed
        control.resume(db, ws.config, "c")
    assert Counter(t.phone for t in srv.state.taken) == {f"1380000000{i}": 1 for i in (1, 2, 3)}
    assert _statuses(db) == {"sent": 3}


def test_aliyun_a_refused_request_stops_the_rest_of_the_batch_not_attempted(tmp_path, monkeypatch):
    """Two requests in one batch (two templates): the first is refused for the key, the second never leaves."""
    with ali._server(code_for={"13800000001": ("InvalidAccessKeyId.Inactive", "Specified access key is disabled.")}
                     ) as srv:
        ws, _db = ali._workspace(tmp_path, monkeypatch, srv.url, users=1)
        channel = open_channel("sms", ws.config, dry_run=False)
        fields = [{"provider": "aliyun", "provider_template": code, "template_params": params}
                  for code, params in (("SMS_100001", {"name": "王"}), ("SMS_100002", {"day": "周五"}))]
        batch = [Message(i + 1, i + 1, f"+861380000000{i + 1}", "t", "c", f"<wb.1.{i}.x@winback.invalid>",
                         fields=f) for i, f in enumerate(fields)]
        try:
            first, second = channel.send(batch)
        finally:
            channel.close()
    assert len(srv.state.refused) == 1 and srv.state.requests == []
    for result in (first, second):
        assert result.status == DEFERRED and result.unreachable and result.stop_run
    assert first.attempted and not second.attempted
    assert first.error.startswith("Aliyun refused the request: the AccessKey is disabled "
                                  "(InvalidAccessKeyId.Inactive: Specified access key is disabled.) — enable it")


def test_aliyun_a_number_refused_alone_is_still_failed(tmp_path, monkeypatch):
    """Not every Code is the whole campaign's: a refusal about the content (a forbidden word in the parameters) stays
    failed (a template not approved pauses the run: tests/test_aliyun_newcomer.py)."""
    with ali._server(code_for={"13800000001": ("isv.SMS_CONTENT_ILLEGAL", "短信内容包含禁止发送内容")}) as srv:
        ws, db = ali._workspace(tmp_path, monkeypatch, srv.url, users=1)
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        control.launch(db, ws.config, "c", real=True)
    assert _statuses(db) == {"failed": 1} and model.get(db, "c").status != "paused"


def test_tencent_wrong_secret_key_leaves_every_request_of_the_batch_planned_until_fixed(tmp_path, monkeypatch):
    with tc._server() as srv:
        ws, db = tc._workspace(tmp_path, monkeypatch, srv.url, users=4)
        monkeypatch.setenv("WB_TC_KEY", "not-the-key")
        # per-user parameters: one request per number — the first is refused, the other three never leave
        model.create(db, "c", segment="all", channel="sms", template="care-tc", holdout=0)
        launched = tc._cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 1, launched.output
        assert srv.state.taken == [] and [r["Response"]["Error"]["Code"] for _, r in srv.state.refused] == [
            "AuthFailure.SignatureFailure"]
        _nothing_attempted(db)
        paused = model.get(db, "c")
        reason = paused.pause_reason or ""
        assert paused.status == "paused" and reason.startswith(
            "sms: Tencent Cloud refused the request: the signature does not match (AuthFailure.SignatureFailure: ")
        assert "$WB_TC_KEY (secret_key_env)" in reason and "then `winback campaign resume c`" in reason
        assert "not-the-key" not in reason

        monkeypatch.setenv("WB_TC_KEY", "tc-s3cret")
        resumed = tc._cli(ws, "campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
    assert Counter(t.phone for t in srv.state.taken) == {f"+861380000000{i}": 1 for i in (1, 2, 3, 4)}
    assert _statuses(db) == {"sent": 4}


def test_tencent_clock_twenty_minutes_slow_pauses_the_run_until_the_clock_is_fixed(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", TWENTY_MINUTES_SLOW)
    with tc._server(clock=int(SERVER_TIME.timestamp())) as srv:
        ws, db = tc._workspace(tmp_path, monkeypatch, srv.url, users=3)
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
        control.launch(db, ws.config, "c", real=True)
        assert srv.state.taken == []
        _nothing_attempted(db)
        paused = model.get(db, "c")
        assert paused.status == "paused" and (paused.pause_reason or "").startswith(
            "sms: Tencent Cloud refused the request: the machine's clock is off by more than 5 minutes "
            "(AuthFailure.SignatureExpire: Signature expired.")
        assert "fix the clock (timedatectl set-ntp true, or NTP), then `winback campaign resume c`" in \
            paused.pause_reason

        monkeypatch.setenv("WINBACK_NOW", FROZEN_NOW)
        control.resume(db, ws.config, "c")
    assert Counter(t.phone for t in srv.state.taken) == {f"+861380000000{i}": 1 for i in (1, 2, 3)}
    assert _statuses(db) == {"sent": 3}
