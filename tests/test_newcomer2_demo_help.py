"""`winback demo --help` in the operator's words: made-up customers, where the workspace goes (and that a database
that already holds users is never used for it), that a second run reuses it — not 'from fixtures/', a folder of the
source tree."""

from __future__ import annotations


def test_demo_help_says_what_it_builds_and_where():
    from typer.testing import CliRunner

    from console.cli import app

    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    head = " ".join(result.output.split("Options")[0].split())
    assert "fixtures/" not in head, head
    assert "made-up customers" in head and "winback.db" in head and "reuse" in head and "--db" in head, head
