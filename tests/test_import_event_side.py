"""Issue 17: an events import's side file (console.importing.event_stage), failures said in words, and a kill
while a large file's reader process runs.

For a file past pipeline.PIPELINE_MIN_BYTES a reader process reads and checks it while this process hashes the
checked batches and appends them to the side file. (Having the reader stage them itself, as the users import's
reader does, was measured and dropped: 3 % less CPU, 20 % more wall time — the two processes no longer overlap.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HEADER = "user_id,kind,at,amount,category,object,source,coupon_code,campaign"
LINES = [f"u{1 + i % 2},{'order' if i % 3 else 'visit'},2026-11-{1 + i % 28:02d} {i % 24:02d}:00:00,"
         f"{'' if i % 3 else i},类{i % 5},,app,,{'w' if i % 4 else ''}" for i in range(600)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def said(result) -> str:
    return " ".join(result.output.split())


def state(db) -> list:
    return [db.execute("SELECT * FROM events ORDER BY id").fetchall(),
            db.execute("SELECT count(*) FROM audit").fetchone()[0]]


@pytest.fixture
def people(cli, tmp_path):
    assert cli("import", "users", str(write(tmp_path / "users.csv", ["external_id", "u1", "u2"]))).exit_code == 0


def test_a_side_file_that_cannot_be_written_is_said_in_words_and_changes_nothing(cli, db, tmp_path, people,
                                                                               monkeypatch):
    # When SQLite refuses to append to the side file (a full disk; here a table that is not there), the import
    # stops with words naming the side file (exit 1), not a traceback.
    from console.importing import event_stage

    monkeypatch.setattr(event_stage, "_STAGE", "INSERT INTO nowhere VALUES ")
    monkeypatch.setattr(event_stage, "_STAGE_MANY", "INSERT INTO nowhere VALUES (?)")
    before = state(db)
    result = cli("import", "events", str(write(tmp_path / "events.csv", [HEADER, *LINES[:5]])))
    assert result.exit_code == 1 and "could not stage the checked events in" in said(result)
    assert "no such table: nowhere" in said(result) and "Traceback" not in result.output
    assert state(db) == before and not list(tmp_path.glob("*.staging-*"))


@pytest.mark.slow
def test_an_import_killed_while_its_reader_process_reads_changes_nothing_and_the_next_succeeds(cli, db, tmp_path,
                                                                                             people):
    """A real `winback import events` of a file past pipeline.PIPELINE_MIN_BYTES (checked by the reader process),
    SIGKILLed at the pause point `load` (a batch staged): the database is unchanged, and the next import removes
    the side file left behind and stores every event."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from console.importing import events as module
    from console.importing import pipeline

    rows = module.BATCH + 1_000  # two batches: the writer is killed once it has heard of the first
    note = "备注" * 400  # long rows keep the file past the reader-process size with few rows to import
    big = write(tmp_path / "big.csv", ["user_id,kind,at,note"] + [
        f"u{1 + i % 2},visit,2026-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i // 60 % 60:02d},"
        f"{note}" for i in range(rows)])
    assert big.stat().st_size >= pipeline.PIPELINE_MIN_BYTES
    before = state(db)
    marker = tmp_path / "paused"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "winback"), "--db", str(tmp_path / "winback.db"),
                             "import", "events", str(big)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "WINBACK_TEST_PAUSE_AT": "load", "WINBACK_TEST_PAUSE_FILE": str(marker)})
    try:
        deadline = time.monotonic() + 120  # only against a hang; nothing here is timed
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "never happened: the import staging its first batch"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert state(db) == before
    assert list(tmp_path.glob("winback.db.staging-*.db"))  # left by the killed import …
    again = cli("import", "events", str(big), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["inserted"] == rows
    assert not list(tmp_path.glob("winback.db.staging-*"))  # … and removed by the next
