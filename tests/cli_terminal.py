"""The CLI's stdout as a terminal of a given width, for tests of its tables (console/cli/output.py).

CliRunner's stdout is a pipe, where tables are never fitted to a width (every cell whole, as `| cat` or cron get
them); a test of how a table fits a terminal makes the console's stdout a terminal of that width, still captured
by CliRunner (the console writes to whatever sys.stdout is when it prints)."""

from __future__ import annotations

import pytest
from rich.console import Console


def terminal_of(monkeypatch: pytest.MonkeyPatch, width: int = 80) -> None:
    from console.cli import output

    monkeypatch.setattr(output, "out_console", Console(force_terminal=True, width=width, color_system=None,
                                                       soft_wrap=True))
