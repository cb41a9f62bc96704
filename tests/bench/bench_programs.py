"""Recall programs: one run-due moving N due users (of a program holding M) through a dry-run step.

    python tests/bench/bench.py programs --users 1000000 --due 100000

Baseline in the same run: a dry-run campaign launch of the same number of recipients (same channel, template,
holdout), in this process too. The program run includes everything a run-due does: exits (events scan), admission
(the entry rule over every user, minus those already in), the due step (freeze of a new run of the step campaign,
the program's moves and next steps) and the dispatch.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench_campaigns import TEMPLATE, _config, _populate

PROGRAM = ('name = "p"\nentry = "all"\ncontrol = 10\n\n[[steps]]\nname = "a"\nchannel = "sms"\ntemplate = "miss-you"\n'
           '\n[[steps]]\nname = "b"\nwait = "7d"\nchannel = "sms"\ntemplate = "miss-you"\n')


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=1_000_000, help="users in the program")
    parser.add_argument("--due", type=int, default=100_000, help="of them, due for a step at the run")
    parser.add_argument("--dir", type=Path, default=None, help="work folder, kept afterwards")


def run(args) -> int:
    os.environ.setdefault("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="winback-bench-programs-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"programs benchmark in {folder}")
    from console import segments, templates
    from console.campaigns import control, model
    from console.clock import now_ts
    from console.programs import runner, spec, store
    from console.workspace import Workspace

    cfg = _config(folder, '[channels.sms]\nquiet_hours = "off"\nprice = 0.04\n')
    ws = Workspace.load(config=cfg, db=folder / "winback.db")
    db = ws.open()
    _populate(db, args.users)
    templates.save(db, templates.parse_toml(TEMPLATE), ws.config)
    program = store.add(db, spec.parse(PROGRAM, "p.toml", db))
    store.start(db, "p", real=False)
    now = now_ts()
    # everyone entered a week ago and took step a; `due` of them are due for step b now, the rest tomorrow
    db.execute("BEGIN")
    db.execute("INSERT INTO program_entries (program_id, user_id, dry_run, entered_at, control, step, next_due_at) "
               "SELECT ?, id, 1, ? - 7 * 86400, id % 10 = 0, 1, CASE WHEN id <= ? THEN ? ELSE ? + 86400 END "
               "FROM users", [program.id, now, args.due, now, now])
    db.execute("COMMIT")
    started = time.monotonic()
    report = runner.run(db, ws.config, "p")
    seconds = time.monotonic() - started
    moved = sum(c["queued"] + c["holdout"] for c in report.steps.values())
    print(f"program run-due: {moved:,} due users moved (of {args.users:,} in the program) in {seconds:.1f}s, "
          f"would send {sum(d['sent'] for d in report.dispatch):,}")
    # what `program show` (and the console's program page, every 10 s while shown) costs at this size: the
    # funnel, the per-step returns treated vs control and the returned rate by days since entry
    from console.programs import funnel

    started = time.monotonic()
    shown = funnel.funnel(db, "p")
    print(f"  program show (funnel, returns per step, by days since entry over {shown['entered']:,} entries): "
          f"{time.monotonic() - started:.1f}s")
    db.execute("UPDATE users SET region = 'due' WHERE id <= ?", [args.due])
    db.conn.commit()
    segments.create(db, "due", "region = due")
    model.create(db, "c", segment="due", channel="sms", template="miss-you", holdout=10)
    started = time.monotonic()
    summary = control.launch(db, ws.config, "c", real=False, workers=1)
    baseline = time.monotonic() - started
    print(f"  baseline: dry-run campaign launch of {args.due:,} recipients ({summary.sent:,} would send) in "
          f"{baseline:.1f}s; ratio program/campaign = {seconds / baseline:.2f}x")
    if args.dir is None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return 0
