"""The demo's simulated ladder after the operator's own `winback program run-due` (a dry run): `program show` (text,
--json) and the console's program page show the demo's made-up part as simulated and the operator's part as a dry
run, with counts per mode — not SIMULATED for the whole program. Nothing simulated is shown as the operator's."""

from __future__ import annotations

import json

import pytest

from console.workspace import Workspace
from tests.conftest import Cli
from tests.test_demo_program import built, demo  # noqa: F401  (fixtures: one `winback demo --users 1000`)
from tests.tui_helpers import make_app, text_of, wait_for

WEEK_LATER = "2026-12-02T10:00:00+08:00"


@pytest.fixture
def advanced(demo, monkeypatch) -> tuple[Workspace, Cli]:  # noqa: F811
    """The demo, then the operator's `program run-due` a week later (the ladder is still a dry run)."""
    cli = Cli(demo.db_path)
    monkeypatch.setenv("WINBACK_NOW", WEEK_LATER)
    ran = cli("program", "run-due")
    assert ran.exit_code == 0, ran.output
    return demo, cli


def _own_counts(ws: Workspace) -> tuple[int, int]:
    """Entries and steps taken by the operator's run (after the demo's last run, by whoever ran run-due)."""
    db = ws.open()
    last = db.execute("SELECT MAX(at) FROM audit WHERE action = 'program.run' AND actor = 'demo:simulation'"
                      ).fetchone()[0]
    entered = db.execute("SELECT COUNT(*) FROM program_entries WHERE entered_at > ?", [last]).fetchone()[0]
    moves = db.execute("SELECT COUNT(*) FROM program_moves WHERE at > ?", [last]).fetchone()[0]
    db.close()
    return entered, moves


def test_show_counts_the_simulated_part_and_the_operators_dry_run_apart(advanced) -> None:
    ws, cli = advanced
    entered, moves = _own_counts(ws)
    assert moves > 0
    text = " ".join(cli("program", "show", "ladder").output.split())   # the notes go to stderr
    assert "(running, simulated + dry run)" in text, text
    assert f"dry run (yours, after the demo's weeks): {entered:,} entered, {moves:,} steps taken" in text, text
    data = json.loads(cli("program", "show", "ladder", "--json").stdout)
    parts = {p["mode"]: p for p in data["modes"]["parts"]}
    assert parts["dry run"] == {"mode": "dry run", "entered": entered, "steps_taken": moves}
    assert parts["simulated"]["entered"] == data["entered"] - entered


def test_a_fresh_demo_is_simulated_alone(demo) -> None:  # noqa: F811
    data = json.loads(Cli(demo.db_path)("program", "show", "ladder", "--json").stdout)
    assert [p["mode"] for p in data["modes"]["parts"]] == ["simulated"]


async def test_the_program_page_says_both_modes(advanced) -> None:
    from textual.widgets import DataTable

    from screens.programs import ProgramPage, ProgramsScreen

    ws, _ = advanced
    entered, moves = _own_counts(ws)
    app = make_app(ws)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramsScreen)
                       and app.screen.query_one("#programs-table", DataTable).row_count == 1, what="the list")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramPage)
                       and "entered" in text_of(pilot, "#program-head"), what="the ladder's page")
        head = " ".join(text_of(pilot, "#program-head").split())
        assert "simulated + dry run" in head, head
        assert f"{entered:,} entered, {moves:,} steps taken" in head, head


def test_why_says_dry_run_of_the_operators_steps_and_simulated_of_the_demos(advanced) -> None:
    ws, cli = advanced
    db = ws.open()
    last = db.execute("SELECT MAX(at) FROM audit WHERE action = 'program.run' AND actor = 'demo:simulation'"
                      ).fetchone()[0]

    def someone(when: str) -> tuple[str, str]:
        """A user whose nudge step was queued and recorded 'sent' (a dry run's) before/after the demo's last run."""
        row = db.execute(
            "SELECT u.external_id, c.name FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
            "JOIN users u ON u.id = e.user_id JOIN campaigns c ON c.id = m.campaign_id JOIN sends s "
            "ON s.campaign_id = m.campaign_id AND s.run = m.run AND s.user_id = e.user_id "
            f"WHERE m.outcome = 'queued' AND s.status = 'sent' AND m.at {when} ? ORDER BY u.id LIMIT 1",
            [last]).fetchone()
        assert row is not None, when
        return row[0], row[1]

    ours, theirs = someone(">"), someone("<=")
    db.close()
    said = " ".join(cli("program", "why", "ladder", ours[0]).output.split())
    assert "would send (dry run)" in said and "made up by the demo, nothing was sent)" not in said.split(
        "are made up")[-1], said
    assert "would send (simulated: made up by the demo" in cli("program", "why", "ladder", theirs[0]).output
    rows = json.loads(cli("why", ours[0], "--campaign", ours[1], "--json").stdout)["ledger"]
    assert [r["mode"] for r in rows] == ["dry run"], rows
    rows = json.loads(cli("why", theirs[0], "--campaign", theirs[1], "--json").stdout)["ledger"]
    assert rows[0]["mode"] == "simulated", rows


def test_the_person_page_says_dry_run_of_the_operators_entry_and_messages(advanced) -> None:
    from console import people
    from console.programs.funnel import programs_of

    ws, _ = advanced
    db = ws.open()
    last = db.execute("SELECT MAX(at) FROM audit WHERE action = 'program.run' AND actor = 'demo:simulation'"
                      ).fetchone()[0]
    ours, theirs = (db.execute(
        "SELECT u.external_id FROM program_entries e JOIN users u ON u.id = e.user_id JOIN program_moves m "
        f"ON m.entry_id = e.id WHERE m.outcome = 'queued' AND e.entered_at {when} ? ORDER BY u.id LIMIT 1",
        [last]).fetchone()[0] for when in (">", "<="))
    assert [e["simulated"] for e in programs_of(db, ours)] == [False]
    assert [e["simulated"] for e in programs_of(db, theirs)] == [True]
    steps = [m for m in people.page(db, ours)["messages"] if m["campaign"].startswith("program:")]
    assert steps and not any(m["simulated"] for m in steps), steps
    steps = [m for m in people.page(db, theirs)["messages"] if m["campaign"].startswith("program:")]
    assert steps and all(m["simulated"] for m in steps if m["dry_run"]), steps
    db.close()
