"""`campaign tally` and `outcomes` disagreed on what a campaign spent once a delivery receipt failed a message:
the tally left it out (0.08), outcomes counted it (0.12). Tencent bills on submission, delivered or not (its
statistics call a successful submission 计费依据), so a message it took and the carrier then failed was paid for;
one the provider refused in its answer was not. Both now count the first and leave out the second (the other
providers' rules: tests/test_spent_by_provider.py)."""

from __future__ import annotations

from console.campaigns import tallies
from console.inbound.apply import apply_receipts
from console.inbound.provider_records import tencent_receipts
from console.outcomes import arm_figures
from console.workspace import Workspace
from tests.outcomes_ledger import add_campaign, add_sends, add_users

LAUNCH = 1_780_000_000


def test_tally_and_outcomes_count_what_the_provider_took_even_when_its_receipt_failed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text("", encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 4)
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 3, "A", sent_at=LAUNCH + 60, cost=0.04)          # taken by Tencent: SerialNo p1..p3
    add_sends(db, cid, 4, 4, "A", status="failed", cost=0.04)              # refused in Tencent's answer
    db.execute("UPDATE sends SET provider_id = NULL, reason = 'provider_refused' WHERE user_id = 4")
    failed = tencent_receipts([{"report_status": "FAIL", "errmsg": "MK:0005", "description": "运营商内部错误",
                                "sid": "p3", "mobile": "13800000003", "nationcode": "86"}])
    apply_receipts(db, ws.config, "sms", failed.receipts, source="test")
    assert db.execute("SELECT status FROM sends WHERE user_id = 3").fetchone()[0] == "failed"

    tally = tallies.tally(db, "spring")
    [arm] = arm_figures(db, cid, 1, LAUNCH, LAUNCH + 14 * 86_400, ["order"])
    assert round(tally["cost"], 4) == 0.12
    assert arm.cost == 0.12
    db.close()
