"""A newcomer's Tencent Cloud SMS setup (docs/channels.md) against the local server of tests/provider_servers.py,
which checks the TC3 signature, the SdkAppId, the signature and the template the way Tencent does.

A request Tencent refuses for a setting — an SdkAppId that is not the account's, a sign_name or template ID not
approved — or for the account (the package used up) would be refused for every number: it sends nothing, every
number goes back to `planned` (not `failed`, which is never resent), the run pauses saying which setting to fix, and
`resume` after the fix sends each once. Marketing SMS outside 08:00–22:00 China time (MarketingSendTimeConstraint)
is "not now": deferred until 08:00, never failed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from console.campaigns import control, model
from tests import test_provider_tencent as tc
from tests.provider_servers import _tencent_error, _TencentHandler


def _statuses(db) -> Counter:
    return Counter(r[0] for r in db.execute("SELECT status FROM sends"))


@pytest.mark.parametrize(("wrong", "setting", "said"), [
    ({"app_id": "1400999999"}, "sdk_app_id", "the SdkAppId is not an SMS application of this account"),
    ({"sign_name": "别的签名"}, "sign_name", "the signature is not approved"),
])
def test_a_setting_tencent_refuses_pauses_the_run_and_resume_sends_each_once_after_the_fix(
        tmp_path, monkeypatch, wrong, setting, said):
    with tc._server() as srv:
        ws, db = tc._workspace(tmp_path, monkeypatch, srv.url, users=3)
        right = {"app_id": srv.state.app_id, "sign_name": srv.state.sign_name}
        for key, value in wrong.items():
            setattr(srv.state, key, value)   # the account's real value differs from winback.toml's
        model.create(db, "c", segment="all", channel="sms", template="care-tc", holdout=0)
        launched = tc._cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 1, launched.output
        assert srv.state.taken == [] and len(srv.state.refused) == 1   # one request, then nothing more
        assert _statuses(db) == {"planned": 3}
        assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] == 0
        paused = model.get(db, "c")
        reason = paused.pause_reason or ""
        assert paused.status == "paused" and reason.startswith(f"sms: Tencent Cloud refused the request: {said}")
        assert f"[channels.sms] {setting}" in reason and "then `winback campaign resume c`" in reason

        for key, value in right.items():
            setattr(srv.state, key, value)   # fixed (at the provider or in the file: the same to winback)
        resumed = tc._cli(ws, "campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
    assert Counter(t.phone for t in srv.state.taken) == {f"+861380000000{i}": 1 for i in (1, 2, 3)}
    assert _statuses(db) == {"sent": 3}
    db.close()


def test_marketing_sms_outside_tencents_hours_is_deferred_to_eight_not_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "2026-12-08T14:30:00+00:00")   # 22:30 in China
    monkeypatch.setattr(_TencentHandler, "_handle", lambda self, body: _tencent_error(
        "FailedOperation.MarketingSendTimeConstraint", "营销短信发送时间限制，为避免骚扰用户，营销短信只允许在8点到22点发送"))
    with tc._server() as srv:
        ws, db = tc._workspace(tmp_path, monkeypatch, srv.url, users=2)
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
        control.launch(db, ws.config, "c", real=True, max_wait=0)
    rows = db.execute("SELECT status, not_before FROM sends").fetchall()
    assert [r[0] for r in rows] == ["deferred", "deferred"]
    eight_in_china = 1_796_774_400   # 2026-12-09 08:00 +08:00
    assert all(r[1] is not None and eight_in_china <= r[1] <= eight_in_china + 60 for r in rows), rows
    assert model.get(db, "c").status != "paused"
    db.close()



def test_mainland_and_overseas_numbers_never_share_a_request(tmp_path, monkeypatch):
    """Tencent's SendSms takes up to 200 numbers "all mainland or all outside the mainland" (PhoneNumberSet.N): one
    request mixing them would be refused for every number in it."""
    with tc._server() as srv:
        ws, db = tc._workspace(tmp_path, monkeypatch, srv.url, users=3)
        db.execute("UPDATE users SET phone = '+14155550102' WHERE id = 2")
        db.conn.commit()
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)   # one text for all
        control.launch(db, ws.config, "c", real=True, max_wait=0)
    numbers = sorted(sorted(r["numbers"]) for r in srv.state.requests)
    assert numbers == [["+14155550102"], ["+8613800000001", "+8613800000003"]]
    db.close()


def test_a_region_the_sms_api_does_not_serve_stops_the_run_naming_the_setting(tmp_path, monkeypatch):
    from console.channels.base import DEFERRED

    monkeypatch.setattr(_TencentHandler, "_handle", lambda self, body: _tencent_error(
        "UnsupportedRegion", "The action does not support this region."))
    with tc._server() as srv:
        ws, _db = tc._workspace(tmp_path, monkeypatch, srv.url, users=1)
        result = tc._send_one(ws)
    assert result.status == DEFERRED and result.stop_run
    assert "[channels.sms] region" in (result.error or "")


def test_an_overseas_number_refused_the_mainland_template_fails_alone_and_the_others_are_sent(tmp_path, monkeypatch):
    """Refused for the template in a request of overseas numbers: theirs fail, the run goes on (resume would pause
    on them again for ever)."""
    original = _TencentHandler._handle

    def handle(self, body):
        if b"+1415" in body:
            return _tencent_error("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配")
        return original(self, body)

    monkeypatch.setattr(_TencentHandler, "_handle", handle)
    with tc._server() as srv:
        ws, db = tc._workspace(tmp_path, monkeypatch, srv.url, users=3)
        db.execute("UPDATE users SET phone = '+14155550102' WHERE id = 2")
        db.conn.commit()
        model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
        control.launch(db, ws.config, "c", real=True, max_wait=0)
    assert dict(db.execute("SELECT address, status FROM sends").fetchall()) == {
        "+8613800000001": "sent", "+14155550102": "failed", "+8613800000003": "sent"}
    assert model.get(db, "c").status != "paused"
    db.close()
