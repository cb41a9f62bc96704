"""A program run is several transactions (console/programs/runner.py): exits, opt-out exits, admission, one per
step, the run's record, then the dispatch of each step campaign's run. A SIGKILL at any boundary between them (or
inside a step's transaction) leaves a state the next run completes: nobody is sent a step twice, nobody skips a
step they were due, and the end is exactly what an uninterrupted run gives.

The run that is killed does everything at once: a user returns (exit), another opted out (opt-out exit), a new
cohort enters and takes step 1, and two older cohorts take steps 3 and 2 — three step campaigns to dispatch, for
real, on the csv transport (the file is the provider: every row written is a message handed over). A child process
runs `runner.run_due` and SIGKILLs itself at the boundary (deterministic: no timing); the parent then runs what
cron would run next — the same run-due again, then a week and two weeks later — and compares the ledger, the moves,
the entries and the csv file with those of a run never killed.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.programs import runner, spec, store
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.test_campaigns_crash import HANG

ROOT = Path(__file__).resolve().parent.parent
DAY0 = datetime.fromisoformat("2026-11-25T10:00:00+08:00")
KILLED_ON = 14          # the day of the run that is killed
AFTER = (14, 21, 28)    # then: the same run-due again (cron's next minute), a week later, two weeks later

PROGRAM = """\
name = "ladder"
entry = "all"
control = 20
exit_on = ["order"]

[[steps]]
name = "nudge"
channel = "sms"
template = "miss-you"

[[steps]]
name = "again"
wait = "7d"
channel = "sms"
template = "miss-you"

[[steps]]
name = "last"
wait = "7d"
channel = "sms"
template = "miss-you"
"""

# The child: run every running program once at KILLED_ON, and SIGKILL itself at BOUNDARY (argv[1]).
CHILD = """
import os, signal, sys
from console.programs import runner, steps
from console.workspace import Workspace

boundary, config, db_path = sys.argv[1], sys.argv[2], sys.argv[3]
calls = {"n": 0}

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def after(module, name, nth=1):
    original = getattr(module, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == nth:
            die()
        return result
    setattr(module, name, wrapped)

def before(module, name):
    def wrapped(*args, **kwargs):
        die()
    setattr(module, name, wrapped)

if boundary == "after-exits":
    after(runner, "_exits")
elif boundary == "after-opt-out-exits":
    after(runner, "exit_opted_out")
elif boundary == "after-admission":
    after(runner, "_admit")
elif boundary == "between-steps":
    after(runner, "take_step", 1)           # step 3 taken, steps 2 and 1 not
elif boundary == "after-all-steps":
    after(runner, "take_step", 3)           # before the run's record and the dispatch
elif boundary == "inside-a-step":
    after(steps, "_freeze", 2)              # step 2's ledger rows written, its moves not: not committed
elif boundary == "before-dispatch":
    before(runner, "_dispatch_open")
elif boundary == "between-dispatches":
    after(runner.Dispatcher, "run_to_end", 1)   # one step campaign's run sent and recorded, two not
elif boundary == "after-dispatch":
    after(runner, "_dispatch_open")         # before the budget check
else:
    raise SystemExit(f"unknown boundary {boundary}")
ws = Workspace.load(config=config, db=db_path)
runner.run_due(ws.open(), ws.config)
raise SystemExit("the boundary was never reached")
"""

BOUNDARIES = ["after-exits", "after-opt-out-exits", "after-admission", "between-steps", "after-all-steps",
              "inside-a-step", "before-dispatch", "between-dispatches", "after-dispatch"]


def _at(day: float) -> str:
    return (DAY0 + timedelta(days=day)).isoformat()


@pytest.fixture(scope="module")
def before_the_crash(tmp_path_factory) -> Path:
    """A real program two weeks in, just before its day-14 run: cohort A (day 0) due for step 3, cohort B (day 7)
    due for step 2, cohort C (new) to enter and take step 1; one of A ordered (returns), one of B opted out."""
    folder = tmp_path_factory.mktemp("program-crash")
    mp = pytest.MonkeyPatch()
    mp.setenv("WINBACK_OPERATOR", "cron")
    try:
        cfg = write_config(folder / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
        ws = load_workspace(cfg)
        db = ws.open()
        mp.setenv("WINBACK_NOW", _at(0))
        add_users(db, 12, consent=("sms",))
        add_template(db, ws.config, SMS_TEMPLATE)
        store.add(db, spec.parse(PROGRAM, "ladder.toml", db))
        db.execute("UPDATE programs SET salt = 'test-salt'")   # the same control group in every test run
        db.conn.commit()
        store.start(db, "ladder", real=True)
        runner.run(db, ws.config, "ladder")
        mp.setenv("WINBACK_NOW", _at(7))
        add_users(db, 10, consent=("sms",), start=13)
        runner.run_due(db, ws.config)
        add_users(db, 8, consent=("sms",), start=23)
        returned, opted_out = _entry_of(db, "u1"), _entry_of(db, "u14")
        assert returned["step"] == 2 and opted_out["step"] == 1
        db.execute("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (?, 'order', ?, 'crash-test-order')",
                   [returned["user_id"], int((DAY0 + timedelta(days=10)).timestamp())])
        db.conn.commit()
        from console.policy.suppression import add_suppression

        add_suppression(db, ws.config, user="u14", channel="all", reason="opt_out")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # everything in the main file: a plain copy is whole
        db.close()
    finally:
        mp.undo()
    return folder


def _entry_of(db, external_id: str) -> dict:
    return dict(next(iter(db.query(
        "SELECT e.* FROM program_entries e JOIN users u ON u.id = e.user_id WHERE u.external_id = ?",
        [external_id]))))


def _copy(source: Path, to: Path) -> Path:
    shutil.copytree(source, to)
    return to


def _run_after(folder: Path, monkeypatch) -> None:
    ws = load_workspace(folder / "winback.toml")
    db = ws.open()
    try:
        for day in AFTER:
            monkeypatch.setenv("WINBACK_NOW", _at(day))
            results = runner.run_due(db, ws.config)
            assert [r["outcome"] for r in results] == ["ran"], results
    finally:
        db.close()


def _state(folder: Path) -> dict[str, object]:
    """What a run leaves: every ledger row of the program (user, step, status), every move, every entry, the csv
    file's rows (user, step campaign) — what the provider was handed."""
    ws = load_workspace(folder / "winback.toml")
    db = ws.open()
    try:
        sends = Counter(db.execute(
            "SELECT s.user_id, c.program_step, s.status, s.arm, s.dry_run FROM sends s "
            "JOIN campaigns c ON c.id = s.campaign_id").fetchall())
        moves = Counter(db.execute(
            "SELECT e.user_id, m.step, m.outcome, m.reason, m.due_at FROM program_moves m "
            "JOIN program_entries e ON e.id = m.entry_id").fetchall())
        entries = sorted(db.execute("SELECT user_id, state, step, control, entered_at, left_reason "
                                    "FROM program_entries").fetchall())
        ids = dict(db.execute("SELECT id, external_id FROM users").fetchall())
    finally:
        db.close()
    handed: Counter = Counter()
    for path in (folder / "exports").glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as f:
            handed.update((int(r["user_id"]), r["campaign"]) for r in csv.DictReader(f))
    return {"sends": sends, "moves": moves, "entries": entries, "handed": handed, "ids": ids}


@pytest.fixture(scope="module")
def uninterrupted(before_the_crash, tmp_path_factory) -> dict[str, object]:
    """The same runs, never killed: the end every interrupted run must reach."""
    folder = _copy(before_the_crash, tmp_path_factory.mktemp("program-whole") / "ws")
    mp = pytest.MonkeyPatch()
    mp.setenv("WINBACK_OPERATOR", "cron")
    try:
        _run_after(folder, mp)
    finally:
        mp.undo()
    state = _state(folder)
    # the scenario is what it says: each cohort at its step, a return, an opt-out, everyone treated sent each
    # step they took once
    entries = {state["ids"][u]: (s, step) for u, s, step, *_ in state["entries"]}
    assert entries["u1"] == ("returned", 2) and entries["u14"] == ("opted_out", 1)
    assert entries["u2"] == ("finished", 3) and entries["u13"] == ("finished", 3) and entries["u30"] == ("finished", 3)
    assert max(state["handed"].values()) == 1 and sum(state["handed"].values()) > 40
    return state


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_run_killed_at_any_boundary_is_completed_by_the_next_runs(boundary, before_the_crash, uninterrupted,
                                                                    tmp_path, monkeypatch):
    folder = _copy(before_the_crash, tmp_path / "ws")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_")}
    env.update({"WINBACK_NOW": _at(KILLED_ON), "WINBACK_OPERATOR": "cron", "PYTHONPATH": str(ROOT)})
    child = subprocess.run([sys.executable, "-c", CHILD, boundary, str(folder / "winback.toml"),
                            str(folder / "winback.db")], cwd=folder, env=env, capture_output=True, text=True,
                           timeout=HANG)
    assert child.returncode == -signal.SIGKILL, child.stderr
    monkeypatch.setenv("WINBACK_OPERATOR", "cron")
    _run_after(folder, monkeypatch)
    state = _state(folder)
    # nobody was handed a step twice, and the ledger holds one row per user and step
    assert max(state["handed"].values()) == 1, boundary
    assert max(Counter((u, step) for u, step, *_ in state["sends"].elements()).values()) == 1
    # and the end is the uninterrupted one's: the same rows, moves (with their due times) and entries — nobody
    # skipped a step they were due, nobody left or stayed where they should not
    assert state["sends"] == uninterrupted["sends"]
    assert state["moves"] == uninterrupted["moves"]
    assert state["entries"] == uninterrupted["entries"]
    assert state["handed"] == uninterrupted["handed"]
