"""One runner per program, also within one process (the console runs programs from thread workers, and a
`program run-due` may run in the console's process).

The runner's lock said `host:pid@time`: a second runner in the same process saw its own id in the lock and went
on, so two runners advanced and dispatched the same program side by side. Each runner now holds the lock under an
id of its own (`host:pid:token`, alive while registered in this process). Proven with a real HTTP gateway that
keeps the first runner's message on the wire; conditions are waited for, never time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import (
    SMS_TEMPLATE,
    add_template,
    add_users,
    load_workspace,
    wait_until,
    write_config,
)
from tests.servers import HttpGateway

DAY0 = datetime.fromisoformat("2026-11-25T10:00:00+08:00")
HANG = 300.0   # only stops a hung test; nothing asserts how long anything takes

PROGRAM = """\
name = "p"
entry = "all"
control = 0

[[steps]]
name = "nudge"
wait = "1d"
channel = "sms"
template = "miss-you"
"""


def _at_day(monkeypatch: pytest.MonkeyPatch, day: int) -> int:
    when = DAY0 + timedelta(days=day)
    monkeypatch.setenv("WINBACK_NOW", when.isoformat())
    return int(when.timestamp())




def _started_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, users: int):
    """A workspace with a real one-step program on an http sms channel, started on day 0 (nothing due yet)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WB_LOCK_TOKEN", "t")
    _at_day(monkeypatch, 0)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_LOCK_TOKEN", "price": 0.04, "concurrency": 1,
        "batch": 1, "timeout": HANG}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, users, consent=("sms",))
    add_template(db, ws.config, SMS_TEMPLATE)
    (tmp_path / "p.toml").write_text(PROGRAM, encoding="utf-8")
    base = ["--config", str(ws.config.path), "--db", str(ws.db_path)]
    for args in (["program", "add", str(tmp_path / "p.toml")], ["program", "start", "p", "--real", "--yes"]):
        result = CliRunner().invoke(app, [*base, *args])
        assert result.exit_code == 0, result.output
    return ws, db


def test_a_second_runner_in_the_same_process_is_refused_while_the_first_runs(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from console.programs import runner
    from console.programs.lock import BeingRun

    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=1) as gw:   # the 2nd message stays on the wire
        ws, db = _started_program(tmp_path, monkeypatch, gw.url, users=3)
        _at_day(monkeypatch, 1)
        outcome: dict[str, object] = {}

        def first() -> None:   # the console's worker advancing the program
            conn = ws.open()
            try:
                outcome["first"] = runner.run(conn, ws.config, "p")
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["first"] = exc
            finally:
                conn.close()

        worker = threading.Thread(target=first)
        worker.start()
        try:
            wait_until(lambda: len(gw.state.accepted) >= 2 or not worker.is_alive(), "the 2nd message on the wire")
            assert worker.is_alive(), f"the first runner did not get to its send: {outcome.get('first')!r}"
            try:   # a `program run-due` in the same process meanwhile
                outcome["second"] = runner.run(db, ws.config, "p")
            except Exception as exc:  # noqa: BLE001 - asserted below
                outcome["second"] = exc
            due = runner.run_due(db, ws.config)
        finally:
            gw.state.release.set()
            worker.join(HANG)

        assert not isinstance(outcome["first"], BaseException), outcome["first"]
        assert isinstance(outcome["second"], BeingRun), f"a second runner in the same process ran: {outcome}"
        assert "being run by another" in str(outcome["second"])
        assert [r["outcome"] for r in due] == ["skipped"]
        # the first one left: the program is free again, in this process as in any other
        assert db.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'program.runner.%'").fetchone()[0] == 0
        assert not isinstance(runner.run(db, ws.config, "p"), BaseException)
        assert db.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'program.runner.%'").fetchone()[0] == 0
    numbers = [r["to"] for r in gw.state.accepted]
    assert len(numbers) == 3 and len(set(numbers)) == 3, f"someone got two messages: {sorted(numbers)}"
    db.close()


@pytest.mark.parametrize("left_by", ["a runner of this process that is gone", "an earlier version (host:pid@time)"])
def test_a_lock_left_by_a_runner_of_this_process_that_is_gone_is_taken_over(tmp_path: Path, left_by: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner crashed without leaving (a thread killed with its process's state intact, or an earlier process
    that had our pid): its token is not registered here, so it is gone and the next run takes the program."""
    from console.programs import runner

    with HttpGateway(tmp_path / "gateway.jsonl") as gw:
        ws, db = _started_program(tmp_path, monkeypatch, gw.url, users=2)
        now = _at_day(monkeypatch, 1)
        me = f"{socket.gethostname()}:{os.getpid()}"
        stale = f"{me}:dfeedbeef01@{now}" if left_by.startswith("a runner") else f"{me}@{now}"
        program_id = db.execute("SELECT id FROM programs").fetchone()[0]
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [f"program.runner.{program_id}", stale])
        db.conn.commit()
        [result] = runner.run_due(db, ws.config)
        assert result["outcome"] != "skipped", result
        assert len(gw.state.accepted) == 2
        assert db.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'program.runner.%'").fetchone()[0] == 0
    db.close()


def test_leaving_deletes_only_the_runners_own_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner that was presumed gone and taken over must not, when it leaves at last, free the new runner's lock."""
    from console.campaigns import holders
    from console.programs import lock, store

    with HttpGateway(tmp_path / "gateway.jsonl") as gw:
        ws, db = _started_program(tmp_path, monkeypatch, gw.url, users=1)
        program = store.get(db, "p")
        old, new = holders.new_holder(), holders.new_holder()
        holders.hold(new)
        try:
            assert lock.take(db, program, old) is None        # old is not registered: anyone may take it over
            assert lock.take(db, program, new) is None
            assert lock.take(db, program, old) == new         # new is alive (registered): old is refused
            lock.leave(db, program, old)
            assert lock.take(db, program, holders.new_holder()) == new
            lock.leave(db, program, new)
        finally:
            holders.release(new)
        assert db.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'program.runner.%'").fetchone()[0] == 0
    db.close()


_OTHER_RUN_DUE = """
import sys
from console.programs import lock, store
from storage.db import connect
db = connect(sys.argv[1])
print("took" if lock.take(db, store.get(db, "p"), sys.argv[2]) is None else "refused")
"""


def _run_due_in_another_process(db_path: Path, env: dict[str, str]) -> bool:
    """A run-due's take of the program lock, made by another process (which does not know our runner's id, so only
    its time and pid speak for it) as a runner alive there (our parent's pid: it exists). True when it took it."""
    other = f"{socket.gethostname()}:{os.getppid()}:dother"
    done = subprocess.run([sys.executable, "-c", _OTHER_RUN_DUE, str(db_path), other], capture_output=True,
                          text=True, timeout=HANG, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "took"


@pytest.mark.parametrize("step", [200, 400])
def test_a_step_send_longer_than_the_stale_window_keeps_or_gives_up_the_program(tmp_path: Path, step: int,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock was renewed only before each step run's dispatch, so one long send (> HEARTBEAT_STALE: thousands of
    messages at a rate) made a live runner look abandoned: another process's run-due (cron) took the program over,
    and the first one, ignoring that its renewal failed, went on dispatching beside it. Now the runner renews the
    lock between batches (200 s between messages: another process never gets it) and, when a single batch outlasted
    the window and another runner took it (400 s), stops dispatching, says so, and leaves the lock to it."""
    from console.programs import runner

    with HttpGateway(tmp_path / "gateway.jsonl") as gw:
        ws, db = _started_program(tmp_path, monkeypatch, gw.url, users=3)
        now = _at_day(monkeypatch, 1)
        taken: list[bool] = []
        decide = gw.state.decide

        def provider(body, headers=None):
            # each message takes `step` seconds of the business clock; then a run-due in another process tries
            # The other process sees the later clock first: were ours moved before it ran, our runner's threads
            # (a next batch prepared meanwhile) could renew the lock at the new time and the take-over would not be
            # tested (it failed so about one run in six).
            nonlocal now
            now += step
            later = datetime.fromtimestamp(now, DAY0.tzinfo).isoformat()
            taken.append(_run_due_in_another_process(ws.db_path, {**os.environ, "WINBACK_NOW": later}))
            os.environ["WINBACK_NOW"] = later
            return decide(body, headers)

        gw.state.decide = provider
        report = runner.run(db, ws.config, "p")
        value = db.execute("SELECT value FROM settings WHERE key LIKE 'program.runner.%'").fetchone()
    if step == 200:
        assert taken == [False, False, False] and len(gw.state.accepted) == 3, taken
        assert value is None   # left by the runner, which held it throughout
    else:
        assert taken[0] is True   # the batch outlasted the window: the other process took the program over …
        assert len(gw.state.accepted) == 1, "the first runner went on dispatching beside the one that took over"
        assert any("taken over" in p for p in report.problems), report.problems
        assert value is not None and ":dother@" in value[0]   # … and keeps it
    db.close()
