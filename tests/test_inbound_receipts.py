"""Receipt rules without HTTP: which receipt wins, which transitions are allowed, what is suppressed."""

from __future__ import annotations

import pytest

from console.config import Config
from console.errors import BadInput
from console.inbound.apply import apply_receipts, read_receipts
from console.inbound.mapping import receipt_mapping
from tests.outcomes_ledger import add_campaign, add_sends, add_users

LAUNCH = 1_780_000_000


@pytest.fixture
def ledger(db):
    add_users(db, 10)
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 10, "A", sent_at=LAUNCH)
    return db


def receive(db, *records):
    config = Config()
    return apply_receipts(db, config, "sms", read_receipts(records, receipt_mapping(config, "sms")), source="test")


def status(db, user_id):
    return db.execute("SELECT status, error FROM sends WHERE user_id = ?", [user_id]).fetchone()


def test_the_latest_receipt_in_a_batch_decides(ledger):
    receive(ledger, {"message_id": "m1", "status": "failed", "error": "timeout"},
            {"message_id": "m1", "status": "delivered"},
            {"message_id": "m2", "status": "queued"}, {"message_id": "m2", "status": "UNDELIV", "error": "E1"})
    assert status(ledger, 1) == ("delivered", None)
    assert status(ledger, 2) == ("failed", "E1")
    # "queued" changes nothing and is not recorded.
    assert ledger.execute("SELECT COUNT(*) FROM receipts WHERE user_id = 2").fetchone()[0] == 1


def test_a_delivered_message_may_bounce_later_but_not_fail(ledger):
    receive(ledger, {"message_id": "m3", "status": "delivered"}, {"message_id": "m4", "status": "delivered"})
    receive(ledger, {"message_id": "m3", "status": "failed"}, {"provider_id": "p4", "status": "hard_bounce"})
    assert status(ledger, 3)[0] == "delivered"
    assert status(ledger, 4)[0] == "bounced"
    assert ledger.execute("SELECT reason FROM suppressions WHERE address = '+8613800000004'").fetchall() == [
        ("bounce",)]


def test_a_repeated_report_adds_no_second_suppression(ledger):
    for _ in range(2):
        summary = receive(ledger, {"message_id": "m5", "status": "spam"})
    assert summary["suppressed"] == 0
    assert ledger.execute("SELECT COUNT(*) FROM suppressions WHERE reason = 'complaint'").fetchone()[0] == 2


def test_every_bad_record_is_named(ledger):
    with pytest.raises(BadInput) as exc:
        read_receipts([{"status": "delivered"}, {"message_id": "m1"}, {"message_id": "m1", "status": "??"}],
                      receipt_mapping(Config(), "sms"))
    assert "record 1" in str(exc.value) and "record 2" in str(exc.value) and "record 3" in str(exc.value)


def test_records_nested_under_a_path(ledger):
    from console.config import config_from_dict
    from console.inbound.mapping import items_of

    config = config_from_dict({"inbound": {"receipts": {"sms": {
        "items": "data.reports", "message_id": "msg.ref", "status": "state"}}}})
    mapping = receipt_mapping(config, "sms")
    body = {"data": {"reports": [{"msg": {"ref": "m6"}, "state": "DELIVRD"}]}}
    apply_receipts(ledger, config, "sms", read_receipts(items_of(body, mapping.fields["items"]), mapping),
                   source="test")
    assert status(ledger, 6)[0] == "delivered"
    with pytest.raises(BadInput):
        items_of({"data": {}}, "data.reports")


def test_serve_binds_loopback_unless_told(workspace):
    from console.inbound.server import DEFAULT_PORT, _uvicorn_config

    config = _uvicorn_config(workspace, None, None, "warning")
    assert (config.host, config.port) == ("127.0.0.1", DEFAULT_PORT)
    config = _uvicorn_config(workspace, "0.0.0.0", 9000, "warning")
    assert (config.host, config.port) == ("0.0.0.0", 9000)


def test_opt_out_replies_trip_the_opt_out_brake(ledger):
    from console.config import config_from_dict
    from console.inbound.apply import apply_replies, read_replies
    from console.inbound.mapping import reply_fields

    config = config_from_dict({"brakes": {"window": 10, "min_sends": 10, "opt_out_rate": 0.1}})
    records = [{"from": f"1380000000{i}", "text": "退订"} for i in (1, 2)]
    summary = apply_replies(ledger, config, "sms", read_replies(records, reply_fields(config, "sms"), "sms", config),
                            source="test")
    assert summary["opt_outs"] == 2 and summary["paused"]
    assert ledger.execute("SELECT status, pause_reason FROM campaigns").fetchone() == (
        "paused", "brake: 2 of the last 10 sends opted out (20.00%, limit 10.00%)")


def test_a_reply_is_credited_to_the_last_real_message_never_a_dry_run(ledger):
    """A dry run (or the demo's simulated campaign) sent nothing: a reply or STOP that arrives after it answers the
    last message really sent, and an opt-out never counts against the rehearsal's brakes."""
    from console.inbound.apply import Reply, apply_replies

    rehearsal = add_campaign(ledger, "rehearsal", launched_at=LAUNCH + 100, dry_run=1)
    add_sends(ledger, rehearsal, 1, 1, "A", sent_at=LAUNCH + 100)
    ledger.execute("UPDATE sends SET dry_run = 1 WHERE campaign_id = ?", [rehearsal])
    apply_replies(ledger, Config(), "sms", [Reply(1, "+8613800000001", "退订")], source="test",
                  received_at=LAUNCH + 200)
    spring = ledger.execute("SELECT id FROM campaigns WHERE name = 'spring'").fetchone()[0]
    assert ledger.execute("SELECT kind, campaign_id, user_id FROM receipts").fetchall() == [("opt_out", spring, 1)]
