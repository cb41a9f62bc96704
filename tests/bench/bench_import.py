"""Imports: generate N users and M events as CSV, run `winback import` on them, compare with sqlite3 .import.

    python tests/bench/bench.py import                      # 100,000 users, 1,000,000 events
    python tests/bench/bench.py import --users 1000000 --events 10000000

Each import runs as a subprocess of this venv's `winback` (exactly what an operator runs); peak memory is the
memory of the import and its reader process together (proportional set size, so pages they share count
once), sampled ten times a second. The baseline loads the same CSV files with the sqlite3 shell's `.import`
into a bare table (no validation, no indexes): our time is printed as a ratio of it. Bars (issue #2):
users ≥ 50,000 rows/s, events ≥ 200,000 rows/s, peak memory < 300 MB.
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
CATEGORIES = ["shoes", "bags", "beauty", "snacks", "books", "phones", "home", "kids"]
SOURCES = ["app", "web", "mini-program", "store"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
MOBILE_PREFIXES = ["138", "139", "135", "136", "150", "151", "186", "188", "177", "199", "131", "132", "155"]
DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "sina.com", "outlook.com"]
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
ZONES = ["Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Europe/London"]


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=100_000, help="users to generate (default 100,000)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7)
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
                f"u{i:07d},{name},{phone},{email},{rng.choice(['上海', '北京', '广东', '浙江'])},"
                f"{'f' if i % 2 else 'm'},{rng.choice(['18-24', '25-34', '35-44', '45+'])},{rng.choice(ZONES)},"
                f"{signup},{'yes' if i % 5 else 'no'},{'1' if i % 3 else '0'},{i % 4}\n"
            )


def write_events(path: Path, m: int, n_users: int, rng: random.Random) -> None:
    """Events in time order (as exports are), users at random: the realistic, index-unfriendly shape."""
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
            user = f"u{randrange(n_users):07d}"
            cat = CATEGORIES[i % 8]
            if rand() < 0.2:
                lines.append(f"{user},order,{at},{randrange(1000, 99999) / 100},{cat},sku-{i % 5000},{SOURCES[i % 4]}\n")
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


def sqlite_import(db: Path, csv_path: Path, table: str) -> float:
    sqlite = shutil.which("sqlite3")
    if not sqlite:
        return float("nan")
    script = f".mode csv\n.import '{csv_path}' {table}\n"
    t0 = time.perf_counter()
    subprocess.run([sqlite, str(db)], input=script, text=True, check=True, capture_output=True)
    return time.perf_counter() - t0


def run(args) -> int:
    work = Path(args.dir or tempfile.mkdtemp(prefix="winback-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    users_csv, events_csv = work / "users.csv", work / "events.csv"
    t0 = time.perf_counter()
    write_users(users_csv, args.users, rng)
    write_events(events_csv, args.events, args.users, rng)
    print(f"generated {args.users:,} users and {args.events:,} events in {time.perf_counter() - t0:.1f}s "
          f"({(users_csv.stat().st_size + events_csv.stat().st_size) / 1e6:,.0f} MB) in {work}")

    winback = Path(sys.executable).with_name("winback")
    db = work / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "WINBACK_DB": str(db), "WINBACK_OPERATOR": "bench"}
    env.pop("WINBACK_CONFIG", None)
    subprocess.run([str(winback), "init"], env=env, cwd=work, capture_output=True)

    results = []
    for kind, path, count, bar in (("users", users_csv, args.users, 50_000),
                                   ("events", events_csv, args.events, 200_000)):
        report: dict = {}
        seconds, peak, cpu = timed([str(winback), "import", kind, str(path), "--json"], env, report)
        base_db = work / f"baseline-{kind}.db"
        base_db.unlink(missing_ok=True)
        base = sqlite_import(base_db, path, kind)
        base_db.unlink(missing_ok=True)
        rate = count / seconds
        results.append((kind, count, seconds, rate, peak, base, bar, cpu, report.get("swap_seconds")))

    again = None
    again_report: dict = {}
    if args.events <= 2_000_000:  # at full scale this only repeats the dedup path for minutes
        again, _, _ = timed([str(winback), "import", "events", str(events_csv), "--json"], env, again_report)

    print()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end (other work slows every figure)")
    print(f"{'import':<8} {'rows':>12} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'.import s':>9} "
          f"{'ratio':>6}  bar")
    for kind, count, seconds, rate, peak, base, bar, *_ in results:
        verdict = "ok" if rate >= bar and peak < 300 else "MISSED"
        print(f"{kind:<8} {count:>12,} {seconds:>8.1f} {rate:>10,.0f} {peak:>8,.0f} {base:>9.1f} "
              f"{seconds / base:>5.1f}x  ≥{bar:,}/s <300 MB: {verdict}")
    print("CPU seconds per million rows (a figure less disturbed by other work than wall time):")
    for kind, count, seconds, *_, cpu, _ in results:
        names = ["writer", *(["reader"] * (len(cpu) - 1))]
        parts = ", ".join(f"{name} {value * 1e6 / count:.2f}" for name, value in zip(names, cpu, strict=True))
        print(f"  {kind:<8} {parts}; wall {seconds * 1e6 / count:.2f}")
    print("write lock held (the staged import's swap; other writers wait only for this):")
    for kind, _, seconds, *_, swap in results:
        if swap is not None:
            print(f"  {kind:<8} {swap:.2f}s of {seconds:.1f}s ({swap / seconds:.0%})")
    if again is not None:
        print(f"re-import of the events file (all duplicates): {again:.1f}s, {args.events / again:,.0f} rows/s"
              f"; write lock held {again_report.get('swap_seconds', float('nan')):.2f}s")
    if not args.keep and args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0
