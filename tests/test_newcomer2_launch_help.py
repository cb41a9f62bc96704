"""`winback campaign launch --help` in the operator's words: it sends the campaign to the audience fixed now — a
dry run unless --real — and a real send asks for the whole run's message count (now and after quiet hours). It
said 'Freeze the audience into the ledger and dispatch it', the code's words, and nothing of the typed count."""

from __future__ import annotations


def test_launch_help_says_what_happens_and_what_a_real_send_asks():
    from typer.testing import CliRunner

    from console.cli import app

    result = CliRunner().invoke(app, ["campaign", "launch", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "ledger" not in text and "dispatch" not in text, text
    assert "type the number of messages" in text and "after quiet hours" in text, text
