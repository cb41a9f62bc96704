"""A fresh demo's ladder shows the program working (issue #14 leftover): `winback demo` runs it as a SIMULATED dry run
over the four weeks before its 'today' (fixtures/demo_program.py), so `winback program show ladder` and the
console's program page show entrants, every step reached, a control group and returned treated vs control with
a lift on first run. Nothing of it is recorded, counted or shown as real: every row a dry run's, none counted for
caps or spend, the mode "simulated" with a note, the made-up orders marked by their source."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.programs import funnel, store
from console.workspace import Workspace
from fixtures.demo_program import EXTRA_RETURN, ORDER_DAYS, RUN_DAYS_AGO, SIMULATED_BY
from tests.conftest import Cli
from tests.tui_helpers import make_app, text_of, wait_for

BUILT = "2026-11-25T09:00:00+08:00"    # the demo's 'today' is 2026-11-25 (midnight, Shanghai)
NOW = "2026-11-25T10:00:00+08:00"
DAY = 86_400
USERS = "1000"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """One `winback demo --users 1000` for the module (copied per test), and what it printed."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WINBACK_NOW", BUILT)
    mp.setenv("WINBACK_OPERATOR", "ops")
    folder = tmp_path_factory.mktemp("demoladder")
    mp.chdir(folder)
    cli = Cli(folder / "winback.db")
    result = cli("demo", "--users", USERS, "--no-tui")
    assert result.exit_code == 0, result.output
    db = Workspace.load(db=cli.db_path).open()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # everything in the main file: a plain copy is whole
    db.close()
    mp.undo()
    return cli.db_path, " ".join(result.stderr.split())


@pytest.fixture
def demo(built, tmp_path, monkeypatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    monkeypatch.setenv("WINBACK_NOW", NOW)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    shutil.copy(built[0], tmp_path / "winback.db")
    return Workspace.load(db=tmp_path / "winback.db")


def test_the_demo_ladder_has_run_four_weeks_with_every_step_reached_and_a_lift(demo, built):
    assert "program 'ladder' has run as a SIMULATED dry run for 4 weeks (nothing was sent)" in built[1]
    db = demo.open()
    program = store.get(db, "ladder")
    assert program.status == "running" and program.dry_run and program.simulated
    data = funnel.funnel(db, "ladder")
    assert data["simulated"] and data["entered"] > 0 and 0 < data["control"] < data["entered"]
    assert [s["reached"] > 0 for s in data["steps"]] == [True, True, True]
    assert [s["holdout"] > 0 for s in data["steps"][:2]] == [True, True]
    c = data["comparison"]
    assert c["treated"]["returned"] > 0 and c["control"]["returned"] > 0
    assert c["treated"]["rate"] > c["control"]["rate"] and c.get("lift", 0) > 0
    # four weekly runs, the first four weeks ago, each by demo:simulation at its own time
    runs = [at for (at,) in db.execute("SELECT at FROM audit WHERE action = 'program.run' ORDER BY at")]
    anchor = int(json.loads(db.execute("SELECT value FROM settings WHERE key = 'demo'").fetchone()[0])["anchor"])
    assert [(anchor - at) // DAY + 1 for at in runs] == list(RUN_DAYS_AGO)
    # (added by whoever ran `winback demo`; started and run by the simulation)
    assert {a for (a,) in db.execute("SELECT actor FROM audit WHERE action LIKE 'program.%' "
                                     "AND action != 'program.add'")} == {SIMULATED_BY}
    db.close()


def test_nothing_simulated_is_recorded_counted_or_shown_as_real(demo):
    db = demo.open()
    steps = "SELECT id FROM campaigns WHERE program_id IS NOT NULL"
    assert db.execute(f"SELECT COUNT(*) FROM sends WHERE campaign_id IN ({steps})").fetchone()[0] > 0
    # every step row a dry run's, never counted for caps; every run a dry run by demo:simulation; no real entry
    assert db.execute(f"SELECT COUNT(*) FROM sends WHERE campaign_id IN ({steps}) "
                      "AND (dry_run = 0 OR counts_for_caps = 1)").fetchone()[0] == 0
    assert set(db.execute(f"SELECT DISTINCT dry_run, started_by FROM campaign_runs WHERE campaign_id IN ({steps})")
               .fetchall()) == {(1, SIMULATED_BY)}
    assert db.execute("SELECT COUNT(*) FROM program_entries WHERE dry_run = 0").fetchone()[0] == 0
    from console.policy.budget import program_spent

    program = store.get(db, "ladder")
    assert program_spent(db, program.id, dry_run=False) == 0 < program_spent(db, program.id, dry_run=True)
    # the made-up orders: source demo:simulation, each after its user's entry (treated, never control), within
    # ORDER_DAYS (+ a day's hours), before the demo's today and after the simulated campaign's window
    orders = db.execute(
        "SELECT e.at - p.entered_at, p.control FROM events e JOIN program_entries p ON p.user_id = e.user_id "
        "WHERE e.source = ? AND e.kind = 'order'", [SIMULATED_BY]).fetchall()
    assert orders and {control for _, control in orders} == {0}
    assert all(0 < gap <= (ORDER_DAYS[1] + 1) * DAY for gap, _ in orders)
    treated = db.execute("SELECT COUNT(*) FROM program_entries WHERE control = 0").fetchone()[0]
    assert len(orders) < 2 * EXTRA_RETURN * treated
    # no uplift training data from the dry-run weeks: the fit still learns from the simulated campaign alone
    assert db.execute(f"SELECT COUNT(*) FROM uplift_features WHERE campaign_id IN ({steps})").fetchone()[0] == 0
    # started for real, the program is real from the entry rule on: the simulated dry run is no longer its mode
    store.start(db, "ladder", real=True)
    assert not funnel.funnel(db, "ladder")["simulated"] and funnel.funnel(db, "ladder")["entered"] == 0
    db.close()


def test_program_show_and_list_say_simulated_with_the_lift(demo):
    cli = Cli(demo.db_path)
    shown = cli("program", "show", "ladder")
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stderr.split()) + " ".join(shown.stdout.split())
    assert "program ladder (running, simulated)" in text and "SIMULATED (demo)" in text
    assert "nothing was sent" in text and "; lift +" in text
    data = json.loads(cli("program", "show", "ladder", "--json").stdout)
    assert data["simulated"] is True and data["dry_run"] is True
    listed = cli("program", "list")
    assert "│ simulated │" in listed.stdout


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_console_shows_the_ladder_working_and_simulated(demo, size):
    from textual.widgets import DataTable

    from screens.programs import ProgramPage, ProgramsScreen

    db = demo.open()
    data = funnel.funnel(db, "ladder")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramsScreen)
                       and app.screen.query_one("#programs-table", DataTable).row_count == 1, what="the list")
        row = [str(getattr(c, "plain", c)) for c in app.screen.query_one("#programs-table", DataTable).get_row_at(0)]
        assert row[:3] == ["ladder", "running", "simulated"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramPage)
                       and "entered" in text_of(pilot, "#program-head"), what="the ladder's page")
        head = " ".join(text_of(pilot, "#program-head").split())
        assert "running · simulated" in head and "simulated: the demo's made-up weeks and orders; nothing was sent" in head
        assert f"entered {data['entered']:,} (control {data['control']:,})" in head
        assert f"lift {data['comparison']['lift'] * 100:+.1f} pp" in head


def _treated_user_with_a_step_row(db) -> str:
    return db.execute(
        "SELECT u.external_id FROM program_entries e JOIN users u ON u.id = e.user_id "
        "JOIN program_moves m ON m.entry_id = e.id JOIN sends s ON s.campaign_id = m.campaign_id AND s.run = m.run "
        "AND s.user_id = e.user_id WHERE e.control = 0 AND s.status = 'sent' ORDER BY e.id LIMIT 1").fetchone()[0]


def test_why_program_says_the_ladders_weeks_were_simulated(demo):
    db = demo.open()
    user = _treated_user_with_a_step_row(db)
    db.close()
    cli = Cli(demo.db_path)
    shown = cli("why", user, "--program", "ladder")
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "SIMULATED (demo)" in text and "nothing was sent" in text
    assert "would send (simulated: made up by the demo, nothing was sent)" in text
    assert "(dry run)" not in text
    data = json.loads(cli("why", user, "--program", "ladder", "--json").stdout)
    assert data["simulated"] is True and data["dry_run"] is True


def test_why_on_a_step_campaign_of_the_simulated_ladder_says_simulated_not_dry_run(demo):
    db = demo.open()
    user = _treated_user_with_a_step_row(db)
    db.close()
    cli = Cli(demo.db_path)
    shown = cli("why", user, "--campaign", "program:ladder/nudge/sms")
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "(simulated — made up by the demo, nothing was sent): not taken again in that run" in text
    assert "sent [simulated]" not in text and "(sent" not in text
    assert "dry run" not in text and "dry-run" not in text
    data = json.loads(cli("why", user, "--campaign", "program:ladder/nudge/sms", "--json").stdout)
    assert data["simulated_program"] == "ladder" and data["simulated"] is True


def test_campaign_show_of_a_simulated_ladder_step_says_simulated_once(demo):
    """One truthful line, not the stored flag's 'simulated: no' beside 'mode: simulated' (--json keeps the flag,
    test_campaign_list_and_deliveries_name_the_simulated_programs_steps)."""
    shown = Cli(demo.db_path)("campaign", "show", "program:ladder/nudge/sms")
    assert shown.exit_code == 0, shown.output
    settings = {cells[0]: cells[1] for line in shown.stdout.splitlines()
                if len(cells := [c.strip() for c in line.split("│")]) == 2}
    assert settings["simulated"] == "yes — a step of the demo's simulated program ladder"
    assert settings["mode"] == "simulated" and "simulated_program" not in settings
    # stored as a dry run's rows, and said to be made up — not a dry run the operator ran
    assert settings["dry_run"].startswith("yes (made up by the demo")


def test_campaign_list_and_deliveries_name_the_simulated_programs_steps(demo):
    cli = Cli(demo.db_path)
    listed = cli("campaign", "list", "--all", "--json")
    assert listed.exit_code == 0, listed.output
    steps = [r for r in json.loads(listed.stdout) if r["name"].startswith("program:ladder/")]
    assert steps and {(r["mode"], r["simulated"], r["simulated_program"]) for r in steps} == {("simulated", 0, "ladder")}
    text = cli("campaign", "list", "--all")
    flat = " ".join((text.stdout + text.stderr).split())
    assert "dry run" not in flat
    assert "program:ladder/…: the steps of the demo's SIMULATED program 'ladder'" in flat
    # the stored flag stays off: campaigns.simulated feeds the uplift fit (fixtures/demo_program.py)
    db = demo.open()
    assert db.execute("SELECT COUNT(*) FROM campaigns WHERE program_id IS NOT NULL AND simulated = 1").fetchone()[0] == 0
    db.close()
    tally = json.loads(cli("campaign", "tally", steps[0]["name"], "--json").stdout)
    assert tally["mode"] == "simulated" and tally["simulated_program"] == "ladder"
    shown = json.loads(cli("campaign", "show", steps[0]["name"], "--json").stdout)
    assert shown["mode"] == "simulated" and shown["simulated"] is False and shown["simulated_program"] == "ladder"
    outcomes = cli("outcomes", "program:ladder/nudge/sms")
    flat = " ".join(outcomes.output.split())
    assert "SIMULATED" in flat and "a step of the demo's simulated program ladder" in flat and "DRY RUN" not in flat


async def test_deliveries_names_a_simulated_programs_step(demo):
    from screens.deliveries import DeliveriesScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_deliveries("program:ladder/nudge/sms")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "program:ladder/nudge/sms" in text_of(pilot, "#deliveries-title"), what="the step")
        title = " ".join(text_of(pilot, "#deliveries-title").split())
        assert "simulated" in title and "dry-run" not in title
        assert "step of the demo's simulated program ladder" in title


async def test_the_person_page_names_the_ladders_rows_and_place_simulated(demo):
    from textual.widgets import DataTable

    from screens.person import PersonScreen

    db = demo.open()
    user = _treated_user_with_a_step_row(db)
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        app.open_person(user)
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen)
                       and "ladder" in text_of(pilot, "#person-programs"), what="the person's programs")
        assert "ladder (simulated)" in text_of(pilot, "#person-programs")
        table = app.screen.query_one("#person-messages", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, what="the messages")
        states = {str(getattr(c, "plain", c)) for c in table.get_column("state")}
        # made up by the demo: nothing was sent, so no state reads "sent" (tests/test_small_leftovers_person.py)
        assert "simulated" in states and not [s for s in states if s.startswith("sent")], states
