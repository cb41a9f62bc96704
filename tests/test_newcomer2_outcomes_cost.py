"""`winback outcomes` counts the money the ledger says was spent — as the tally does — not the cost left on rows a
provider never got: a real send whose provider could not be reached pauses with every row planned again and
nothing spent (tally: spent 0.00), and outcomes said 'spent 0.08' for the two rows it had tried."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config


def test_a_provider_never_reached_costs_nothing_in_outcomes(tmp_path, monkeypatch):
    from console.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "http", "url": "http://127.0.0.1:9/send",
                                                            "price": 0.04, "retries": 0, "backoff": 0.01}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 2)
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(cfg), *args],
                                  catch_exceptions=False)

    assert run("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
               "--holdout", "0").exit_code == 0
    run("campaign", "launch", "c", "--real", "--yes")
    tally = json.loads(run("campaign", "tally", "c", "--json").stdout)
    assert tally["sent"] == 0 and tally["cost"] == 0, tally      # paused: the provider was never reached
    outcomes = json.loads(run("outcomes", "c", "--json").stdout)
    assert [a["cost"] for a in outcomes["arms"]] == [0.0], outcomes["arms"]
