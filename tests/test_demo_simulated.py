"""The demo's simulated past campaign (issue 15) is never recorded, counted or shown as real (PRODUCT.md): its
mode reads "simulated" everywhere, no real-send count includes its rows, and the uplift fit says it learned from it."""

from __future__ import annotations

import json

from console.workspace import Workspace

FROZEN = "2026-11-25T09:00:00+08:00"


def _demo(monkeypatch, cli, users: int = 300):
    monkeypatch.setenv("WINBACK_NOW", FROZEN)
    built = cli("demo", "--users", str(users), "--no-tui")
    assert built.exit_code == 0, built.output
    return Workspace.load(db=cli.db_path).open()


def test_the_demos_simulated_campaign_shows_as_simulated_and_counts_as_no_real_send(tmp_path, monkeypatch, cli):
    db = _demo(monkeypatch, cli)
    [row] = json.loads(cli("campaign", "list", "--json").stdout)
    assert row["name"] == "simulated" and row["mode"] == "simulated" and row["simulated"] == 1
    table = cli("campaign", "list")
    assert table.exit_code == 0 and "│ simulated │" in table.stdout and " real " not in table.stdout
    shown = json.loads(cli("campaign", "show", "simulated", "--json").stdout)
    assert shown["mode"] == "simulated" and shown["tally"]["mode"] == "simulated"
    tally = cli("campaign", "tally", "simulated")
    assert tally.exit_code == 0 and "(simulated)" in tally.stdout
    assert json.loads(cli("campaign", "tally", "simulated", "--json").stdout)["mode"] == "simulated"
    outcome = json.loads(cli("outcomes", "simulated", "--json").stdout)
    assert outcome["mode"] == "simulated" and outcome["winner"] is None
    assert outcome["verdict"] == "simulated: no winner" and any("simulated (demo)" in n for n in outcome["notes"])
    assert "SIMULATED" in cli("outcomes", "simulated").stderr
    # the ledger: every row a dry run's, none counted towards frequency caps, no real run, no spend
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] > 0
    assert db.execute("SELECT COUNT(*) FROM sends WHERE dry_run = 0 OR counts_for_caps = 1").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'delivered'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM campaign_runs WHERE dry_run = 0").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM campaigns WHERE dry_run = 0").fetchone()[0] == 0


def test_the_console_names_the_simulated_campaign_for_what_it_is(tmp_path, monkeypatch, cli):
    from screens.sources import campaign_rows

    db = _demo(monkeypatch, cli)
    [row] = campaign_rows(db)
    assert row["simulated"] == 1 and row["mode"] == "simulated"
    user = db.execute("SELECT u.external_id FROM sends s JOIN users u ON u.id = s.user_id "
                      "WHERE s.arm != 'holdout' LIMIT 1").fetchone()[0]
    from console.people import page

    [message] = page(db, user)["messages"]
    assert message["simulated"] == 1 and message["dry_run"] == 1
