"""Issue 17: an events import's reader hashes and stages the checked events itself (console.importing.event_side).

For a large file the reader process used to pickle every checked batch's columns to the writer, which hashed and
appended them; now only counts, invalid records, the position and (while the file is small) the fingerprints that
number identical lines cross the pipe. All or nothing, --skip-invalid and the side file's failures are kept.
"""

from __future__ import annotations

import json
import pickle
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


@pytest.mark.parametrize("count_until", [0, 1 << 30])
def test_the_reader_process_stages_each_batch_before_the_writer_hears_of_it(db, tmp_path, people, count_until):
    """Through a real reader process: each batch the writer receives is already in the side file (the pause point
    `load` means rows staged), and what crosses the pipe holds no event — only, while the file is small, 8 bytes
    of fingerprint per event to number identical lines."""
    from console.importing import pipeline
    from console.importing.event_checks import Spec, checked_batches
    from console.importing.event_stage import EventStage

    path = write(tmp_path / "events.csv", [HEADER, *LINES])
    db_path = db.execute("PRAGMA database_list").fetchone()[2]
    stage = EventStage(db.conn, db_path, count_until)
    try:
        spec = Spec(path=path, encoding="utf-8", format="csv", mapping={}, fixed_kind=None,
                    timezone="Asia/Shanghai", db_path=db_path, batch=200, side=stage.side_spec)
        assert stage.side is not None
        staged = 0
        for item in pipeline.checked_batches(checked_batches, spec, size=1 << 40):  # a "large" file: the child
            staged += item.valid
            assert item.staged and item.valid == 200
            # At least this batch is staged (the reader, not held back by the pipe, may be further on).
            assert stage.side.execute("SELECT count(*) FROM staged").fetchone()[0] >= staged
            sent = len(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
            assert sent < 400 + (8 * 200 if count_until else 0), sent
            assert (item.countable is None) == (not count_until)
            stage.note(item.valid, item.countable)
        assert staged == len(LINES) == stage.side.execute("SELECT count(*) FROM staged").fetchone()[0]
    finally:
        stage.discard()


def test_skip_invalid_in_the_reader_process_stages_the_valid_rows_of_every_batch(cli, db, tmp_path, people,
                                                                                  monkeypatch):
    from console.importing import events as module
    from console.importing import pipeline

    monkeypatch.setattr(pipeline, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(module, "BATCH", 50)
    lines = [*LINES[:100], "ghost,visit,2026-11-25,,,,,,", *LINES[100:], "u1,visit,never,,,,,,"]
    path = write(tmp_path / "events.csv", [HEADER, *lines])
    result = cli("import", "events", str(path), "--skip-invalid", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["inserted"], out["invalid"]) == (len(LINES), 2)
    assert len((tmp_path / "events.csv.rejects.csv").read_text(encoding="utf-8").splitlines()) == 3
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == len(LINES)


def test_a_side_file_that_cannot_be_written_is_said_in_words_and_changes_nothing(cli, db, tmp_path, people,
                                                                               monkeypatch):
    # The reader appends the checked events to the side file itself; when SQLite refuses (a full disk, here a
    # table that is not there), the import stops with words naming the side file (exit 1), not a traceback.
    from console.importing import event_side

    monkeypatch.setattr(event_side, "_STAGE", "INSERT INTO nowhere VALUES ")
    monkeypatch.setattr(event_side, "_STAGE_MANY", "INSERT INTO nowhere VALUES (?)")
    before = state(db)
    result = cli("import", "events", str(write(tmp_path / "events.csv", [HEADER, *LINES[:5]])))
    assert result.exit_code == 1 and "could not stage the checked events in" in said(result)
    assert "no such table: nowhere" in said(result) and "Traceback" not in result.output
    assert state(db) == before and not list(tmp_path.glob("*.staging-*"))


@pytest.mark.slow
def test_an_import_killed_while_its_reader_process_stages_changes_nothing_and_the_next_succeeds(cli, db, tmp_path,
                                                                                              people):
    """A real `winback import events` of a file past pipeline.PIPELINE_MIN_BYTES (checked and staged by the reader
    process), SIGKILLed at the pause point `load` (a batch staged): the database is unchanged, and the next import
    removes the side file left behind and stores every event."""
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
