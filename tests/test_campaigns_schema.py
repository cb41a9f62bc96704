"""The ledger's indexes serve the queries other areas run against it."""

from __future__ import annotations

from console.policy import caps


def test_the_caps_check_reads_only_the_sends_caps_index(db):
    """policy's per-user caps probe filters on user, claim time, channel and status of counted rows: the index
    covers all four, so checking a batch never touches the ledger table itself."""
    rules = [caps.CapRule("any", 1, 7 * 86_400), caps.CapRule("sms", 2, 86_400)]
    db.execute("CREATE TEMP TABLE policy_result (user_id INTEGER PRIMARY KEY, reason TEXT)")
    captured: list[str] = []
    db.conn.set_trace_callback(captured.append)
    try:
        caps.mark_capped(db, rules, "sms", 1_800_000_000, strategy="per_user")
    finally:
        db.conn.set_trace_callback(None)
    sql = next(s for s in captured if s.lstrip().startswith("UPDATE policy_result"))
    plan = " | ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
    assert "USING COVERING INDEX sends_caps" in plan, plan
