"""The whole `winback refresh` (profiles, recommendations, scores) on uniform and skewed activity, as a command.

    python tests/bench/bench.py refresh --users 200000 --events 2000000 --shape both
    python tests/bench/bench.py refresh --users 1000000 --events 10000000 --shape skewed

Generates users and events straight into SQLite with the workspace's real schema (bench_segments' uniform
generator, or a skewed one: a power law over users and over 5,000 items, so a few users have thousands of
events and most have a handful), then runs `winback refresh --full --json` and, after some users got new
events, `winback refresh --json` as subprocesses (what an operator runs), sampling their resident memory.
Baseline: bench_segments' hand-written four-axes window query, run in the same process on the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_import import tree_rss_mb
from bench_segments import BASELINE, DAY, NOW, YEARS, add_new_events, generate

ITEMS = 5_000
CATEGORIES = 40
USER_EXPONENT = 2.0    # user id = N·x²: id 1 draws E/√N events (10,000 at 1M/10M), the last ids ~E/(2N)
ITEM_EXPONENT = 3.0    # item = 5000·y³: the top item is ~6% of item events, the long tail a few each


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--shape", choices=("uniform", "skewed", "both"), default="both")
    parser.add_argument("--changed", type=int, default=10_000, help="users given new events before the "
                                                                    "incremental refresh")
    parser.add_argument("--dir", type=Path, default=None, help="keep the databases here (default: a temp dir)")


def generate_skewed(db, users: int, events: int) -> None:
    """Users as bench_segments; events drawn by power laws over user ids and over 5,000 items.

    Randomness from chained hashes of the row number (SQLite re-evaluates random() at every use of a CTE
    column), mapped to [0, 1) and raised to a power: low ids / low item numbers are the heavy ones.
    """
    generate(db, users, 1)   # the users (and one uniform event, removed: the skewed ones replace it)
    conn = db.conn
    conn.execute("DELETE FROM events")
    index_sql = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL")]
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
                                "AND sql IS NOT NULL").fetchall():
        conn.execute(f"DROP INDEX {name}")
    conn.execute("BEGIN")
    conn.execute(f"""
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {events}),
        h1 AS (SELECT i, (i * 1103515245 + 12345) % 4294967291 AS a FROM s),
        h2 AS (SELECT i, a, (a * 1103515245 + 12345) % 4294967279 AS b FROM h1),
        h3 AS (SELECT i, a, b, (b * 1013904223 + 1664525) % 4294967231 AS c FROM h2),
        r AS (SELECT i,
                     min({users}, 1 + CAST({users} * pow(a / 4294967291.0, {USER_EXPONENT}) AS INTEGER)) AS u,
                     1 + CAST({ITEMS} * pow(b / 4294967279.0, {ITEM_EXPONENT}) AS INTEGER) AS item,
                     (c / 8) % 100 AS k
              FROM h3)
        INSERT INTO events (id, user_id, kind, at, amount, category, object, source, fingerprint)
        SELECT i, u,
               CASE WHEN k < 45 THEN 'visit' WHEN k < 60 THEN 'login' WHEN k < 78 THEN 'view'
                    WHEN k < 90 THEN 'click' ELSE 'order' END,
               {NOW - YEARS * 365 * DAY} + (i * {YEARS * 365 * DAY} / {events}),
               CASE WHEN k >= 90 THEN (k - 89) * 37.5 END,
               CASE WHEN k >= 60 THEN 'cat' || (item % {CATEGORIES}) END,
               CASE WHEN k >= 60 THEN 'item' || item END,
               CASE k % 3 WHEN 0 THEN 'app' WHEN 1 THEN 'web' ELSE 'mini' END,
               i
        FROM r
    """)
    conn.execute("COMMIT")
    for sql in index_sql:
        conn.execute(sql)
    conn.execute("ANALYZE")


def timed_command(argv: list[str], env: dict[str, str]) -> tuple[float, float, dict]:
    """(wall seconds, peak resident MB sampled 10×/s, the command's --json output)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(proc.pid, {}))
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(out + err)
        raise SystemExit(f"failed: {' '.join(argv)}")
    return seconds, peak, json.loads(out)


def _shape_stats(path: Path) -> str:
    conn = sqlite3.connect(path)
    top = conn.execute("SELECT count(*) AS n FROM events GROUP BY user_id ORDER BY n DESC LIMIT 1").fetchone()[0]
    buyers = conn.execute("SELECT count(DISTINCT user_id) FROM events WHERE kind = 'order'").fetchone()[0]
    items = conn.execute("SELECT count(DISTINCT object) FROM events WHERE kind = 'order'").fetchone()[0]
    conn.close()
    return f"busiest user {top:,} events; {buyers:,} buyers; {items:,} distinct items ordered"


def run_shape(shape: str, args: argparse.Namespace, work: Path) -> None:
    from storage.db import open_database

    path = work / f"refresh-{shape}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = open_database(path)
    t0 = time.perf_counter()
    (generate_skewed if shape == "skewed" else generate)(db, args.users, args.events)
    print(f"[{shape}] generated {args.users:,} users / {args.events:,} events in {time.perf_counter() - t0:.1f} s;"
          f" {_shape_stats(path)}")
    base_s = time.perf_counter()
    db.execute(BASELINE).fetchone()
    base_s = time.perf_counter() - base_s
    db.close()
    print(f"[{shape}] baseline: hand-written four-axes query {base_s:.2f} s")

    winback = Path(sys.executable).with_name("winback")
    env = {**os.environ, "WINBACK_DB": str(path), "WINBACK_OPERATOR": "bench",
           "WINBACK_NOW": "2025-11-24T16:00:00+00:00"}
    env.pop("WINBACK_CONFIG", None)
    full_s, peak, summary = timed_command([str(winback), "refresh", "--full", "--json"], env)
    print(f"[{shape}] winback refresh --full: {full_s:.1f} s wall = {full_s / base_s:.2f}× the baseline "
          f"(bar ≤ 3×), peak {peak:.0f} MB (bar < 300 MB); steps (s): {summary['steps']}")

    db = open_database(path)
    add_new_events(db, args.changed)
    db.close()
    inc_s, inc_peak, inc = timed_command([str(winback), "refresh", "--json"], env)
    print(f"[{shape}] winback refresh after {args.changed:,} users got new events: {inc_s:.1f} s, "
          f"peak {inc_peak:.0f} MB, {inc['users_recomputed']:,} recomputed; steps (s): {inc['steps']}")


def run(args: argparse.Namespace) -> int:
    work = args.dir or Path(tempfile.mkdtemp(prefix="winback-bench-refresh-"))
    work.mkdir(parents=True, exist_ok=True)
    for shape in (("uniform", "skewed") if args.shape == "both" else (args.shape,)):
        run_shape(shape, args, work)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    if args.dir is None:
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    return 0
