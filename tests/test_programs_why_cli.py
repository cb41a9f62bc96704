"""`winback why USER --program NAME` (issue #14): where a person is in a program and why — the same words and JSON
as `winback program why NAME USER`, from the main `why` command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from console.cli import app
from console.programs import runner, store
from tests.tui_helpers import demo_workspace


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """The demo's ladder, started as a dry run and run once (so people are at its first step)."""
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T10:00:00+08:00")
    db = workspace.open()
    store.start(db, "ladder", real=False)
    runner.run(db, workspace.config, "ladder")
    db.close()
    return workspace


def cli(ws, *args: str):
    return CliRunner().invoke(app, ["--db", str(ws.db_path), *args])


def _entrant(ws) -> str:
    db = ws.open()
    try:
        return db.execute("SELECT u.external_id FROM program_entries e JOIN users u ON u.id = e.user_id "
                          "WHERE e.control = 0 AND e.state = 'active' ORDER BY e.id LIMIT 1").fetchone()[0]
    finally:
        db.close()


def test_why_with_program_tells_the_same_as_program_why(demo):
    user = _entrant(demo)
    r = cli(demo, "why", user, "--program", "ladder")
    assert r.exit_code == 0, r.output
    assert f"{user} in program ladder: entered" in r.output and "step nudge" in r.output
    assert "next: step offer" in r.output
    assert r.output == cli(demo, "program", "why", "ladder", user).output
    data = json.loads(cli(demo, "why", user, "--program", "ladder", "--json").stdout)
    assert data == json.loads(cli(demo, "program", "why", "ladder", user, "--json").stdout)
    assert data["entries"][0]["moves"][0]["step_name"] == "nudge"


def test_why_with_program_refuses_bad_input_with_exit_2(demo):
    user = _entrant(demo)
    r = cli(demo, "why", user, "--program", "no-such")
    assert r.exit_code == 2 and "no program named 'no-such'" in r.output and "Traceback" not in r.output
    r = cli(demo, "why", user, "--program", "ladder", "--campaign", "x")
    assert r.exit_code == 2 and "--program" in r.output and "--campaign" in r.output
