"""The Programs screens' database work, run in thread workers (`db` is the worker's own connection): the same
console/programs services (store, funnel, runner) as `winback program …`, so the console and the CLI cannot
disagree."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import sqlite_utils

from console.config import Config

if TYPE_CHECKING:   # the program services load in the worker that calls them
    from console.programs.budget import ProgramBudget
    from console.programs.funnel import Funnel, TimelineDay
    from console.programs.report import RanReport
    from console.programs.store import ProgramDict, ProgramRow, Stopped

    class ProgramListRow(ProgramRow):   # program_rows
        taken: list[int]                # entries that took each step (funnel.taken_per_step)
        step_names: list[str]

    class ProgramPageData(TypedDict):   # program_page
        program: ProgramDict
        funnel: Funnel

    class BudgetForm(TypedDict):        # budget_form, and set_program_budget's answer
        program: str
        status: str
        dry_run: bool
        pause_reason: str | None
        budget: ProgramBudget           # budget, spent, remaining in the program's current mode


def program_rows(db: sqlite_utils.Database) -> list[ProgramListRow]:
    """Every program with how many took each of its steps (the program's current mode)."""
    from console.programs import funnel, store

    rows: list[ProgramListRow] = []
    for row in store.list_programs(db):
        rows.append({**row, "taken": funnel.taken_per_step(db, row["name"]),
                     "step_names": [s.name for s in store.get(db, row["name"]).steps]})
    return rows


def program_page(db: sqlite_utils.Database, name: str) -> ProgramPageData:
    """A program's definition (steps, waits, templates, rules) and its funnel."""
    from console.programs import funnel, store

    program = store.get(db, name)
    return {"program": program.as_dict(), "funnel": funnel.funnel(db, name)}


def program_timeline(db: sqlite_utils.Database, name: str, tz: str) -> list[TimelineDay]:
    """Per day: entered, messaged, held out, skipped, returned, left (console.programs.funnel.timeline)."""
    from console.programs import funnel

    return funnel.timeline(db, name, tz)


def start_program(db: sqlite_utils.Database, config: Config, name: str, real: bool) -> RanReport:
    """`winback program start NAME [--real] --yes`: start, then run once (entrants, due steps, dispatch)."""
    from console.programs import runner, store

    if real:
        runner.check_channels(db, config, name, real=True)
    store.start(db, name, real=real)
    return runner.run(db, config, name).as_dict()


def check_real_start(db: sqlite_utils.Database, config: Config, name: str) -> str:
    """Refuse before asking anything when a step's channel cannot send for real (dry-run transport, secrets)."""
    from console.programs import runner

    runner.check_channels(db, config, name, real=True)
    return name


def pause_program(db: sqlite_utils.Database, name: str) -> str:
    from console.programs import store

    return store.pause(db, name).status


def resume_program(db: sqlite_utils.Database, name: str) -> str:
    from console.programs import store

    return store.resume(db, name).status


def stop_program(db: sqlite_utils.Database, name: str) -> Stopped:
    from console.programs import store

    return store.stop(db, name)


def program_source(db: sqlite_utils.Database, name: str) -> str:
    from console.programs import store

    return store.source(db, name)


def budget_form(db: sqlite_utils.Database, name: str) -> BudgetForm:
    """What the console's budget input shows: the budget in force, what was spent and what is left (this mode)."""
    from console.programs import budget, store

    program = store.get(db, name)
    return {"program": program.name, "status": program.status, "dry_run": program.dry_run,
            "pause_reason": program.pause_reason, "budget": budget.state(db, program)}


def set_program_budget(db: sqlite_utils.Database, name: str, amount: float | None) -> BudgetForm:
    """`winback program budget NAME AMOUNT`: the same service (console.programs.budget.set_budget, audited
    `program.budget` with the previous amount). Like the CLI it resumes nothing: a paused program stays paused
    until the operator resumes it. An amount below what was spent meanwhile is refused by the service, in its
    words (the input checked it against what it showed; set_budget checks it against the ledger now)."""
    from console.programs import budget

    budget.set_budget(db, name, amount)
    return budget_form(db, name)
