"""Every option and argument of the segments, messages, policy, outcomes and propensity commands says what it is
for in `--help` (an operator reads help, not the code)."""

from __future__ import annotations

import typer.main

from console.cli import app

MINE = ("refresh", "segments", "why", "templates", "preview", "offers", "caps", "quiet-hours", "suppress",
        "consent", "outcomes", "serve", "receipts", "model")


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_every_parameter_has_help():
    root = typer.main.get_command(app)
    missing = []
    for path, cmd in _commands(root):
        if path[0] not in MINE:
            continue
        assert cmd.help, path
        for param in cmd.params:
            if param.name != "help" and not getattr(param, "help", None):
                missing.append(f"{' '.join(path)} {param.name}")
    assert missing == []
