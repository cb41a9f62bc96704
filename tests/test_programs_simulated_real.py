"""The demo's simulated ladder, then started for real (issue #14 leftover): the real program's figures never take in
the simulated weeks' rows. `winback demo` runs the ladder as a SIMULATED dry run (dry-run rows by demo:simulation);
an operator then runs `winback program start ladder --real --yes` and a week later `program run-due`. Every count,
the funnel, the spend and the returned rates of the real program — `program show` (and --json), `program list`
(and --json), the console's Programs list and program page — are the real ledger's alone; and the step campaigns
behind it (`campaign list --all`, `campaign tally`, `campaign show`) keep the made-up runs apart from the real ones.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from console.programs import store
from console.workspace import Workspace
from tests.conftest import Cli
from tests.test_demo_program import NOW, built  # noqa: F401  (fixture: one `winback demo --users 1000`)
from tests.tui_helpers import make_app, text_of, wait_for

WEEK_LATER = "2026-12-02T10:00:00+08:00"

# the csv transport: a real send that writes the messages to a file (tests/test_programs_ladder.py)
CONFIG = """\
[workspace]
name = "demo"
database = "winback.db"

[channels.sms]
transport = "csv"
price = 0.04
quiet_hours = "off"

[channels.push]
transport = "csv"
price = 0.0
quiet_hours = "off"

[channels.call]
transport = "csv"
price = 1.0
quiet_hours = "off"
"""


@pytest.fixture(scope="module")
def _real_built(built, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The demo's simulated ladder started for real (a newcomer's `program start ladder --real --yes`), then
    advanced a week later: its nudge and offer steps have real runs beside their simulated ones. Built once for the
    module through the same CLI commands (the tests only read it; each gets a copy of the file)."""
    folder = tmp_path_factory.mktemp("simulated-real")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for name in ("WINBACK_DB", "WINBACK_CONFIG"):
            mp.delenv(name, raising=False)
        mp.setenv("WINBACK_NOW", NOW)
        mp.setenv("WINBACK_OPERATOR", "tester")
        shutil.copy(built[0], folder / "winback.db")
        (folder / "winback.toml").write_text(CONFIG, encoding="utf-8")
        cli = Cli(folder / "winback.db")
        started = cli("program", "start", "ladder", "--real", "--yes")
        assert started.exit_code == 0, started.output
        mp.setenv("WINBACK_NOW", WEEK_LATER)
        advanced = cli("program", "run-due")
        assert advanced.exit_code == 0, advanced.output
    db = Workspace.load(db=folder / "winback.db").open()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # everything in the main file: a plain copy is whole
    db.close()
    return folder / "winback.db"


@pytest.fixture
def real(_real_built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A private copy of the module's started-for-real demo, a week later, with the csv config in the folder (the
    workspace object is loaded before it, as the demo's was)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    monkeypatch.setenv("WINBACK_NOW", WEEK_LATER)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    shutil.copy(_real_built, tmp_path / "winback.db")
    ws = Workspace.load(db=tmp_path / "winback.db")
    (tmp_path / "winback.toml").write_text(CONFIG, encoding="utf-8")
    return ws


def _real_ledger(db) -> dict[int, Counter]:
    """Per step: the real rows of the program's step campaigns by status, and their cost (key 'cost')."""
    out: dict[int, Counter] = {}
    for step, status, n, cost in db.execute(
            "SELECT c.program_step, s.status, COUNT(*), COALESCE(SUM(s.cost), 0) FROM sends s "
            "JOIN campaigns c ON c.id = s.campaign_id WHERE c.program_id IS NOT NULL AND s.dry_run = 0 "
            "GROUP BY 1, 2"):
        out.setdefault(step, Counter())[status] += n
        out[step]["cost"] += cost
    return out


def test_the_real_programs_funnel_spend_and_returns_are_the_real_ledgers_alone(real):
    db = real.open()
    ledger = _real_ledger(db)
    simulated_rows = db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                                "WHERE c.program_id IS NOT NULL AND s.dry_run = 1").fetchone()[0]
    real_entries, real_control = db.execute("SELECT COUNT(*), SUM(control) FROM program_entries "
                                            "WHERE dry_run = 0").fetchone()
    moves = dict(db.execute("SELECT m.step, COUNT(*) FROM program_moves m JOIN program_entries e "
                            "ON e.id = m.entry_id WHERE e.dry_run = 0 GROUP BY 1").fetchall())
    # the made-up orders (fixtures/demo_program.py) all fall before the demo's today: none after a real entry, so
    # none can count as a real entrant's return
    made_up_after_entry = db.execute(
        "SELECT COUNT(*) FROM events ev JOIN program_entries e ON e.user_id = ev.user_id WHERE e.dry_run = 0 "
        "AND ev.source = ? AND ev.at > e.entered_at", [store.SIMULATED_BY]).fetchone()[0]
    db.close()
    assert made_up_after_entry == 0
    assert simulated_rows > 0 and ledger[0]["sent"] > 0 and ledger[1]["sent"] > 0
    cli = Cli(real.db_path)
    data = json.loads(cli("program", "show", "ladder", "--json").stdout)
    assert data["dry_run"] is False and data["simulated"] is False
    assert (data["entered"], data["control"]) == (real_entries, real_control)
    for k, step in enumerate(data["steps"]):
        rows = ledger.get(k, Counter())
        assert step["taken"] == moves.get(k, 0)
        assert (step["reached"], step["holdout"]) == (rows["sent"] + rows["delivered"], rows["holdout"]), step
        assert step["cost"] == pytest.approx(rows["cost"])
    spent = sum(rows["cost"] for rows in ledger.values())
    assert data["cost"] == pytest.approx(spent) and data["budget"]["spent"] == pytest.approx(spent)
    c = data["comparison"]
    assert c["treated"]["users"] + c["control"]["users"] == real_entries and c["cost"] == pytest.approx(spent)
    # the words: real, not simulated, and no SIMULATED note
    shown = cli("program", "show", "ladder")
    text = " ".join((shown.stdout + shown.stderr).split())
    assert "program ladder (running, real)" in text and "SIMULATED" not in text
    nudge = next(cells for line in shown.stdout.splitlines()
                 if (cells := [c.strip() for c in line.split("│")])[0] == "nudge")
    assert nudge[1:4] == [f"{moves[0]:,}", f"{ledger[0]['sent']:,}", f"{ledger[0]['holdout']:,}"]


def test_program_list_says_real_once_started_for_real(real):
    cli = Cli(real.db_path)
    rows = json.loads(cli("program", "list", "--json").stdout)
    assert [(r["name"], r["dry_run"], r["simulated"]) for r in rows] == [("ladder", 0, 0)]
    db = real.open()
    assert rows[0]["entered"] == db.execute("SELECT COUNT(*) FROM program_entries WHERE dry_run = 0").fetchone()[0]
    assert store.get(db, "ladder").as_dict()["simulated"] is False
    db.close()
    assert "│ real │" in cli("program", "list").stdout


def test_the_step_campaigns_keep_the_simulated_runs_apart_from_the_real_ones(real):
    db = real.open()
    real_rows = db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                           "WHERE c.name = 'program:ladder/nudge/sms' AND s.dry_run = 0").fetchone()[0]
    first_real = db.execute("SELECT MIN(run) FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id "
                            "WHERE c.name = 'program:ladder/nudge/sms' AND r.dry_run = 0").fetchone()[0]
    db.close()
    cli = Cli(real.db_path)
    listed = {r["name"]: r for r in json.loads(cli("campaign", "list", "--all", "--json").stdout)}
    nudge = listed["program:ladder/nudge/sms"]
    # a real step: its counts are its real rows; the simulated weeks' would-sends are not its figures
    assert (nudge["mode"], nudge["recipients"], nudge["would_send"]) == ("real", real_rows, 0)
    assert nudge["simulated_program"] is None
    # a step with no real run yet still reads simulated (its rows are all made up), and the note says which
    assert listed["program:ladder/call/call"]["mode"] == "simulated"
    text = cli("campaign", "list", "--all")
    flat = " ".join((text.stdout + text.stderr).split())
    assert "the steps shown as simulated; those shown as real have run for real since" in flat
    # the simulated run of a now-real step is tallied as what it was: simulated, would send, nothing sent
    old = json.loads(cli("campaign", "tally", "program:ladder/nudge/sms", "--run", "1", "--json").stdout)
    assert (old["mode"], old["dry_run"], old["simulated_program"]) == ("simulated", True, "ladder")
    assert old["would_send"] == old["sent"] > 0
    latest = json.loads(cli("campaign", "tally", "program:ladder/nudge/sms", "--json").stdout)
    assert latest["run"] >= first_real and (latest["mode"], latest["dry_run"]) == ("real", False)
    assert latest["simulated_program"] is None and latest["would_send"] == 0
    shown = cli("campaign", "show", "program:ladder/nudge/sms")
    settings = {cells[0]: cells[1] for line in shown.stdout.splitlines()
                if len(cells := [c.strip() for c in line.split("│")]) == 2}
    assert settings["mode"] == "real" and settings["simulated"] == "no"


async def test_the_console_shows_the_real_programs_own_counts(real):
    from textual.widgets import DataTable

    from screens.programs import ProgramPage, ProgramsScreen

    db = real.open()
    ledger = _real_ledger(db)
    db.close()
    app = make_app(real)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramsScreen)
                       and app.screen.query_one("#programs-table", DataTable).row_count == 1, what="the list")
        row = [str(getattr(c, "plain", c)) for c in app.screen.query_one("#programs-table", DataTable).get_row_at(0)]
        assert row[:3] == ["ladder", "running", "real"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramPage)
                       and "entered" in text_of(pilot, "#program-head"), what="the ladder's page")
        head = " ".join(text_of(pilot, "#program-head").split())
        assert "running · real" in head and "simulated" not in head
        table = app.screen.query_one("#program-steps", DataTable)
        cells = {str(getattr(r[0], "plain", r[0])): [str(getattr(c, "plain", c)) for c in r[1:]]
                 for r in (table.get_row_at(i) for i in range(table.row_count))}
        assert "would send" not in cells
        assert cells["reached"][:2] == [f"{ledger[k]['sent']:,}" for k in (0, 1)]
        assert cells["control"][:2] == [f"{ledger[k]['holdout']:,}" for k in (0, 1)]


def test_a_run_line_counts_sent_in_its_own_mode_only():
    """A real run that also dispatched a run left from the dry-run mode (an interrupted rehearsal's step run: its
    own channel, its own mode) says 'sent' of the real rows alone; the others are named what they were."""
    from console.programs.report import RunReport, report_lines

    report = RunReport("ladder", dry_run=False, at=0, entered=3)
    report.steps = {"nudge": {"queued": 3, "holdout": 0, "skipped": {}}}
    report.dispatch = [{"step": "nudge", "dry_run": False, "sent": 3},
                       {"step": "nudge", "dry_run": True, "sent": 5}]
    line = report_lines([report.as_dict()])[0]
    assert line.endswith("; sent 3; would send 5 (rows of the dry run)"), line
    report.dispatch = report.dispatch[:1]
    assert report_lines([report.as_dict()])[0].endswith("; sent 3")


def test_why_on_a_now_real_step_says_real_at_the_top_and_simulated_on_the_made_up_rows(real):
    """`why USER --campaign STEP --json` of a step that has run for real: the campaign is not simulated any more;
    its made-up dry-run rows still say [simulated] in the words, its real rows nothing."""
    db = real.open()
    user = db.execute(
        "SELECT u.external_id FROM sends s JOIN campaigns c ON c.id = s.campaign_id JOIN users u ON u.id = s.user_id "
        "WHERE c.name = 'program:ladder/nudge/sms' GROUP BY u.id "
        "HAVING SUM(s.dry_run) > 0 AND SUM(NOT s.dry_run) > 0 LIMIT 1").fetchone()
    db.close()
    assert user is not None   # someone with a made-up row and a real one in the same step
    cli = Cli(real.db_path)
    data = json.loads(cli("why", user[0], "--campaign", "program:ladder/nudge/sms", "--json").stdout)
    assert data["simulated"] is False and data["simulated_program"] == "ladder"
    assert {row["dry_run"] for row in data["ledger"]} == {0, 1}
    words = cli("why", user[0], "--campaign", "program:ladder/nudge/sms").stdout
    ledger_lines = [line for line in words.splitlines() if "ledger" in line and "run " in line]
    assert any("[simulated]" in line or line.endswith(", simulated") for line in ledger_lines)
    assert any("[simulated]" not in line and "[dry-run]" not in line and not line.endswith(", simulated")
               for line in ledger_lines)
