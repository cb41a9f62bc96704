"""What a campaign spent follows each provider's billing (docs/campaigns.md, "What a campaign spent"): a message
the provider took and a delivery receipt then failed is counted — in the tally, in outcomes and in the budget's
booking (campaign_runs.spent) alike — unless that provider's documents say the failure is not billed:
- Aliyun mainland: billed by the carrier's receipt (a failed receipt is not charged);
- Twilio: `failed` never left Twilio (not billed), `undelivered` is billed;
- Tencent bills the successful submission (计费依据); a receipt of unknown origin keeps the conservative rule.
Receipts are read by the same parsers and applied with the same source as the inbound routes
(console/inbound/callbacks.py: source = the provider)."""

from __future__ import annotations

import pytest

from console.campaigns import tallies
from console.inbound.apply import apply_receipts
from console.inbound.provider_records import aliyun_receipts, tencent_receipts, twilio_receipt
from console.outcomes import arm_figures
from console.workspace import Workspace
from tests.outcomes_ledger import add_campaign, add_sends, add_users

LAUNCH = 1_780_000_000


def _aliyun(config):
    return aliyun_receipts([{"phone_number": "13800000003", "success": "false", "err_code": "MK:0005",
                             "err_msg": "运营商内部错误", "biz_id": "p3"}], config, "sms").receipts


def _tencent(config):
    return tencent_receipts([{"report_status": "FAIL", "errmsg": "MK:0005", "description": "运营商内部错误",
                              "sid": "p3", "mobile": "13800000003", "nationcode": "86"}]).receipts


def _twilio(status):
    return lambda config: twilio_receipt({"MessageSid": "p3", "MessageStatus": status, "ErrorCode": "30003"},
                                         {}).receipts


@pytest.mark.parametrize(("source", "receipts", "spent"), [
    ("aliyun", _aliyun, 0.08),               # billed by the carrier's receipt: the failed one is free
    ("tencent", _tencent, 0.12),             # billed on submission
    ("twilio", _twilio("failed"), 0.08),     # never left Twilio
    ("twilio", _twilio("undelivered"), 0.12),  # delivery was attempted: billed
    ("import:report.csv", _tencent, 0.12),   # provider unknown: counted (conservative)
])
def test_a_failed_receipt_counts_as_spent_as_its_provider_bills_it(tmp_path, monkeypatch, source, receipts, spent):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text("", encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 3)
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 3, "A", sent_at=LAUNCH + 60, cost=0.04)      # all three taken: provider ids p1..p3
    db.execute("UPDATE campaign_runs SET spent = 0.12 WHERE campaign_id = ?", [cid])   # booked at the claim
    apply_receipts(db, ws.config, "sms", receipts(ws.config), source=source)
    assert db.execute("SELECT status FROM sends WHERE user_id = 3").fetchone()[0] == "failed"

    [arm] = arm_figures(db, cid, 1, LAUNCH, LAUNCH + 14 * 86_400, ["order"])
    booked = db.execute("SELECT spent FROM campaign_runs WHERE campaign_id = ?", [cid]).fetchone()[0]
    assert round(tallies.tally(db, "spring")["cost"], 4) == spent
    assert round(arm.cost, 4) == spent
    assert round(booked, 4) == spent
    db.close()


def test_an_aliyun_receipt_for_a_number_outside_the_mainland_keeps_the_cost(tmp_path, monkeypatch):
    """Aliyun's receipt rule is for mainland SMS; elsewhere its documents are not clear: counted."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text("", encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 1, phone_prefix="+85261")
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 1, "A", sent_at=LAUNCH + 60, cost=0.04)
    db.execute("UPDATE sends SET address = '+85261000001'")
    read = aliyun_receipts([{"phone_number": "+85261000001", "success": "false", "biz_id": "p1"}], ws.config, "sms")
    apply_receipts(db, ws.config, "sms", read.receipts, source="aliyun")
    assert db.execute("SELECT status FROM sends").fetchone()[0] == "failed"
    assert round(tallies.tally(db, "spring")["cost"], 4) == 0.04
    db.close()


def test_the_budget_booking_follows_the_tally_when_a_later_receipt_says_not_billed(tmp_path, monkeypatch):
    """Twilio `undelivered` (billed) fails the row; a later `failed` for it leaves the status as it is but says it
    was not billed: the tally and the run's booking drop it together, once (the replayed callback changes nothing)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text("", encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 3)
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 3, "A", sent_at=LAUNCH + 60, cost=0.04)
    db.execute("UPDATE campaign_runs SET spent = 0.12 WHERE campaign_id = ?", [cid])
    figures = []
    for status in ("undelivered", "failed", "failed"):
        apply_receipts(db, ws.config, "sms", _twilio(status)(ws.config), source="twilio")
        booked = db.execute("SELECT spent FROM campaign_runs WHERE campaign_id = ?", [cid]).fetchone()[0]
        figures.append((round(tallies.tally(db, "spring")["cost"], 4), round(booked, 4)))
    assert figures == [(0.12, 0.12), (0.08, 0.08), (0.08, 0.08)]
    db.close()
