"""Outcomes and receipts at scale: `winback outcomes` over a large ledger and event table, and a big receipt report.

    python tests/bench/bench.py outcomes                                  # 200,000 users, 2,000,000 events
    python tests/bench/bench.py outcomes --users 1000000 --events 10000000 --receipts 200000

Data is generated with SQL straight into a migrated workspace: N users, one real campaign whose ledger holds all
of them (10% holdout), M events (orders and visits) spread over 30 days either side of the launch, and a coupon
code per treated user, some redeemed. Two figures, each against a baseline measured in the same run:

- outcomes: `console.outcomes.campaign_outcomes` (users, converters, revenue, redemptions, cost per arm, then
  the statistics) against the bare hand-written query that only counts converters per arm;
- receipts: `read_receipts` + `apply_receipts` on R delivery receipts (matched set-based, statuses advanced,
  receipts recorded, brakes checked) against a plain `executemany(UPDATE sends SET status ... WHERE message_id)`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = 1_780_000_000
DAY = 86_400


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=200_000, help="users, all in the campaign (default 200,000)")
    parser.add_argument("--events", type=int, default=2_000_000, help="events (default 2,000,000)")
    parser.add_argument("--receipts", type=int, default=100_000, help="receipts in the report (default 100,000)")
    parser.add_argument("--dir", type=Path, default=None, help="working folder (default: a temporary one)")


def build(db, users: int, events: int) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        f"""WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {users})
            INSERT INTO users (id, external_id, phone, created_at, updated_at)
            SELECT i, 'u' || i, '+86138' || printf('%08d', i), 0, 0 FROM c"""
    )
    db.execute(
        """INSERT INTO campaigns (id, name, segment, channel, holdout_pct, window_days, status, dry_run, salt,
                                  created_at, created_by, launched_at)
           VALUES (1, 'bench', 'all', 'sms', 10, 14, 'running', 0, 'salt', ?, 'bench', ?)""",
        [LAUNCH, LAUNCH],
    )
    db.execute("INSERT INTO campaign_runs (campaign_id, run, dry_run, started_at, started_by) "
               "VALUES (1, 1, 0, ?, 'bench')", [LAUNCH])
    db.execute(
        f"""INSERT INTO sends (campaign_id, user_id, arm, channel, address, status, dry_run, counts_for_caps,
                               cost, coupon_code, message_id, claimed_at, sent_at, updated_at)
            SELECT 1, id, CASE WHEN id % 10 = 0 THEN 'holdout' ELSE 'A' END, 'sms', phone,
                   CASE WHEN id % 10 = 0 THEN 'holdout' ELSE 'sent' END, 0, id % 10 != 0,
                   CASE WHEN id % 10 = 0 THEN 0 ELSE 0.04 END,
                   CASE WHEN id % 10 = 0 THEN NULL ELSE 'C' || id END,
                   CASE WHEN id % 10 = 0 THEN NULL ELSE 'm' || id END,
                   CASE WHEN id % 10 = 0 THEN NULL ELSE {LAUNCH} + id % 3600 END,
                   CASE WHEN id % 10 = 0 THEN NULL ELSE {LAUNCH} + id % 3600 END, {LAUNCH}
            FROM users"""
    )
    db.execute(
        f"""WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {events})
            INSERT INTO events (user_id, kind, at, amount, coupon_code, fingerprint)
            SELECT 1 + abs(random()) % {users},
                   CASE WHEN i % 4 = 0 THEN 'order' ELSE 'visit' END,
                   {LAUNCH - 30 * DAY} + abs(random()) % {60 * DAY},
                   CASE WHEN i % 4 = 0 THEN 50 + i % 200 END,
                   NULL, i FROM c"""
    )
    # Some treated users redeem their coupon inside the window.
    db.execute(
        f"""UPDATE events SET coupon_code = 'C' || user_id
            WHERE kind = 'order' AND user_id % 10 != 0 AND user_id % 7 = 0
              AND at >= {LAUNCH} AND at < {LAUNCH + 14 * DAY}"""
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")


def run(args) -> int:
    sys.path.insert(0, str(ROOT))
    from console.config import Config
    from console.inbound.apply import apply_receipts, read_receipts
    from console.inbound.mapping import receipt_mapping
    from console.outcomes import campaign_outcomes
    from storage.db import open_database

    folder = Path(args.dir or tempfile.mkdtemp(prefix="winback-bench-outcomes-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.db"
    if path.exists():
        path.unlink()
    db = open_database(path)
    t0 = time.perf_counter()
    build(db, args.users, args.events)
    print(f"built {args.users:,} users / ledger rows and {args.events:,} events in {time.perf_counter() - t0:.1f}s "
          f"({path})")

    as_of = LAUNCH + 30 * DAY
    t0 = time.perf_counter()
    result = campaign_outcomes(db, "bench", Config(), as_of=as_of)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    baseline_rows = db.execute(
        f"""SELECT s.arm, COUNT(*), COUNT(DISTINCT e.user_id) FROM sends s
            LEFT JOIN events e ON e.user_id = s.user_id AND e.kind = 'order'
                 AND e.at >= {LAUNCH} AND e.at < {LAUNCH + 14 * DAY}
            WHERE s.campaign_id = 1 GROUP BY s.arm"""
    ).fetchall()
    base = time.perf_counter() - t0
    assert {a: x for a, _, x in baseline_rows} == {a.arm: a.converters for a in result.arms}, "figures differ"
    a = result.comparison("A")
    print(f"outcomes: {ours:.2f}s (baseline converters-only query {base:.2f}s, ratio {ours / base:.2f}x); "
          f"A {result.arm('A').converters:,}/{result.arm('A').users:,}, holdout "
          f"{result.arm('holdout').converters:,}/{result.arm('holdout').users:,}, lift {a.absolute_lift * 100:+.3f} pp, "
          f"redemptions {result.arm('A').redemptions:,}")

    n = min(args.receipts, args.users * 9 // 10)
    ids = [u for u in range(1, args.users + 1) if u % 10][:n]
    records = [{"message_id": f"m{u}", "status": "delivered" if u % 50 else "failed"} for u in ids]
    mapping = receipt_mapping(Config(), "sms")
    t0 = time.perf_counter()
    summary = apply_receipts(db, Config(), "sms", read_receipts(records, mapping), source="bench")
    ours = time.perf_counter() - t0
    # Baseline: the same status changes, one UPDATE per receipt, no receipt rows, no checks.
    db.execute("UPDATE sends SET status = 'sent' WHERE campaign_id = 1 AND arm = 'A'")
    t0 = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.conn.executemany("UPDATE sends SET status = ? WHERE message_id = ? AND channel = 'sms'",
                        [(r["status"], r["message_id"]) for r in records])
    db.execute("COMMIT")
    base = time.perf_counter() - t0
    print(f"receipts: {n:,} in {ours:.2f}s = {n / ours:,.0f}/s (baseline bare UPDATEs {base:.2f}s, ratio "
          f"{ours / base:.2f}x); matched {summary['matched']:,}, updated {summary['updated']:,}, "
          f"paused {len(summary['paused'])}")
    db.close()
    return 0
