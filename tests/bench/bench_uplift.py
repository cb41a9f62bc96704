"""Uplift at scale: fit (cross-fitted T-learner, Qini with bootstrap intervals) and score 1,000,000 past recipients.

A fresh workspace gets a simulated past campaign (tests/uplift_sim.py: 30 % holdout, a 25 pp effect for users with
≥ 3 orders and a recent visit), then `winback uplift fit --json` runs in a subprocess, as an operator would run it:
wall seconds and the subprocess's peak memory (ru_maxrss). It scores every profiled user (here the same million).
Baseline in the same run: reading the training set alone (console.uplift.data.load: the features and the
"returned" label of every recipient), in this process.

    python tests/bench/bench.py uplift --users 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", type=Path, default=None, help="build the workspace in this folder and keep it")


def run(args: argparse.Namespace) -> int:
    from console.clock import now_ts
    from console.uplift import data
    from console.workspace import Workspace
    from tests.uplift_sim import simulate_campaign

    os.environ.setdefault("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="winback-bench-uplift-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "winback.db"
    ws = Workspace.load(db=db_path)
    db = ws.open()
    started = time.perf_counter()
    sim = simulate_campaign(db, users=args.users, effect=0.25, now=now_ts(), seed=args.seed)
    print(f"simulated            {args.users:>12,} recipients ({int(sim.treated.sum()):,} treated) "
          f"in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    sources, skipped = data.eligible_runs(db, campaigns=None, window_days=None, now=now_ts())
    training = data.load(db, sources, skipped)
    load_s = time.perf_counter() - started
    print(f"baseline: read the training set   {load_s:8.2f} s ({len(training.columns or []):,} rows)")
    db.close()
    del training
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "winback"), "--db", str(db_path), "uplift", "fit", "--json"],
                          capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        return 1
    report = json.loads(proc.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"uplift fit + score   {wall:8.2f} s wall, {cpu:.1f} CPU-s, peak {after.ru_maxrss / 1024:,.0f} MB "
          f"({wall / load_s:.1f}× reading the training set)")
    print(f"  treated {report['treated']:,} control {report['control']:,}; Qini {report['qini']:.3f} "
          f"[{report['qini_low']:.3f}, {report['qini_high']:.3f}]; scored {report['scored']:,}; "
          f"verdict: {report['verdict']}")
    print(f"  load average {os.getloadavg()[0]:.2f}" + (f"; workspace kept in {folder}" if args.keep else ""))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0
