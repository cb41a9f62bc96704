"""policy: set-based evaluation of every contact policy (consent, suppression, address, caps, quiet hours, budget).

Builds a workspace straight in SQLite — users (mostly mainland mobiles, some with their own zone, some US numbers
whose zone depends on the area code, a few without a phone), consent histories, a suppression list by address and by
user, two cap rules and a send ledger of recent dispatches — then evaluates the whole audience in one call, as the
dispatcher does inside its claim transaction, in the day (most admitted) and at night (most deferred).

Baseline, same run: a bare `SELECT count(*)` of the audience joined to users, the least any evaluation must read.

    python tests/bench/bench.py policy --users 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=1_000_000, help="audience size (default 1,000,000)")
    parser.add_argument("--sends", type=float, default=1.5, help="ledger rows per user in the last 14 days")
    parser.add_argument("--db", type=Path, default=None,
                        help="database file (default: a temporary one); an existing bench file is reused as is")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per case; the best is reported")


# Deterministic scatter of i over [0, m): enough randomness for a benchmark, identical every run.
def _h(expr: str, m: int, salt: int = 0) -> str:
    return f"((({expr}) * 2654435761 + {salt * 97 + 12345}) % 4294967296 % {m})"


def build(db, users: int, sends_per_user: float, now: int) -> dict[str, float]:
    t0 = time.perf_counter()
    db.execute("BEGIN")
    seq = (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {users}) ")
    zones = ["Asia/Shanghai", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Europe/London",
             "Australia/Lord_Howe"]
    zone_case = "CASE i % 6 " + " ".join(f"WHEN {k} THEN '{z}'" for k, z in enumerate(zones)) + " END"
    db.execute(
        seq + "INSERT INTO users (id, external_id, phone, email, timezone, created_at, updated_at) "
        "SELECT i, 'u' || i, "
        f" CASE WHEN {_h('i', 100, 1)} < 2 THEN NULL "
        f"      WHEN {_h('i', 100, 1)} < 5 THEN '+1' || (CASE i % 4 WHEN 0 THEN '212' WHEN 1 THEN '415' "
        "            WHEN 2 THEN '312' ELSE '907' END) || printf('%07d', i % 10000000) "
        "      ELSE '+86138' || printf('%08d', i) END, "
        " 'user' || i || '@example.cn', "
        f" CASE WHEN {_h('i', 100, 2)} < 6 THEN {zone_case} END, "
        f" {now}, {now} FROM n"
    )
    # Consent: granted for 92%, granted then withdrawn for 4%, unknown for 4%.
    db.execute(seq + f"INSERT INTO consents (user_id, channel, status, at, source) SELECT i, 'sms', 'granted', "
               f"{now - 400 * 86400}, 'import' FROM n WHERE {_h('i', 100, 3)} >= 4")
    db.execute(seq + f"INSERT INTO consents (user_id, channel, status, at, source) SELECT i, 'sms', 'withdrawn', "
               f"{now - 30 * 86400}, 'inbound' FROM n WHERE {_h('i', 100, 3)} BETWEEN 4 AND 7")
    # Suppressions: 2% by address, 0.5% by user.
    db.execute(seq + "INSERT INTO suppressions (channel, address, reason, source, at, created_by) "
               f"SELECT CASE WHEN i % 2 THEN 'sms' ELSE 'all' END, '+86138' || printf('%08d', i), 'opt_out', "
               f"'bench', {now - 86400}, 'bench' FROM n WHERE {_h('i', 1000, 4)} < 20")
    db.execute(seq + "INSERT INTO suppressions (channel, user_id, reason, source, at, created_by) "
               f"SELECT 'all', i, 'complaint', 'bench', {now - 86400}, 'bench' FROM n WHERE {_h('i', 1000, 5)} < 5")
    db.execute("INSERT INTO caps (channel, max_count, window_seconds, created_at, created_by) VALUES "
               "('sms', 2, 604800, 0, 'bench'), ('any', 1, 86400, 0, 'bench')")
    for c in range(10):
        db.execute("INSERT INTO campaigns (id, name, segment, channel, budget, exempt_caps, dry_run, salt, "
                   "created_at, created_by, status) VALUES (?, ?, 'dormant', ?, ?, 0, 0, 's', 0, 'bench', "
                   "'completed')", [c + 1, f"past-{c}", "email" if c % 3 == 0 else "sms", None])
    db.execute("INSERT INTO campaigns (id, name, segment, channel, budget, exempt_caps, dry_run, salt, created_at, "
               "created_by, status) VALUES (100, 'bench', 'dormant', 'sms', ?, 0, 0, 's', 0, 'bench', 'running')",
               [0.04 * users * 0.6])
    db.execute("INSERT INTO campaign_runs (campaign_id, run, dry_run, started_at, started_by, spent) "
               "VALUES (100, 1, 0, 0, 'bench', 0)")
    # The ledger: ~sends_per_user rows per user over the last 14 days, across the ten past campaigns.
    rows = int(users * sends_per_user)
    db.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
        "INSERT INTO sends (campaign_id, user_id, run, arm, channel, status, dry_run, counts_for_caps, cost, "
        "claimed_at, sent_at, updated_at) "
        f"SELECT 1 + i % 10, 1 + {_h('i', users, 6)}, 1 + i / {users * 10 + 1}, 'A', "
        "CASE WHEN i % 10 % 3 = 0 THEN 'email' ELSE 'sms' END, "
        "CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 7 = 0 THEN 'delivered' ELSE 'sent' END, 0, "
        f"CASE WHEN i % 40 = 0 THEN 0 ELSE 1 END, 0.04, {now} - {_h('i', 14 * 86400, 7)}, "
        f"{now} - {_h('i', 14 * 86400, 7)}, {now} FROM n WHERE 1 "
        "ON CONFLICT DO NOTHING"
    )
    db.execute("CREATE TABLE bench_audience (user_id INTEGER PRIMARY KEY)")
    db.execute(seq + "INSERT INTO bench_audience SELECT i FROM n")
    db.execute("COMMIT")
    db.execute("ANALYZE")
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("users", "consents", "suppressions", "sends")}
    return {"seconds": time.perf_counter() - t0, **counts}


def run(args: argparse.Namespace) -> int:
    from console.config import Config
    from console.policy.engine import evaluate
    from storage.db import open_database

    tmp = None
    path = args.db
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="winback-bench-policy-")
        path = Path(tmp.name) / "policy.db"
    db = open_database(path)
    config = Config(channels={"sms": {"price": 0.04}})
    day = 1_795_572_000        # 2026-11-25 10:00 Asia/Shanghai: mainland users inside the sending window
    night = day + 12 * 3600    # 22:00 in Shanghai: most users deferred
    if db["bench_audience"].exists():
        args.users = db.execute("SELECT count(*) FROM bench_audience").fetchone()[0]
        print(f"reusing {path}: {args.users:,} users")
    else:
        built = build(db, args.users, args.sends, day)
        print(f"built in {built['seconds']:.1f}s: {built['users']:,} users, {built['consents']:,} consent rows, "
              f"{built['suppressions']:,} suppressions, {built['sends']:,} ledger rows")

    def best(fn) -> tuple[float, float, float, object]:
        """(best wall, first wall, CPU of the best, result): the first run pays one-off costs (phone-zone
        lookups, page cache). CPU seconds say what the work costs when the shared machine is busy."""
        times, out = [], None
        for _ in range(max(1, args.repeat)):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            times.append((time.perf_counter() - t0, time.process_time() - c0))
        wall, cpu = min(times)
        return wall, times[0][0], cpu, out

    base_s, _, _, base_n = best(lambda: db.execute(
        "SELECT count(*) FROM bench_audience a JOIN users u ON u.id = a.user_id").fetchone()[0])
    print(f"baseline  SELECT count(*) over the audience joined to users: {base_n:,} rows in {base_s:.3f}s "
          f"({base_n / base_s:,.0f} rows/s)")
    for label, at in (("day", day), ("night", night)):
        def once(at=at):
            db.execute("BEGIN IMMEDIATE")  # as the dispatcher calls it: inside its claim transaction
            try:
                return evaluate(db, config, channel="sms", audience="bench_audience", at=at, campaign_id=100)
            finally:
                db.execute("ROLLBACK")
        secs, first, cpu, result = best(once)
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(result.counts.items(), key=lambda kv: -kv[1]))
        print(f"evaluate  {label:5s}: {args.users:,} users in {secs:.2f}s = {args.users / secs:,.0f} users/s "
              f"(×{secs / base_s:.1f} the baseline; CPU {cpu:.2f}s = {args.users / cpu:,.0f} users per CPU-second; "
              f"first run {first:.2f}s = {args.users / first:,.0f} users/s)")
        print(f"          {counts}")
    db.close()
    if tmp is not None:
        tmp.cleanup()
    return 0
