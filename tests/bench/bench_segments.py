"""Profiles and segments at scale: full and incremental refresh, segment counts, a page of members.

Generates users and events straight into SQLite (no import code), with the workspace's real schema and indexes,
then times `console.profiles.refresh` and `console.segments`, and a hand-written SQL query computing the same four
layering axes as the baseline (our full refresh is printed as a ratio of it).

    python tests/bench/bench.py segments --users 1000000 --events 10000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

DAY = 86_400
NOW = 1_764_000_000          # 2025-11-24T16:00:00Z: "today" of the generated history
YEARS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=10_000, help="users given new events before the "
                                                                    "incremental refresh")
    parser.add_argument("--db", type=Path, default=None, help="keep the database here (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="reuse --db if it exists instead of regenerating")


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def generate(db, users: int, events: int) -> None:
    """Users with regions/genders/age bands; events over two years, in time order, users drawn at random.

    Randomness comes from a hash of the row number so each value is drawn once (SQLite re-evaluates random()
    at every use of a CTE column).
    """
    conn = db.conn
    index_sql = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('users', 'events') AND sql IS NOT NULL")]
    for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('users', 'events') "
            "AND sql IS NOT NULL").fetchall():
        conn.execute(f"DROP INDEX {name}")
    conn.execute("BEGIN")
    conn.execute(f"""
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {users})
        INSERT INTO users (id, external_id, name, phone, email, region, gender, age_band, occupation,
                           signup_at, created_at, updated_at)
        SELECT i, 'u' || i, 'user' || i, '+86138' || printf('%08d', i), 'user' || i || '@example.com',
               CASE i % 6 WHEN 0 THEN '华东' WHEN 1 THEN '华南' WHEN 2 THEN '华北' WHEN 3 THEN '西南'
                          WHEN 4 THEN '华中' ELSE '东北' END,
               CASE i % 2 WHEN 0 THEN 'F' ELSE 'M' END,
               CASE i % 5 WHEN 0 THEN '18-24' WHEN 1 THEN '25-34' WHEN 2 THEN '35-44' WHEN 3 THEN '45-54'
                          ELSE '55+' END,
               NULL, {NOW - YEARS * 365 * DAY}, {NOW}, {NOW}
        FROM s
    """)
    conn.execute("COMMIT")
    # Chained linear-congruential hashes of i (kept below 2^63 so SQLite stays in integers). User activity is
    # skewed: a quarter of the users draw half the events, so frequencies and dormancy spread out like a real base.
    conn.execute("BEGIN")
    conn.execute(f"""
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {events}),
        h1 AS (SELECT i, (i * 1103515245 + 12345) % 4294967291 AS a FROM s),
        h2 AS (SELECT i, a, (a * 1103515245 + 12345) % 4294967279 AS b FROM h1),
        h3 AS (SELECT i, a, b, (b * 1013904223 + 1664525) % 4294967231 AS c FROM h2),
        r AS (SELECT i, c,
                     CASE WHEN a % 2 = 0 THEN (a / 2) % {max(users // 4, 1)} + 1 ELSE b % {users} + 1 END AS u,
                     (c / 8) % 100 AS k,
                     (c / 4096) % 8 AS cat
              FROM h3)
        INSERT INTO events (id, user_id, kind, at, amount, category, object, source, fingerprint)
        SELECT i, u,
               CASE WHEN k < 45 THEN 'visit' WHEN k < 60 THEN 'login' WHEN k < 78 THEN 'view'
                    WHEN k < 90 THEN 'click' ELSE 'order' END,
               {NOW - YEARS * 365 * DAY} + (i * {YEARS * 365 * DAY} / {events}),
               CASE WHEN k >= 90 THEN (k - 89) * 37.5 END,
               CASE WHEN k >= 60 THEN 'cat' || cat END,
               CASE WHEN k >= 60 THEN 'item' || (k * 7 + cat) END,
               CASE cat % 3 WHEN 0 THEN 'app' WHEN 1 THEN 'web' ELSE 'mini' END,
               i
        FROM r
    """)
    conn.execute("COMMIT")
    for sql in index_sql:
        conn.execute(sql)
    conn.execute("ANALYZE")


def add_new_events(db, changed: int, per_user: int = 3) -> None:
    """`changed` distinct users get `per_user` new events each (a visit, a view, an order), after NOW."""
    db.execute("BEGIN")
    n_users = db.execute("SELECT max(id) FROM users").fetchone()[0]
    first = db.execute("SELECT max(id) FROM events").fetchone()[0] + 1
    step = max(n_users // changed, 1)
    db.execute(f"""
        WITH RECURSIVE s(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM s WHERE j < {changed * per_user - 1})
        INSERT INTO events (user_id, kind, at, amount, category, object, source, fingerprint)
        SELECT (j / {per_user}) * {step} + 1,
               CASE j % {per_user} WHEN 0 THEN 'visit' WHEN 1 THEN 'view' ELSE 'order' END,
               {NOW} + 3600 + j, CASE WHEN j % {per_user} = 2 THEN 99.0 END, 'cat1', 'item1', 'app',
               -{first} - j
        FROM s
    """)
    db.execute("COMMIT")


BASELINE = """
-- The four axes by hand: window functions over events, one row per user.
SELECT count(*), sum(visits_7d), sum(orders_30d) FROM (
  SELECT user_id, max(last_visit) AS last_visit, max(last_order) AS last_order,
         sum(kind IN ('visit', 'login') AND at > last_visit - 7 * 86400) AS visits_7d,
         sum(kind = 'order' AND at > last_order - 30 * 86400) AS orders_30d
  FROM (SELECT user_id, kind, at,
               max(CASE WHEN kind IN ('visit', 'login') THEN at END) OVER (PARTITION BY user_id) AS last_visit,
               max(CASE WHEN kind = 'order' THEN at END) OVER (PARTITION BY user_id) AS last_order
        FROM events)
  GROUP BY user_id)
"""


def run(args: argparse.Namespace) -> int:
    from console.config import Config
    from console.profiles import refresh
    from console.segments import count, ensure_presets, members, parse
    from storage.db import open_database

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="winback-bench-")
        path = Path(tmp.name) / "bench.db"
    else:
        path = args.db
    os.environ["WINBACK_NOW"] = "2025-11-24T16:00:00+00:00"
    config = Config()
    if not (args.reuse and path.exists()):
        if path.exists():
            path.unlink()
        db = open_database(path)
        took, _ = _timed(generate, db, args.users, args.events)
        print(f"generated {args.users:,} users and {args.events:,} events in {took:.1f} s")
    else:
        db = open_database(path)
        print(f"reusing {path}")

    base_s, base_row = _timed(lambda: db.execute(BASELINE).fetchone())
    print(f"baseline: hand-written window query for the four axes: {base_s:.2f} s ({base_row[0]:,} users)")

    full_s, summary = _timed(refresh, db, config, full=True)
    print(f"full refresh:        {full_s:6.2f} s   (bar ≤ 30 s)   = {full_s / base_s:.2f} × the baseline query")
    print(f"  steps (s): {summary['steps']}")
    print(f"  dormancy: {summary['dormancy']}")

    add_new_events(db, args.changed)
    inc_s, inc = _timed(refresh, db, config)
    print(f"incremental refresh: {inc_s:6.2f} s   (bar ≤ 2 s)    after {args.changed:,} users got new events "
          f"({inc['users_recomputed']:,} recomputed); steps (s): {inc['steps']}")
    again_s, _ = _timed(refresh, db, config)
    print(f"incremental, nothing new: {again_s:.2f} s")

    ensure_presets(db, config)
    rule = parse("dormancy = dormant and orders >= 3 and region in (华东, 华南)")
    count(db, rule)  # warm the cache once, as an operator's second look would
    times, n = [], 0
    for _ in range(5):
        t, n = _timed(count, db, rule)
        times.append(t)
    print(f"count of `dormancy = dormant and orders >= 3 and region in (华东, 华南)`: "
          f"{statistics.median(times) * 1000:6.1f} ms median of 5 (bar ≤ 200 ms) → {n:,} users")
    other = parse("layer = \"cold light\" and days_since_last_visit >= 60 and gender = F")
    t_other = statistics.median(_timed(count, db, other)[0] for _ in range(5))
    print(f"count of `layer = \"cold light\" and days_since_last_visit >= 60 and gender = F`: "
          f"{t_other * 1000:6.1f} ms")
    page_times = [_timed(members, db, rule, page=1, page_size=50)[0] for _ in range(5)]
    print(f"one page of 50 members: {statistics.median(page_times) * 1000:6.1f} ms median of 5 (bar ≤ 50 ms)")
    page_times = [_timed(members, db, rule, page=20, page_size=50)[0] for _ in range(5)]
    print(f"page 20 of 50 members:  {statistics.median(page_times) * 1000:6.1f} ms")
    # Rules at the size limits (200 conditions, 100 day counts a list): what SQLite spends preparing them.
    days = ", ".join(map(str, range(100)))
    at_limit = {
        "30 × `days_since_last_order in (0..99)` + 170 conditions":
            " or ".join([f"days_since_last_order in ({days})"] * 30 + ["orders < 1"] * 170),
        "30 different scattered lists of 100 day counts":
            " or ".join(f"days_since_last_order in ({', '.join(str(d) for d in range(i, i + 200, 2))})"
                        for i in range(30)),
    }
    for label, text in at_limit.items():
        t_limit, n_limit = _timed(count, db, parse(text))
        print(f"count of {label}: {t_limit * 1000:8.1f} ms → {n_limit:,} users")
    from console.segments.counts import funnel, layer_matrix

    t_funnel = statistics.median(_timed(funnel, db)[0] for _ in range(3))
    t_matrix = statistics.median(_timed(layer_matrix, db, "dormancy = dormant")[0] for _ in range(3))
    print(f"console overview: dormancy funnel {t_funnel * 1000:.1f} ms, layer matrix of the dormant "
          f"{t_matrix * 1000:.1f} ms")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    db.close()
    if tmp is not None:
        tmp.cleanup()
    return 0
