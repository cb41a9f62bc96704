"""Imports: generate N users and M events as CSV, run `winback import` on them, compare with sqlite3 .import.

    python tests/bench/bench.py import                      # 100,000 users, 1,000,000 events
    python tests/bench/bench.py import --users 1000000 --events 10000000 --shape both

Each import runs as a subprocess of this venv's `winback` (exactly what an operator runs); peak memory is the
memory of the import and its reader process together (proportional set size, so pages they share count
once), sampled ten times a second. The baseline loads the same CSV files with the sqlite3 shell's `.import`
into a bare table (no validation, no indexes). Both are compared in CPU seconds (user + system, of the import
and its reader process together, from the kernel's accounting of waited-for children), which other work on a
shared machine disturbs far less than wall time. Events are generated uniform (users at random) or skewed (a
power law over users and over 5,000 items: a few users with thousands of events, a long light tail), or both.
Bars: users ≥ 50,000 rows/s (issue #2), within 5× `.import`'s CPU time (issue #17); events ≥ 200,000 rows/s,
within 3×; peak memory < 300 MB; the swap holds the write lock for seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = ["shoes", "bags", "美妆", "零食", "books", "手机", "家居", "kids"]  # Chinese text too
SOURCES = ["app", "web", "mini-program", "store"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
MOBILE_PREFIXES = ["138", "139", "135", "136", "150", "151", "186", "188", "177", "199", "131", "132", "155"]
DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "sina.com", "outlook.com"]
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
REGIONS = ["上海", "北京", "浙江", '"广东, 深圳"', '"广东, 广州"']  # some quoted, with a comma
ZONES = ["Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Europe/London"]


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=100_000, help="users to generate (default 100,000)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shape", choices=("uniform", "skewed", "both"), default="uniform",
                        help="events: users at random, or a power law over users and items (default uniform)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (printed)")
    parser.add_argument("--dir", type=Path, default=None, help="working folder (default: a temporary one)")


def write_users(path: Path, n: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("external_id,name,phone,email,region,gender,age_band,timezone,signup_at,"
                 "consent_sms,consent_email,vip_level\n")
        for i in range(n):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else "")
            phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
            email = f"user{i}@{rng.choice(DOMAINS)}" if i % 4 else ""
            signup = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00"
            fh.write(
                f"u{i:07d},{name},{phone},{email},{rng.choice(REGIONS)},"
                f"{'f' if i % 2 else 'm'},{rng.choice(['18-24', '25-34', '35-44', '45+'])},{rng.choice(ZONES)},"
                f"{signup},{'yes' if i % 5 else 'no'},{'1' if i % 3 else '0'},{i % 4}\n"
            )


ITEMS = 5_000
USER_EXPONENT = 2.0  # as bench_refresh: user = N·x², so the first users draw thousands of events each
ITEM_EXPONENT = 3.0  # item = 5000·y³: the top items are most orders, the long tail a few each


def write_events(path: Path, m: int, n_users: int, rng: random.Random, skewed: bool = False) -> None:
    """Events in time order (as exports are), users at random: the realistic, index-unfriendly shape. *skewed*:
    users and items drawn by power laws (see USER_EXPONENT, ITEM_EXPONENT)."""
    start = 1_735_660_800  # 2025-01-01 00:00 +08:00
    step = max(1, 31_536_000 // max(m, 1))
    rand = rng.random
    randrange = rng.randrange
    lines = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("user_id,kind,at,amount,category,object,source\n")
        t = start
        for i in range(m):
            t += randrange(step * 2 + 1)
            lt = time.gmtime(t + 8 * 3600)
            at = (f"{lt.tm_year}-{lt.tm_mon:02d}-{lt.tm_mday:02d} "
                  f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}")
            if skewed:
                user = f"u{min(n_users - 1, int(n_users * rand() ** USER_EXPONENT)):07d}"
                item = int(ITEMS * rand() ** ITEM_EXPONENT)
            else:
                user = f"u{randrange(n_users):07d}"
                item = i % ITEMS
            cat = CATEGORIES[i % 8]
            if rand() < 0.2:
                sku = f'"sku-{item}, 红色"' if i % 10 == 0 else f"sku-{item}"  # a quoted field with a comma
                lines.append(f"{user},order,{at},{randrange(1000, 99999) / 100},{cat},{sku},{SOURCES[i % 4]}\n")
            else:
                lines.append(f"{user},visit,{at},,{cat},,{SOURCES[i % 4]}\n")
            if len(lines) >= 100_000:
                fh.writelines(lines)
                lines.clear()
        fh.writelines(lines)


def tree_rss_mb(root: int, cpu: dict[int, float] | None = None) -> float:
    """Resident memory of a process and all its descendants (the import's reader process counts too).
    When *cpu* is given, also record each process's CPU seconds so far (user + system) in it, by pid."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total_kb = 0
    for pid in tree:
        if cpu is not None:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        # Proportional set size: pages the reader process shares with its parent (fork) count once, not twice.
        for name, field in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
            try:
                lines = Path(name).read_text().splitlines()
            except OSError:
                continue
            total_kb += next((int(line.split()[1]) for line in lines if line.startswith(field)), 0)
            break
    return total_kb / 1024


def timed(argv: list[str], env: dict[str, str], report: dict | None = None) -> tuple[float, float, list[float]]:
    """Run a command; return (seconds, peak resident MB of it and its children together, CPU seconds of each
    process: the command first, then its reader process), sampled 10×/s (a sample's last 0.1 s is missed)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    cpu: dict[int, float] = {}
    sample = Path("/proc").exists()
    while proc.poll() is None:
        if sample:
            peak = max(peak, tree_rss_mb(proc.pid, cpu))
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(out + err)
        raise SystemExit(f"failed: {' '.join(argv)}")
    if report is not None and out.strip().startswith("{"):
        report.update(json.loads(out))  # the import's --json result (swap_seconds: the write lock's hold)
    if not sample:  # no /proc: the kernel's maximum for the largest single child process
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    main = cpu.pop(proc.pid, float("nan"))
    return seconds, peak, [main, *(seconds for _, seconds in sorted(cpu.items()) if seconds >= 0.05)]


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far, and of theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sqlite_import(db: Path, csv_path: Path, table: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the sqlite3 shell's `.import` of the file into a bare table."""
    sqlite = shutil.which("sqlite3")
    if not sqlite:
        return float("nan"), float("nan")
    script = f".mode csv\n.import '{csv_path}' {table}\n"
    t0, cpu0 = time.perf_counter(), children_cpu()
    subprocess.run([sqlite, str(db)], input=script, text=True, check=True, capture_output=True)
    return time.perf_counter() - t0, children_cpu() - cpu0


def copy_db(source: Path, target: Path) -> None:
    """A copy of a database (its WAL folded in), to import the same events into the same users twice."""
    import sqlite3

    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def measure(kind: str, label: str, path: Path, count: int, work: Path, env: dict[str, str]) -> dict:
    """Import *path* with winback, then load it with `.import`: both figures."""
    report: dict = {}
    cpu0 = children_cpu()
    seconds, peak, cpu = timed([str(Path(sys.executable).with_name("winback")), "import", kind, str(path), "--json"],
                               env, report)
    ours_cpu = children_cpu() - cpu0
    base_db = work / f"baseline-{kind}.db"
    base_db.unlink(missing_ok=True)
    base_wall, base_cpu = sqlite_import(base_db, path, kind)
    base_db.unlink(missing_ok=True)
    return {"kind": kind, "label": label, "count": count, "seconds": seconds, "peak": peak, "cpu": ours_cpu,
            "processes": cpu, "base_wall": base_wall, "base_cpu": base_cpu, "swap": report.get("swap_seconds"),
            "inserted": report.get("inserted")}


BARS = {"users": (50_000, 5.0), "events": (200_000, 3.0)}  # rows/s (issue #2), CPU ratio to .import (issue #17)


def run(args) -> int:
    work = Path(args.dir or tempfile.mkdtemp(prefix="winback-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    shapes = ("uniform", "skewed") if args.shape == "both" else (args.shape,)
    shapes = shapes if args.events > 0 else ()  # --events 0: the users import alone
    users_csv = work / "users.csv"
    events_csv = {shape: work / f"events-{shape}.csv" for shape in shapes}
    t0 = time.perf_counter()
    write_users(users_csv, args.users, rng)
    for shape, path in events_csv.items():
        write_events(path, args.events, args.users, rng, skewed=shape == "skewed")
    size = sum(p.stat().st_size for p in (users_csv, *events_csv.values()))
    print(f"generated {args.users:,} users and {args.events:,} events ({', '.join(shapes)}) in "
          f"{time.perf_counter() - t0:.1f}s ({size / 1e6:,.0f} MB) in {work}")

    winback = Path(sys.executable).with_name("winback")
    db = work / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "WINBACK_DB": str(db), "WINBACK_OPERATOR": "bench"}
    env.pop("WINBACK_CONFIG", None)
    subprocess.run([str(winback), "init"], env=env, cwd=work, capture_output=True)

    results = [measure("users", "users", users_csv, args.users, work, env)]
    with_users = work / "bench-users.db"
    copy_db(db, with_users)
    again = None
    for shape, path in events_csv.items():
        copy_db(with_users, db)
        results.append(measure("events", f"events {shape}", path, args.events, work, env))
        if again is None and args.events <= 2_000_000:  # at full scale this only repeats the dedup path
            again = measure("events", f"events {shape}, again", path, args.events, work, env)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{with_users}{suffix}").unlink(missing_ok=True)

    print()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end (other work slows wall times)")
    print(f"{'import':<22} {'rows':>11} {'wall s':>7} {'rows/s':>9} {'CPU-s/M':>8} {'.import':>8} {'ratio':>6} "
          f"{'peak MB':>8} {'lock s':>7}  bars")
    for r in [*results, *([again] if again else [])]:
        per_m = 1e6 / r["count"]
        rate, ratio = r["count"] / r["seconds"], r["cpu"] / r["base_cpu"]
        min_rate, max_ratio = BARS[r["kind"]]
        lock = r["swap"] if r["swap"] is not None else float("nan")
        verdicts = [f"≥{min_rate:,}/s {'ok' if rate >= min_rate else 'MISSED'}",
                    f"≤{max_ratio:.0f}x {'ok' if ratio <= max_ratio else 'MISSED'}",
                    f"<300 MB {'ok' if r['peak'] < 300 else 'MISSED'}"]
        print(f"{r['label']:<22} {r['count']:>11,} {r['seconds']:>7.1f} {rate:>9,.0f} {r['cpu'] * per_m:>8.2f} "
              f"{r['base_cpu'] * per_m:>8.2f} {ratio:>5.1f}x {r['peak']:>8,.0f} {lock:>7.2f}  {'; '.join(verdicts)}")
    print("CPU-s/M: CPU seconds per million rows, the import and its reader process together (.import: the "
          "sqlite3 shell's);\nratio: ours / .import's CPU time on the same file; lock s: how long the swap held "
          "the main database's write lock")
    print("per process (CPU-s per million rows, sampled: misses each process's last 0.1 s):")
    for r in results:
        names = ["writer", *(["reader"] * (len(r["processes"]) - 1))]
        parts = ", ".join(f"{name} {value * 1e6 / r['count']:.2f}"
                          for name, value in zip(names, r["processes"], strict=True))
        print(f"  {r['label']:<16} {parts}; lock held {r['swap'] or 0:.2f}s of {r['seconds']:.1f}s "
              f"({(r['swap'] or 0) / r['seconds']:.0%})")
    if not args.keep and args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0
