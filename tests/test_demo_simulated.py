"""The demo's simulated past campaign (issue 15) is never recorded, counted or shown as real (PRODUCT.md): its
mode reads "simulated" everywhere, no real-send count includes its rows, and the uplift fit says it learned from it."""

from __future__ import annotations

import json

from console.workspace import Workspace
from tests.cli_demo import copy_cli_demo

FROZEN = "2026-11-25T09:00:00+08:00"


def _demo(monkeypatch, cli, users: int = 300):
    """`winback demo --users 300 --no-tui` at FROZEN in this test's database (built once per session, copied)."""
    monkeypatch.setenv("WINBACK_NOW", FROZEN)
    copy_cli_demo(cli.db_path, users=users, now=FROZEN)
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
    # `winback why` on it: its rows are made up, not a dry run the operator ran
    user = db.execute("SELECT u.external_id FROM sends s JOIN users u ON u.id = s.user_id JOIN campaigns c "
                      "ON c.id = s.campaign_id WHERE c.name = 'simulated' AND s.status = 'sent' LIMIT 1").fetchone()[0]
    why = cli("why", user, "--campaign", "simulated")
    assert why.exit_code == 0, why.output
    text = " ".join(why.output.split())
    assert "(simulated — made up by the demo, nothing was sent): not taken again in that run" in text
    assert "sent [simulated]" not in text and "(sent" not in text
    assert "dry run" not in text and "dry-run" not in text
    data = json.loads(cli("why", user, "--campaign", "simulated", "--json").stdout)
    assert data["simulated"] is True and data["simulated_program"] is None and data["ledger"][0]["dry_run"] == 1


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


def test_a_demo_built_before_m018_has_its_simulated_campaign_marked_and_its_rows_made_dry(tmp_path, monkeypatch, cli):
    """An older demo wrote the campaign as a real send (dry_run = 0, rows 'delivered', counted for caps): m018
    marks it simulated and stores its rows as a dry run's, so it stops counting as real on the next open."""
    db = _demo(monkeypatch, cli)
    treated = db.execute("SELECT COUNT(*) FROM sends WHERE arm != 'holdout'").fetchone()[0]
    # back to the shape an older demo wrote, with m018 not applied yet
    [cid] = db.execute("SELECT id FROM campaigns WHERE simulated").fetchone()
    others = db.execute("SELECT id, dry_run FROM campaigns WHERE id != ? ORDER BY id", [cid]).fetchall()
    db.execute("UPDATE campaigns SET dry_run = 0 WHERE id = ?", [cid])
    db.execute("UPDATE campaign_runs SET dry_run = 0 WHERE campaign_id = ?", [cid])
    db.execute("UPDATE sends SET dry_run = 0, counts_for_caps = arm != 'holdout', "
               "status = CASE status WHEN 'sent' THEN 'delivered' ELSE status END WHERE campaign_id = ?", [cid])
    db.execute("ALTER TABLE campaigns DROP COLUMN simulated")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm018_simulated_campaign'")
    db.conn.commit()
    db.close()
    db = Workspace.load(db=cli.db_path).open()
    assert db.execute("SELECT simulated, dry_run FROM campaigns WHERE id = ?", [cid]).fetchall() == [(1, 1)]
    assert db.execute("SELECT id, dry_run FROM campaigns WHERE id != ? AND NOT simulated ORDER BY id",
                      [cid]).fetchall() == others   # the program steps' campaigns: untouched
    assert db.execute("SELECT COUNT(*) FROM sends WHERE dry_run = 0 OR counts_for_caps = 1").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'sent'").fetchone()[0] == treated
    assert db.execute("SELECT COUNT(*) FROM campaign_runs WHERE dry_run = 0").fetchone()[0] == 0


def test_the_simulated_campaign_cannot_be_launched_dry_or_real(tmp_path, monkeypatch, cli):
    """Its rows are made up: a run of it would mix real recipients (and, for real, real sends) into a campaign
    shown as simulated, and into the uplift fit's simulated data. (Stored as a dry run, it was no longer refused as
    'already sent'.)"""
    db = _demo(monkeypatch, cli)
    before = db.execute("SELECT COUNT(*), MAX(run) FROM sends").fetchone()
    r = cli("campaign", "launch", "simulated")
    assert r.exit_code == 2, r.output
    assert "is simulated" in " ".join(r.output.split()) and "Traceback" not in r.output
    # a real launch is refused for the same reason (here the demo's dry-run transport would stop it first)
    from console.campaigns import control
    from console.config import Config

    assert any("is simulated" in p for p in control.launch_problems(db, Config(), "simulated", real=True,
                                                                     connect=False))
    assert db.execute("SELECT COUNT(*), MAX(run) FROM sends").fetchone() == before
    assert db.execute("SELECT COUNT(*) FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id "
                      "WHERE c.simulated").fetchone()[0] == 1
