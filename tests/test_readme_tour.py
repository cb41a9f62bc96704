"""The README's scripted tour runs as written, in an empty folder (issue #12 point 11).

It used `users.csv` and `orders.csv` without saying where they come from; `winback demo --samples` writes them.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

README = Path(__file__).parent.parent / "README.md"


def tour_commands() -> list[list[str]]:
    """The `winback …` commands of the README's "A scripted tour" block, as argument lists."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## A scripted tour.*?```sh\n(.*?)```", text, re.S)
    assert block, "the README has no scripted tour"
    joined = block.group(1).replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                assert words[0] == "winback", line
                commands.append(words[1:])
    return commands


def test_the_readme_tour_runs_as_written_in_an_empty_folder(tmp_path, monkeypatch):
    from console.cli import app

    monkeypatch.chdir(tmp_path)
    for name in ("WINBACK_DB", "WINBACK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:00+08:00")
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    commands = tour_commands()
    assert commands[0][:1] == ["demo"] and any(c[:2] == ["import", "users"] for c in commands)
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, f"winback {' '.join(args)} → exit {result.exit_code}:\n{result.output}"
    imported = runner.invoke(app, ["audit", "--action", "import.*", "--json"])
    assert '"import' in imported.stdout


def test_the_readme_names_the_key_that_really_quits():
    from screens.app import WinbackApp

    quit_keys = [b.key for b in WinbackApp.BINDINGS if getattr(b, "action", None) == "quit"]
    assert quit_keys == ["q", "ctrl+q"]  # q where a screen has no q of its own, ctrl+q everywhere (issue 18)
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "`q` quits (`ctrl+q` on a screen that uses `q` itself" in text
