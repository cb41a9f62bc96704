"""transport = "tencent" against a local server that verifies requests the way Tencent Cloud does.

Recipients with identical parameters share one request (≤ 200 numbers); results are per number
(SendStatusSet): a batch where 3 of 10 numbers are over their daily limit ends with exactly those 3 `failed`
with the provider's reason and the 7 others `sent` with their SerialNo, and `winback campaign tally` agrees. A
request more than 5 minutes off the server's clock, or changed in transit, is refused unread (Response.Error
AuthFailure.*): nothing sent, every number planned again and the run paused with the provider's code and what to
fix (more in tests/test_provider_auth_refusals.py).
"""

from __future__ import annotations

import json
from collections import Counter

from typer.testing import CliRunner

from console import messages
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.provider_servers import TencentServer

SHARED = '''
name = "notice-tc"
channel = "sms"
provider = "tencent"
provider_template = "3001"
approved_text = "会员日活动{1}开始，详情见会员中心。拒收请回复R"
[params]
1 = "'周五'"
'''

PER_USER = '''
name = "care-tc"
channel = "sms"
provider = "tencent"
provider_template = "3002"
approved_text = "尊敬的会员{1}，您有{2}张券未使用。拒收请回复R"
[params]
1 = "user.name"
2 = "'2'"
'''

APPROVED = {"3001": "会员日活动{1}开始，详情见会员中心。拒收请回复R", "3002": "尊敬的会员{1}，您有{2}张券未使用。拒收请回复R"}
DAILY_LIMITED = {"+8613800000002", "+8613800000005", "+8613800000009"}


def _server(**options):
    return TencentServer(key_id="AKID-test", secret="tc-s3cret", sign_name="品牌", templates=APPROVED,
                         app_id="1400123456", **options)


def _workspace(tmp_path, monkeypatch, url: str, users: int = 10):
    monkeypatch.setenv("WB_TC_ID", "AKID-test")
    monkeypatch.setenv("WB_TC_KEY", "tc-s3cret")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "tencent", "secret_id_env": "WB_TC_ID", "secret_key_env": "WB_TC_KEY",
        "sdk_app_id": "1400123456", "sign_name": "品牌", "endpoint": url, "price": 0.05, "backoff": 0.01}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, users)
    add_template(db, ws.config, SHARED)
    add_template(db, ws.config, PER_USER)
    return ws, db


def _send_one(ws):
    """One Tencent message (template 3001, one parameter) through the channel the workspace configures: its Result."""
    from console.channels import open_channel
    from console.channels.base import Message

    channel = open_channel("sms", ws.config, dry_run=False)
    msg = Message(1, 1, "+8613800000001", "t", "c", "<wb.1.1.1.x@winback.invalid>",
                  fields={"provider": "tencent", "provider_template": "3001", "template_params": {"1": "周五"}})
    try:
        [result] = channel.send([msg])
    finally:
        channel.close()
    return result


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args])


def _ledger(db, campaign):
    return {r["address"]: r for r in db.query(
        "SELECT s.* FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = ?", [campaign])}


def test_three_of_ten_over_their_daily_limit_fail_alone_and_the_tally_agrees(tmp_path, monkeypatch):
    from console.campaigns import model

    with _server(daily_limit=DAILY_LIMITED) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url)
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
        launched = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 1, launched.output   # three failed: a script must see it
        assert "c run 1: 3 failed — not every message went out" in " ".join(launched.output.split())
        tally = _cli(ws, "campaign", "tally", "c", "--json")

    assert len(srv.state.requests) == 1 and len(srv.state.requests[0]["numbers"]) == 10   # one shared request
    ledger = _ledger(db, "c")
    failed = {a for a, r in ledger.items() if r["status"] == "failed"}
    assert failed == DAILY_LIMITED
    assert all(ledger[a]["error"].startswith("LimitExceeded.PhoneNumberDailyLimit: the number of sms messages")
               for a in failed)
    sent = {a: r for a, r in ledger.items() if r["status"] == "sent"}
    assert len(sent) == 7
    assert {r["provider_id"] for r in sent.values()} == {t.provider_id for t in srv.state.taken}   # SerialNo
    assert {t.phone for t in srv.state.taken} == set(sent)
    assert srv.state.requests[0]["out_id"] in {r["message_id"].strip("<>") for r in ledger.values()}
    counts = json.loads(tally.output)
    assert (counts["sent"], counts["failed"]) == (7, 3)


def test_a_real_launch_with_per_user_parameters_renders_what_preview_showed(tmp_path, monkeypatch):
    from console.campaigns import model

    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=4)
        model.create(db, "c", segment="all", channel="sms", template="care-tc", holdout=0)
        launched = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 0, launched.output

    assert len(srv.state.requests) == 4   # the parameters differ: one request each
    preview, _ = messages.preview(db, ws.config, "care-tc", "u4")
    rendered = {t.phone: t.text for t in srv.state.taken}
    assert rendered["+8613800000004"] == preview.text == "【品牌】尊敬的会员用户4，您有2张券未使用。拒收请回复R"
    assert Counter(r["status"] for r in _ledger(db, "c").values()) == {"sent": 4}


def test_a_request_more_than_five_minutes_off_is_refused_and_nobody_is_recorded_failed(tmp_path, monkeypatch):
    from console.campaigns import control, model

    with _server(skew=301) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3)
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
        control.launch(db, ws.config, "c", real=True)

    assert srv.state.taken == []
    ledger = _ledger(db, "c")
    assert {r["status"] for r in ledger.values()} == {"planned"}
    assert all("AuthFailure.SignatureExpire: Signature expired." in r["error"] for r in ledger.values())
    paused = model.get(db, "c")
    assert paused.status == "paused" and "the machine's clock is off by more than 5 minutes" in \
        (paused.pause_reason or "")


def test_a_request_changed_in_transit_is_refused_and_nobody_is_recorded_failed(tmp_path, monkeypatch):
    from console.campaigns import control, model

    with _server(mangle=lambda body: body.replace("周五".encode(), "周六".encode())) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3)
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
        control.launch(db, ws.config, "c", real=True)

    assert srv.state.taken == []
    ledger = _ledger(db, "c")
    assert {r["status"] for r in ledger.values()} == {"planned"}
    assert all("AuthFailure.SignatureFailure" in r["error"] for r in ledger.values())
    assert model.get(db, "c").status == "paused"


def test_a_request_limit_error_is_retry_later_and_an_unapproved_signature_stops_the_run(tmp_path, monkeypatch):
    from console.channels import open_channel
    from console.channels.base import DEFERRED, Message

    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=1)
        srv.state.sign_name = "别的签名"   # refused for a setting: nothing sent, the run stops (test_tencent_newcomer)
        channel = open_channel("sms", ws.config, dry_run=False)
        channel._sleep = lambda s: None
        msg = Message(1, 1, "+8613800000001", "t", "c", "<wb.1.1.1.x@winback.invalid>",
                      fields={"provider": "tencent", "provider_template": "3001", "template_params": {"1": "周五"}})
        [refused] = channel.send([msg])
        assert refused.status == DEFERRED and refused.stop_run
        assert "FailedOperation.SignatureIncorrectOrUnapproved" in refused.error

        # the server throttles every request (Tencent: Response.Error RequestLimitExceeded, HTTP 200)
        import tests.provider_servers as ps

        monkeypatch.setattr(ps._TencentHandler, "_handle", lambda self, body: ps._tencent_error(
            "RequestLimitExceeded", "请求的次数超过了频率限制"))
        [deferred] = channel.send([msg])
        channel.close()
    assert deferred.status == DEFERRED and "RequestLimitExceeded" in deferred.error


def test_a_request_taken_without_a_reply_is_unknown_and_never_resent(tmp_path, monkeypatch):
    from console.campaigns import control, model

    with _server(cut=True) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3)
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True)

    assert len(srv.state.taken) == 3 and len(srv.state.requests) == 1   # taken once, never asked again
    assert summary.outcome == "completed"
    ledger = _ledger(db, "c")
    assert {r["status"] for r in ledger.values()} == {"unknown"}
    assert all("it may have been accepted" in r["error"] for r in ledger.values())


def test_a_template_approved_at_another_provider_is_not_sent(tmp_path, monkeypatch):
    from console.channels import open_channel
    from console.channels.base import Message

    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=1)
        channel = open_channel("sms", ws.config, dry_run=False)
        msg = Message(1, 1, "+8613800000001", "t", "c", "<wb.1.1.1.x@winback.invalid>",
                      fields={"provider": "aliyun", "provider_template": "SMS_1", "template_params": {"a": "b"}})
        plain = Message(2, 2, "+8613800000002", "t", "c", "<wb.1.1.2.x@winback.invalid>")
        results = channel.send([msg, plain])
        channel.close()
    assert srv.state.requests == []
    assert [r.status for r in results] == ["failed", "failed"]
    assert "approved at aliyun" in results[0].error and "not an approved provider template" in results[1].error
