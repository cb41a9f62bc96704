"""`winback program run-due` (cron): one program's failure — a bad setting or a bug — is reported in words and
the other running programs still advance; the run exits 1 and the failed program is left as it was."""

from __future__ import annotations

import json

import pytest

from tests.test_programs_ladder import DAY0, at_day, cli, db, ws  # noqa: F401 (fixtures)

PROGRAM = """\
name = "{name}"
entry = "all"
control = 0

[[steps]]
name = "nudge"
channel = "sms"
template = "miss-you"

[[steps]]
name = "again"
wait = "7d"
channel = "sms"
template = "miss-you"
"""


@pytest.fixture
def two_programs(ws, db, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.delenv("WINBACK_DEBUG", raising=False)
    for name in ("first", "second"):
        path = tmp_path / f"{name}.toml"
        path.write_text(PROGRAM.format(name=name), encoding="utf-8")
        assert cli(ws, "program", "add", str(path)).exit_code == 0
        started = cli(ws, "program", "start", name)
        assert started.exit_code == 0, started.output
    at_day(monkeypatch, 7)   # step "again" is due for everyone in both


def _break_first(monkeypatch, error: Exception) -> None:
    """The first thing a run writes (its exits) raises `error` for program "first" only."""
    from console.programs import runner

    real = runner._exits

    def exits(conn, program, now, report):
        if program.name == "first":
            raise error
        return real(conn, program, now, report)

    monkeypatch.setattr(runner, "_exits", exits)


def _first_as_before(db) -> None:  # noqa: F811
    """No step taken, no run audited, not marked run, its lock let go: as the start at day 0 left it."""
    at_day_0 = int(DAY0.timestamp())
    assert db.execute("SELECT COUNT(*) FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
                      "JOIN programs p ON p.id = e.program_id WHERE p.name = 'first' AND m.step = 1"
                      ).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'program.run' AND details LIKE '%\"first\"%'"
                      ).fetchone()[0] == 1   # the start's own run only
    assert db.execute("SELECT status, last_run_at FROM programs WHERE name = 'first'").fetchone()[:] \
        == ("running", at_day_0)
    assert db.execute("SELECT COUNT(*) FROM settings WHERE key LIKE '%lock%first%'").fetchone()[0] == 0   # let go


def _second_advanced(db) -> int:  # noqa: F811
    return db.execute("SELECT COUNT(*) FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
                      "JOIN programs p ON p.id = e.program_id WHERE p.name = 'second' AND m.step = 1"
                      ).fetchone()[0]


def test_program_run_due_goes_on_after_a_program_that_raises_a_config_error(ws, db, two_programs,  # noqa: F811
                                                                           monkeypatch):
    from console.config import ConfigError

    _break_first(monkeypatch, ConfigError("winback.toml line 3: [sms] price must be a number"))
    result = cli(ws, "program", "run-due")
    assert result.exit_code == 1, result.output
    assert "program first: winback.toml line 3: [sms] price must be a number" in result.output
    assert "Traceback" not in result.output
    assert _second_advanced(db) == 30
    _first_as_before(db)


def test_program_run_due_names_a_bug_and_under_winback_debug_prints_its_traceback(ws, db, two_programs,  # noqa: F811
                                                                                monkeypatch):
    _break_first(monkeypatch, KeyError("step"))
    result = cli(ws, "program", "run-due", "--json")
    assert result.exit_code == 1, result.output
    by_name = {r["program"]: r for r in json.loads(result.stdout)}
    assert by_name["first"] == {"program": "first", "outcome": "error",
                                "error": "unexpected error (a bug in winback): KeyError: 'step'"}
    assert by_name["second"]["outcome"] == "ran"
    _first_as_before(db)

    monkeypatch.setenv("WINBACK_DEBUG", "1")
    result = cli(ws, "campaign", "run-due")   # runs the programs too
    assert result.exit_code == 1, result.output
    assert "program first: unexpected error (a bug in winback): KeyError: 'step'" in result.output
    assert "Traceback (most recent call last)" in result.output and "in exits" in result.output
