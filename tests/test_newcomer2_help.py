"""`winback --help` answers a newcomer's first question — where to start — before the list of 23 commands: the
demo to try it, init for one's own workspace, and COMMAND --help for the rest."""

from __future__ import annotations


def test_the_top_help_says_where_to_start():
    from typer.testing import CliRunner

    from console.cli import app

    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    head = " ".join(result.output.split("Options")[0].split())
    assert "`winback demo`" in head and "`winback init`" in head and "--help" in head, head
