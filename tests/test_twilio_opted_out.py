"""Twilio refuses to text a recipient who replied STOP to a Twilio number (error 21610): that was recorded `failed`
and nothing more, so every later campaign tried them again. It is an opt-out as an inbound STOP is: the number and
the person suppressed on the channel, consent withdrawn (console.policy.suppression_entries.record_opt_out)."""

from __future__ import annotations

from console.campaigns import control, model
from console.policy.consent import latest_consent
from tests.test_twilio_newcomer import _phone, _workspace
from tests.twilio_fake import FakeTwilio

UNSUBSCRIBED = (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400,
                      "more_info": "https://www.twilio.com/docs/errors/21610"})


def test_a_recipient_twilio_says_replied_stop_is_suppressed_and_no_later_campaign_tries_them(tmp_path, monkeypatch):
    with FakeTwilio(answers={_phone(2): UNSUBSCRIBED}) as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url)
        model.create(db, "first", segment="all", channel="sms", template="miss-en", holdout=0)
        control.launch(db, ws.config, "first", real=True, max_wait=0)
        assert dict(db.execute("SELECT address, status FROM sends").fetchall()) == {
            _phone(1): "sent", _phone(2): "failed", _phone(3): "sent"}
        entries = db.execute("SELECT address, user_id, reason, source FROM suppressions WHERE removed_at IS NULL "
                             "ORDER BY id").fetchall()
        assert [(a, u, r) for a, u, r, _ in entries] == [(_phone(2), None, "opt_out"), (None, 2, "opt_out")]
        assert all("21610" in source for *_, source in entries)
        assert (latest_consent(db, 2, "sms") or {}).get("status") == "withdrawn"

        model.create(db, "second", segment="all", channel="sms", template="miss-en", holdout=0)
        control.launch(db, ws.config, "second", real=True, max_wait=0)
    to_two = [f for f in twilio.arrived if f["To"] == _phone(2)]
    assert len(to_two) == 1   # the first campaign's attempt only
    db.close()


def test_a_status_callback_failing_a_message_with_21610_records_the_opt_out_too(tmp_path, monkeypatch):
    """Through a Messaging Service Twilio may take the message and fail it later with 21610 (a status callback)."""
    from console.inbound.apply import apply_receipts
    from console.inbound.provider_records import twilio_receipt
    from console.workspace import Workspace
    from tests.outcomes_ledger import add_campaign, add_sends, add_users

    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text("", encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 2)
    add_sends(db, add_campaign(db, "spring", launched_at=1_780_000_000), 1, 2, "A", sent_at=1_780_000_060)
    for sid, code in (("p1", "21610"), ("p2", "30007")):
        read = twilio_receipt({"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": code,
                               "ErrorMessage": "Attempt to send to unsubscribed recipient"}, {})
        apply_receipts(db, ws.config, "sms", read.receipts, source="twilio")
    entries = db.execute("SELECT address, user_id FROM suppressions WHERE reason = 'opt_out'").fetchall()
    assert entries == [("+8613800000001", None), (None, 1)]   # 30007 (a carrier's filter) is no opt-out
    assert (latest_consent(db, 1, "sms") or {}).get("status") == "withdrawn"
    db.close()
