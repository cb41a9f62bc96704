"""Shared fixtures: a fresh workspace in a temporary folder, a CLI runner bound to it."""

from __future__ import annotations

import os
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


@pytest.fixture(autouse=True)
def _no_real_operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never inherit a developer's frozen clock by accident.
    if "WINBACK_NOW" in os.environ:
        monkeypatch.delenv("WINBACK_NOW")
