"""Off a terminal (`winback campaign show c | cat`, a file, cron's log) a table's lines end where their text ends:
a key/value table padded every row to its longest value (about 180 columns of trailing spaces on the demo)."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config


def test_campaign_show_off_a_terminal_has_no_trailing_spaces(tmp_path, monkeypatch):
    from console.campaigns import model
    from console.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 0.04}}))
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    db.close()
    result = CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), "campaign", "show",
                                      "c"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.lstrip().startswith("name") and line.rstrip().endswith(" c") for line in lines), result.stdout
    padded = [line for line in lines if line != line.rstrip()]
    assert not padded, "\n".join(repr(line) for line in padded)
