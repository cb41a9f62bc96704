"""`winback why USER --campaign C`'s budget line: what was spent is never '-0.00' (a real send whose provider could
not be reached books and refunds the same amounts, which left a float a hair below zero) and the messages that
still fit are counted with thousands separators, as every other count."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config


def test_the_budget_line_says_spent_0_00_and_counts_with_separators(tmp_path, monkeypatch):
    from console.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "http", "url": "http://127.0.0.1:9/send",
                                                            "price": 0.01, "retries": 0, "backoff": 0.01}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(cfg), *args],
                                  catch_exceptions=False)

    assert run("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
               "--holdout", "0", "--budget", "12345").exit_code == 0
    run("campaign", "launch", "c", "--real", "--yes")   # paused: the provider is never reached, all refunded
    said = " ".join(run("why", "u1", "--campaign", "c").output.split())
    assert "spent 0.00 of 12,345.00; 1,234,500 more message(s) at 0.01 each" in said, said
