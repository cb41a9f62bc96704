"""Shared fixtures: a fresh workspace in a temporary folder, a CLI runner bound to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from console.workspace import Workspace

_build_command = typer.testing._get_command
_built: dict[int, tuple[object, object]] = {}


def _command_built_once(app):  # type: ignore[no-untyped-def]
    """typer's CliRunner builds the click command tree of the whole app on every invoke — ~70 ms for winback's 86
    commands, paid by thousands of CLI calls in the suite. The tree holds no state between invocations (click
    makes a new Context each time), so each app's is built once."""
    known = _built.get(id(app))
    if known is None or known[0] is not app:
        known = _built[id(app)] = (app, _build_command(app))
    return known[1]


typer.testing._get_command = _command_built_once  # type: ignore[assignment]


@pytest.fixture(scope="session")
def _migrated_empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database with every migration applied, built once per session: migrating a new file (~20 steps)
    took 50-80 ms, paid by most of the suite's tests. The migrations write no rows but their own log, so every
    test's copy is the database it would have built itself. Closed, so its WAL is checkpointed into the file."""
    path = tmp_path_factory.mktemp("migrated") / "winback.db"
    Workspace(db_path=path).open().close()
    return path


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _migrated_empty_database: Path) -> Workspace:
    """An empty, migrated workspace with default settings, its files under tmp_path (a private copy of the
    session's migrated database: same schema, same 0600 mode)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    shutil.copy(_migrated_empty_database, tmp_path / "winback.db")
    ws = Workspace.load(db=tmp_path / "winback.db")
    ws.open().close()   # as before: the workspace's own open (schema check, nothing left to migrate)
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
