"""The program page's budget input (issue #14 leftover): `b` (binding id programs.budget, so [keys] remaps it; in the
palette too) shows the budget, spent and what is left, refuses in place an amount that is not one or is below
what was spent, and sets it through the CLI's own service (console.programs.budget.set_budget: the same audit
entry) in a thread worker. Like `winback program budget` it resumes nothing: a program paused for its budget stays
paused, and the page says what to do next. On the demo's draft ladder with a budget of ¥1 (spent after one run)."""

from __future__ import annotations

import json

import pytest

from console.errors import BadInput
from console.programs import budget, runner, store
from console.workspace import Workspace
from screens.dialogs import ErrorDialog
from screens.program_budget import BudgetDialog
from screens.programs import ProgramPage
from tests.test_tui_programs import _open_programs
from tests.tui_helpers import demo_workspace, make_app, run_command, text_of, wait_for

NOW = "2026-11-25T10:00:00+08:00"
SIZES = [(80, 24), (160, 45)]


def _spent_ladder(workspace: Workspace) -> float:
    """The demo's ladder with a budget of ¥1, started as a dry run and run once: paused, its budget spent."""
    db = workspace.open()
    try:
        budget.set_budget(db, "ladder", 1.0)
        store.start(db, "ladder", real=False)
        runner.run(db, workspace.config, "ladder")
        program = store.get(db, "ladder")
        assert program.status == "paused" and program.pause_reason
        return budget.state(db, program)["spent"]
    finally:
        db.close()


@pytest.fixture
def paused(tmp_path, monkeypatch) -> tuple[Workspace, float]:
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    return ws, _spent_ladder(ws)


def _ladder(workspace: Workspace) -> tuple[store.Program, list[dict]]:
    db = workspace.open()
    try:
        audits = [json.loads(d) for (d,) in db.execute(
            "SELECT details FROM audit WHERE action = 'program.budget' ORDER BY id")]
        return store.get(db, "ladder"), audits
    finally:
        db.close()


async def _open_page(pilot) -> None:
    await _open_programs(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                   and "budget" in text_of(pilot, "#program-head"), what="the ladder's page with its budget")


def _note(pilot) -> str:
    return " ".join(text_of(pilot, "#budget-note").split())


async def _type(pilot, text: str) -> None:
    field = pilot.app.screen.query_one("#budget-amount")
    field.value = ""
    await pilot.press(*text)


@pytest.mark.parametrize("size", SIZES)
async def test_b_shows_the_budget_refuses_bad_amounts_in_place_and_sets_it_without_resuming(paused, size):
    ws, spent = paused
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await _open_page(pilot)
        head = " ".join(text_of(pilot, "#program-head").split())
        assert "paused: budget spent — b raises it, then r resumes" in head
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BudgetDialog), what="the budget input")
        body = " ".join(text_of(pilot, "#budget-body").split())
        assert f"budget ¥1.00 · spent ¥{spent:,.2f} · ¥{1 - spent:,.2f} left" in body
        assert "dry run" in body and "paused: budget spent" in body

        await _type(pilot, "lots")
        await wait_for(pilot, lambda: "an amount of 0 or more" in _note(pilot), what="'lots' refused as you type")
        await pilot.press("enter")
        assert isinstance(app.screen, BudgetDialog)   # refused: the input stays
        await _type(pilot, f"{spent / 2:.4f}")
        await wait_for(pilot, lambda: "below what is already spent" in _note(pilot), what="below spent, refused")
        await pilot.press("enter")
        assert isinstance(app.screen, BudgetDialog) and _ladder(ws)[0].budget == 1.0   # nothing changed

        await _type(pilot, "50")
        await wait_for(pilot, lambda: _note(pilot) == "", what="a good amount: no note")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "budget ¥50.00" in text_of(pilot, "#program-head"), what="the new budget")
        program, audits = _ladder(ws)
        # as `winback program budget ladder 50`: set, audited with the previous amount, and NOT resumed
        assert program.budget == 50 and program.status == "paused"
        assert audits[1:] == [{"program": "ladder", "budget": 50.0, "previous": 1.0}]   # [0]: the fixture's ¥1
        notes = " ".join(n.message for n in app._notifications)
        assert "budget ¥50.00" in notes and "still paused: r resumes it" in notes
        await pilot.press("r")   # the operator resumes it: there is room now
        await wait_for(pilot, lambda: _ladder(ws)[0].status == "running", what="resumed by r")


async def test_the_key_is_remapped_by_its_id_and_the_palette_offers_it(paused, tmp_path):
    ws, _ = paused
    config = tmp_path / "winback.toml"
    config.write_text('[workspace]\nname = "keys"\n[keys]\n"programs.budget" = "B"\n', encoding="utf-8")
    app = make_app(Workspace.load(config=config, db=ws.db_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_page(pilot)
        assert "B raises it" in " ".join(text_of(pilot, "#program-head").split())
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BudgetDialog), what="B opens the budget input")
        await pilot.press("escape")   # back, nothing changed
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramPage), what="the page again")
        assert _ladder(ws)[0].budget == 1.0
        await run_command(pilot, "Program: Set the program's budget")
        await wait_for(pilot, lambda: isinstance(app.screen, BudgetDialog), what="the palette's budget entry")
        await _type(pilot, "none")
        await pilot.press("enter")
        await wait_for(pilot, lambda: _ladder(ws)[0].budget is None, what="no ceiling, as `budget ladder none`")


async def test_a_stopped_programs_budget_is_refused_with_the_stores_words(paused):
    ws, _ = paused
    db = ws.open()
    store.stop(db, "ladder")
    db.close()
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_programs(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramPage)
                       and "stopped" in text_of(pilot, "#program-head"), what="the stopped ladder's page")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog), what="the refusal")
        assert "is stopped; its budget can no longer change" in text_of(pilot, "#error-message")


def test_the_service_rechecks_spent_and_reads_amounts_as_the_cli_does(paused):
    from screens.program_services import set_program_budget

    ws, spent = paused
    db = ws.open()
    try:
        with pytest.raises(BadInput, match="below what is already spent"):
            set_program_budget(db, "ladder", spent / 2)
        assert store.get(db, "ladder").budget == 1.0
        assert budget.parse_amount(" 5,000 ") == 5000 and budget.parse_amount("None") is None
        for bad in ("lots", "-1", "nan", "inf"):
            with pytest.raises(BadInput, match="an amount of 0 or more"):
                budget.parse_amount(bad)
    finally:
        db.close()


async def test_an_amount_fine_when_typed_but_below_what_was_spent_meanwhile_is_refused_in_the_services_words(
        paused, monkeypatch):
    """The input checks against what it showed; the service (set_budget, the CLI's) checks against the ledger at
    the change: spending booked while the input was open makes it refuse, in its own words, with nothing changed."""
    ws, spent = paused
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_page(pilot)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BudgetDialog), what="the budget input")
        # meanwhile, from a cron run a week later: the budget raised, the ladder resumed and its step 2 booked
        monkeypatch.setenv("WINBACK_NOW", "2026-12-02T10:00:00+08:00")
        db = ws.open()
        try:
            budget.set_budget(db, "ladder", 50.0)
            store.resume(db, "ladder")
            runner.run(db, ws.config, "ladder")
            now_spent = budget.state(db, store.get(db, "ladder"))["spent"]
        finally:
            db.close()
        assert now_spent > spent + 0.02
        typed = f"{(spent + now_spent) / 2:.2f}"   # above what the input showed, below what is spent now
        await _type(pilot, typed)
        await wait_for(pilot, lambda: _note(pilot) == "", what="fine against what the input showed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog), what="the service's refusal")
        message = " ".join(text_of(pilot, "#error-message").split())
        assert f"program 'ladder': budget {float(typed):,.2f} is below what is already spent ({now_spent:,.2f})" \
            in message
        assert _ladder(ws)[0].budget == 50.0   # nothing changed
