"""Issue 17.1: staged imports — the database stays free while a file is read and checked; all or nothing kept.

Each import that is paused or killed here is a real `winback import` process. It is stopped at an exact point with
the test-only hook WINBACK_TEST_PAUSE_AT (console/importing/staging.pause_point): the importer writes the marker file
and waits for "<marker>.go". Nothing is timed: the test waits for the marker (the deadline is only against a hang).
The commands run beside it, and the imports that are not stopped, run in this process on their own connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.campaigns import model
from tests.campaign_support import SMS_TEMPLATE, add_template, load_workspace, write_config
from tests.conftest import FROZEN_NOW

pytestmark = pytest.mark.slow

WINBACK = Path(sys.executable).parent / "winback"
USERS = 300
NAMES = "王李张刘陈杨黄赵吴周"


def run(ws_dir: Path, *args: str, env: dict[str, str] | None = None, db: Path | None = None
        ) -> subprocess.CompletedProcess:
    """`winback ARGS` on the workspace, in this process (typer's CliRunner, `env` set for the call): the commands
    run beside an import — the launch and cap change, the next import, the reference import — need a connection
    of their own, not a process (a `winback` process start cost ~1 s; the imports under test stay processes)."""
    from console.cli import app

    with contextlib.chdir(ws_dir):
        result = CliRunner().invoke(app, ["--config", str(ws_dir / "winback.toml"), "--db",
                                          str(db or ws_dir / "winback.db"), *args], env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def start(ws_dir: Path, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(WINBACK), "--config", str(ws_dir / "winback.toml"), "--db",
                             str(ws_dir / "winback.db"), *args],
                            cwd=ws_dir, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(condition, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120  # only against a hang; nothing is timed
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the import ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def snapshot(db_path: Path) -> dict[str, object]:
    """Every table's row count and a checksum of its rows, and the schema (indexes included)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        shot: dict[str, object] = {"schema": conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"
                                                          ).fetchall()}
        for table in tables:
            rows = sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"')))  # some tables have no rowid
            shot[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return shot
    finally:
        conn.close()


def write_lock_free(db_path: Path) -> bool:
    probe = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return False
    finally:
        probe.close()


def events_file(path: Path, n: int) -> Path:
    """n events over the workspace's users, Chinese text, quoted cells, and identical lines (every 7th line
    repeats the one before: two identical purchases are two events)."""
    lines = ["user_id,kind,at,amount,category,note"]
    for i in range(n):
        if i % 7 == 6:
            lines.append(lines[-1])
            continue
        day, second = 1 + i % 28, i % 86_400
        lines.append(f"u{1 + i * 7919 % USERS},{'order' if i % 5 == 0 else 'visit'},"
                     f"2026-10-{day:02d} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d},"
                     f"{'' if i % 5 else f'{i % 997}.5'},{NAMES[i % 10]}类,\"备注, {i % 13}\"")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def users_file(path: Path, start: int = 1, n: int = USERS) -> Path:
    lines = ["external_id,name,phone,consent_sms"]
    lines += [f"u{i},{NAMES[i % 10]}{i},+86138{i:08d},yes" for i in range(start, start + n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def _prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with users, a few events already stored (some of them lines of the big file), a template and a
    campaign: built once for this module by two `winback import` runs, copied by ws_dir."""
    folder = tmp_path_factory.mktemp("staged-workspace")
    with pytest.MonkeyPatch.context() as mp:   # the autouse fixtures are per test: set what they would
        mp.chdir(folder)
        for name in ("WINBACK_DB", "WINBACK_CONFIG", "WINBACK_TEST_PAUSE_AT"):
            mp.delenv(name, raising=False)
        mp.setenv("WINBACK_OPERATOR", "tester")
        mp.setenv("WINBACK_NOW", FROZEN_NOW)
        ws = load_workspace(write_config(folder / "winback.toml", {"sms": {"transport": "dryrun", "price": 0.04}}))
        ws.open().close()
        result = run(folder, "import", "users", str(users_file(folder / "users.csv")))
        assert result.returncode == 0, result.stderr
        first = folder / "first.csv"
        first.write_text("\n".join(events_file(folder / "tmp.csv", 40).read_text(encoding="utf-8").splitlines()[:31])
                         + "\n", encoding="utf-8")
        result = run(folder, "import", "events", str(first))
        assert result.returncode == 0, result.stderr
        db = ws.open()
        try:
            add_template(db, ws.config, SMS_TEMPLATE)
            model.create(db, "spring", segment="all", channel="sms", template="miss-you", holdout=0)
        finally:
            db.close()   # the last connection: the WAL is checkpointed into winback.db
    return folder


@pytest.fixture
def ws_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _prepared_dir: Path) -> Path:
    """A private copy of the module's prepared workspace (database, config and the files it imported)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.delenv("WINBACK_TEST_PAUSE_AT", raising=False)
    for path in _prepared_dir.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def paused(point: str, marker: Path) -> dict[str, str]:
    return {"WINBACK_TEST_PAUSE_AT": point, "WINBACK_TEST_PAUSE_FILE": str(marker)}


def side_files(ws_dir: Path) -> list[Path]:
    return sorted(ws_dir.glob("winback.db.staging-*"))


def test_a_launch_and_a_cap_change_go_through_while_a_large_import_stages(ws_dir, tmp_path):
    big = events_file(tmp_path / "big.csv", 250_000)  # past BULK_MIN_ROWS: staged rows are sorted before the swap
    alone = tmp_path / "alone.db"
    source = sqlite3.connect(ws_dir / "winback.db")
    with sqlite3.connect(alone) as copy:
        source.backup(copy)
    source.close()

    marker = tmp_path / "paused"
    proc = start(ws_dir, "import", "events", str(big), "--json", env=paused("load", marker))
    try:
        wait_for(marker.exists, "the import staging rows", proc)
        assert side_files(ws_dir) and write_lock_free(ws_dir / "winback.db")
        # Writers give up after SQLite's busy timeout here: a lock held by the import would fail them.
        impatient = {"WINBACK_WRITE_WAIT": "0"}
        launch = run(ws_dir, "campaign", "launch", "spring", env=impatient)
        assert launch.returncode == 0, launch.stderr
        cap = run(ws_dir, "caps", "set", "sms", "2/7d", env=impatient)
        assert cap.returncode == 0, cap.stderr
        for output in (launch, cap):
            assert "locked" not in output.stdout + output.stderr and "busy" not in output.stdout + output.stderr
        Path(f"{marker}.go").touch()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    together = json.loads(out)
    assert not side_files(ws_dir)

    by_itself = run(ws_dir, "import", "events", str(big), "--json", db=alone)
    assert by_itself.returncode == 0, by_itself.stderr
    alone_result = json.loads(by_itself.stdout)
    for key in ("rows", "valid", "inserted", "unchanged"):
        assert together[key] == alone_result[key], key
    assert together["inserted"] == 250_000 - 30  # the 30 events stored before are not added again
    query = "SELECT * FROM events ORDER BY id"
    with sqlite3.connect(ws_dir / "winback.db") as a, sqlite3.connect(alone) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        assert a.execute("SELECT count(*) FROM sends").fetchone()[0] == USERS  # the dry run planned everyone
        assert a.execute("SELECT max_count FROM caps WHERE channel = 'sms'").fetchone() is not None


@pytest.mark.parametrize("kind", ["events", "users"])
@pytest.mark.parametrize("point", ["validate", "load", "swap"])
def test_an_import_killed_at_any_point_changes_nothing_and_the_next_one_succeeds(ws_dir, tmp_path, kind, point):
    path = (events_file(tmp_path / "more.csv", 3_000) if kind == "events"
            else users_file(tmp_path / "more-users.csv", start=USERS - 49, n=500))  # 50 known, 450 new
    before = snapshot(ws_dir / "winback.db")
    marker = tmp_path / "paused"
    proc = start(ws_dir, "import", kind, str(path), env=paused(point, marker))
    try:
        wait_for(marker.exists, f"the import reaching {point}", proc)
        # Only the swap holds the database's write lock.
        assert write_lock_free(ws_dir / "winback.db") is (point != "swap")
        assert side_files(ws_dir)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(ws_dir / "winback.db") == before
    stale = side_files(ws_dir)
    assert stale  # left behind by the killed process …

    again = run(ws_dir, "import", kind, str(path), "--json")
    assert again.returncode == 0, again.stderr
    assert not side_files(ws_dir)  # … and removed by the next import
    result = json.loads(again.stdout)
    if kind == "events":
        assert result["inserted"] == 3_000 - 30
    else:
        assert (result["inserted"], result["unchanged"]) == (450, 50)
    assert snapshot(ws_dir / "winback.db") != before


def test_a_refused_file_leaves_no_side_file(ws_dir, tmp_path):
    path = events_file(tmp_path / "bad.csv", 100)
    path.write_text(path.read_text(encoding="utf-8") + "ghost,visit,2026-10-01,,,\n", encoding="utf-8")
    before = snapshot(ws_dir / "winback.db")
    result = run(ws_dir, "import", "events", str(path))
    assert result.returncode == 2 and "ghost" in result.stderr
    assert snapshot(ws_dir / "winback.db") == before
    assert not side_files(ws_dir)


def test_progress_names_both_phases_and_the_result_says_how_long_the_database_was_locked(workspace, tmp_path):
    """In process: the phase callback hears staging, then swapping in; nothing is locked while staging."""
    from console.importing import import_events, import_users
    from console.importing.staging import STAGING, SWAPPING

    db = workspace.open()
    try:
        seen: list[tuple[str, bool]] = []

        def phase(name: str) -> None:
            seen.append((name, write_lock_free(workspace.db_path)))

        users = import_users(db, users_file(tmp_path / "u.csv"), config=workspace.config, phase=phase)
        assert seen == [(STAGING, True), (SWAPPING, True)] and users.inserted == USERS
        seen.clear()
        result = import_events(db, events_file(tmp_path / "e.csv", 14), config=workspace.config, phase=phase)
        assert seen == [(STAGING, True), (SWAPPING, True)]
        assert result.inserted == 14 and result.swap_seconds >= 0 and "swap_seconds" in result.as_dict()
        seen.clear()
        dry = import_events(db, tmp_path / "e.csv", config=workspace.config, dry_run=True, phase=phase)
        assert dry.valid == 14 and seen == [(STAGING, True)]  # a dry run has nothing to swap
    finally:
        db.close()
    assert not side_files(tmp_path)


def test_a_side_file_nobody_holds_is_stale_even_if_its_pid_runs_again(workspace, cli, tmp_path):
    """A killed import's pid may be reused (a container restarted by cron): the flock decides, not the pid."""
    import fcntl

    stale = Path(f"{workspace.db_path}.staging-1.db")   # pid 1 always runs
    stale.write_bytes(b"left by a killed import")
    alive = Path(f"{workspace.db_path}.staging-999999.db")
    alive.write_bytes(b"another import, still running")
    held = os.open(alive, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = cli("import", "users", str(users_file(tmp_path / "u.csv", n=3)))
        assert result.exit_code == 0, result.output
        assert not stale.exists()
        assert alive.exists()  # held: an import in progress, left alone
    finally:
        os.close(held)


def _consents(db_path: Path, user: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT c.status, c.source FROM consents c JOIN users u ON u.id = c.user_id"
                            " WHERE u.external_id = ? AND c.channel = 'sms' ORDER BY c.at, c.id", [user]).fetchall()


@pytest.mark.parametrize("meanwhile", [True, False])
def test_consent_changes_worked_out_before_the_swap_give_way_to_an_opt_out_recorded_meanwhile(ws_dir, tmp_path,
                                                                                                 meanwhile):
    """A users import works out its consent changes before taking the write lock. An operator's withdrawal
    recorded after that (here: while the import waits at its 'prepared' point) must count as if it came first:
    u5's 'no' adds no second withdrawal, u6's 'yes' is held back over the opt-out, new users get their own rows."""
    path = tmp_path / "consents.csv"
    path.write_text("external_id,consent_sms\nu5,no\nu6,yes\nnew1,yes\nu7,no\nnew2,no\n", encoding="utf-8")
    marker = tmp_path / "paused"
    proc = start(ws_dir, "import", "users", str(path), "--json", env=paused("prepared", marker))
    try:
        wait_for(marker.exists, "the import's consent changes prepared", proc)
        assert write_lock_free(ws_dir / "winback.db")
        if meanwhile:
            for user in ("u5", "u6"):
                done = run(ws_dir, "consent", "withdraw", user, "--channel", "sms", env={"WINBACK_WRITE_WAIT": "0"})
                assert done.returncode == 0, done.stderr
        Path(f"{marker}.go").touch()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out)
    db = ws_dir / "winback.db"
    assert _consents(db, "new1") == [("granted", "import:consents.csv")]
    assert _consents(db, "new2") == [("withdrawn", "import:consents.csv")]
    assert _consents(db, "u7")[-1] == ("withdrawn", "import:consents.csv")
    if meanwhile:
        assert _consents(db, "u5")[-1] == ("withdrawn", "cli") and _consents(db, "u6")[-1] == ("withdrawn", "cli")
        assert (result["consents"], result["kept_withdrawn"]) == (3, 1)
    else:
        assert _consents(db, "u5")[-1] == ("withdrawn", "import:consents.csv")
        assert _consents(db, "u6")[-1] == ("granted", "import:users.csv")
        assert (result["consents"], result["kept_withdrawn"]) == (4, 0)
    with sqlite3.connect(db) as conn:  # every consent row points at a user of that id (ids were predicted)
        assert conn.execute("SELECT count(*) FROM consents WHERE user_id NOT IN (SELECT id FROM users)"
                            ).fetchone()[0] == 0
