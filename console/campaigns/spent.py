"""Which ledger rows' cost was spent — one condition for `campaign tally`, `program show`, the budgets' refunds
(console/inbound/apply.py) and (written out, as it may not import this package) console/outcomes.py.

Spent: a row handed towards the provider (ledger.HANDED), or taken by it (a provider id or a send time) and failed
by a delivery receipt later — unless that receipt came from a provider whose documents say such a failure is not
billed (docs/campaigns.md, "What a campaign spent", names the sources):
- Aliyun, mainland numbers (+86): billed by the carrier's receipt; submitted but failed by the receipt is free.
- Twilio: `failed` never left Twilio and is not billed (bar a small processing fee); `undelivered` is billed.
Tencent bills a successful submission (计费依据), and a receipt of unknown origin (an imported report, a test)
keeps the conservative rule: counted. The provider is the receipt's `source` (the inbound route it came by). A
refusal in the provider's answer (ledger.record_failed: no id, no send time) was not billed, nor was a row given
back to planned, deferred or cancelled.
"""

from __future__ import annotations

import sqlite_utils

from console.campaigns.ledger import HANDED, SendState, in_list
from console.channel_names import MAINLAND


def unbilled_receipt_sql(row: str) -> str:
    """SQL true when a failing receipt of the send `row` (a qualified table name or alias) says it was not billed."""
    return (f"EXISTS (SELECT 1 FROM receipts r WHERE r.send_id = {row}.id AND r.kind = 'failed' AND "
            f"((r.source = 'aliyun' AND {row}.address LIKE '{MAINLAND}%') "
            f"OR (r.source = 'twilio' AND r.provider_status = 'failed')))")


def spent_sql(alias: str = "") -> str:
    """SQL true for a row of `sends` (as `alias`; the bare table when none) whose cost was spent."""
    row = alias or "sends"
    return (f"({row}.status IN {in_list(HANDED)} OR ({row}.status = '{SendState.FAILED}' "
            f"AND ({row}.sent_at IS NOT NULL OR {row}.provider_id IS NOT NULL) "
            f"AND NOT {unbilled_receipt_sql(row)}))")


def note_spent(db: sqlite_utils.Database, send_ids: str) -> None:
    """Before receipts are recorded: remember which sends a failing one names (`send_ids`: a table with send_id
    and kind columns) were spent, so `refund_unbilled` can give back to the budget what was never billed."""
    db.execute("DROP TABLE IF EXISTS temp.receipt_spent")
    db.execute(f"CREATE TEMP TABLE receipt_spent AS SELECT s.id AS id, s.campaign_id AS campaign_id, s.run AS run, "
               f"COALESCE(s.cost, 0) AS cost FROM sends s WHERE s.id IN (SELECT send_id FROM {send_ids} WHERE kind = 'failed') "
               f"AND {spent_sql('s')}")


def refund_unbilled(db: sqlite_utils.Database) -> float:
    """Give back to each run's booking (campaign_runs.spent: the campaign's and program's budget ceilings) the
    cost of sends noted spent that are no longer: a budget is not held by money the provider never charged."""
    rows = db.execute(f"SELECT n.campaign_id, n.run, SUM(n.cost) FROM temp.receipt_spent n JOIN sends s "
                      f"ON s.id = n.id WHERE NOT {spent_sql('s')} GROUP BY n.campaign_id, n.run").fetchall()
    for campaign_id, run, cost in rows:
        db.execute("UPDATE campaign_runs SET spent = spent - ? WHERE campaign_id = ? AND run = ?",
                   [cost, campaign_id, run])
    db.execute("DROP TABLE temp.receipt_spent")
    return float(sum(r[2] for r in rows))


__all__ = ["note_spent", "refund_unbilled", "spent_sql", "unbilled_receipt_sql"]
