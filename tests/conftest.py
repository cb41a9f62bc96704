"""Shared fixtures: a fresh workspace in a temporary folder, a CLI runner bound to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """An empty, migrated workspace with default settings, its files under tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    ws = Workspace.load(db=tmp_path / "winback.db")
    ws.open().close()
    return ws


@pytest.fixture
def db(workspace: Workspace):
    conn = workspace.open()
    yield conn
    conn.close()


class Cli:
    """Runs `winback ...` in-process through typer's CliRunner against one database."""

    def __init__(self, db_path: Path) -> None:
        from console.cli import app

        self.app = app
        self.db_path = db_path
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):
        return self.runner.invoke(
            self.app, ["--db", str(self.db_path), *args], input=input, env=env, catch_exceptions=False
        )


@pytest.fixture
def cli(workspace: Workspace) -> Cli:
    return Cli(workspace.db_path)


# A weekday mid-morning in Shanghai, inside the default sending window (quiet hours 21:00–08:00): the business
# clock every test sees unless it sets its own. Nothing in the suite may depend on the machine's hour or date.
FROZEN_NOW = "2026-11-25T10:00:00+08:00"


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Freeze winback's business clock (console/clock.py) for every test, including the subprocesses it starts
    (they inherit WINBACK_NOW). Tests about time set their own with monkeypatch.setenv("WINBACK_NOW", ...), which
    replaces this one; a developer's own WINBACK_NOW never leaks in. Elapsed-time measurements (timeouts, pacing,
    busy retries) stay on the machine's clock and are not affected."""
    monkeypatch.setenv("WINBACK_NOW", FROZEN_NOW)
