"""A recall program's budget (`budget = 5000` at the top of its file): what the program may spend over all its steps
and runs, in the workspace's currency — messages' cost, as a campaign's budget counts it (coupons are not counted).

The ceiling is enforced where a campaign's is: the dispatcher books each message's cost in ledger order inside the
claim transaction, and one that would take the program's spending past its budget is recorded `skipped`, reason
`over_budget` (console.campaigns.pacing.over_budget; the step campaigns share the program's budget). Such a row is
final, as a campaign's: never sent later, so never sent twice. Control-group rows (`holdout`) are never claimed and
cost nothing. A dry run's spending is measured apart from the real one's (a rehearsal never eats the real budget).

Around that brake, the program itself: a run whose dispatch recorded `over_budget` rows, or after which no message
of the program's channels fits in what is left, pauses the program with the reason (`program show`, the console),
so that no further step is taken (and recorded `over_budget`) while there is no money; `resume` refuses while
nothing is left (console/programs/store.py) until `winback program budget NAME AMOUNT` makes room.
"""

from __future__ import annotations

from typing import TypedDict

import sqlite_utils

from console import audit
from console.campaigns.pacing import program_spent
from console.config import Config, channel_price
from console.errors import BadInput
from console.programs import store
from console.programs.report import RunReport
from storage.tx import immediate

# Money is compared with a small tolerance (console.policy.budget), so 0.1 + 0.2 fits a ceiling of 0.3.
EPSILON = 1e-9


class ProgramBudget(TypedDict):
    """The program's budget in its current mode (`program show --json`: `budget`)."""

    budget: float | None       # None: no ceiling
    spent: float               # booked by its step messages (claimed or sent, less refunds), this mode
    remaining: float | None


def state(db: sqlite_utils.Database, program: store.Program) -> ProgramBudget:
    used = program_spent(db, program.id, dry_run=program.dry_run)
    # + 0.0: a float sum a hair above the budget reads 0.00, not -0.00
    return {"budget": program.budget, "spent": round(used, 6) + 0.0,
            "remaining": None if program.budget is None else round(program.budget - used, 6) + 0.0}


def parse_amount(text: str) -> float | None:
    """An amount as the operator types it (`winback program budget NAME AMOUNT`, the console's budget input):
    a number of 0 or more in the workspace's currency (thousands separators forgiven: "5,000"), or 'none' for
    no ceiling. Raises BadInput in the CLI's words."""
    typed = text.strip()
    if typed.lower() == "none":
        return None
    try:
        value = float(typed.replace(",", "").replace("_", ""))
    except ValueError:
        raise BadInput(f"budget {text!r}: an amount of 0 or more (e.g. 5000), or 'none'") from None
    if not (value >= 0 and value != float("inf")):   # also refuses nan
        raise BadInput(f"budget {text!r}: an amount of 0 or more (e.g. 5000), or 'none'")
    return value


def below_spent(now: ProgramBudget, amount: float | None) -> str | None:
    """Why a new budget is refused: below what the program has already spent in this mode (it could never be
    kept; the spending is booked). None: the amount is fine. The one rule: set_budget enforces it (the CLI and
    the console set budgets through it), and the console's input calls it as the operator types."""
    if amount is not None and amount + EPSILON < now["spent"]:
        return (f"{_money(amount)} is below what is already spent ({_money(now['spent'])}): give at least that, "
                "or 'none' for no ceiling")
    return None


def set_budget(db: sqlite_utils.Database, name: str, amount: float | None) -> store.Program:
    """`winback program budget NAME AMOUNT` (None: no ceiling): change a program's budget, at any time before it
    is stopped. Raising it does not resend what was recorded `over_budget`; a paused program is then resumed by
    the operator (`resume`). An amount below what the program already spent in its mode is refused (BadInput,
    naming the amount spent; nothing changed) — for the CLI and the console alike. Audited with the previous
    amount."""
    if amount is not None and not (amount >= 0 and amount != float("inf")):
        raise BadInput(f"budget {amount}: an amount of 0 or more in the workspace's currency")
    program = store.get(db, name)
    with immediate(db):
        status = db.execute("SELECT status, budget FROM programs WHERE id = ?", [program.id]).fetchone()
        if status[0] == "stopped":
            raise BadInput(f"program {name!r} is stopped; its budget can no longer change")
        # checked inside the write transaction: no step booked between the check and the change
        if (why := below_spent(state(db, program), amount)) is not None:
            raise BadInput(f"program {name!r}: budget {why}")
        db.execute("UPDATE programs SET budget = ? WHERE id = ?", [amount, program.id])
        audit.record(db, "program.budget", program=name, budget=amount, previous=status[1])
    return store.get(db, name)


def spent_out(db: sqlite_utils.Database, config: Config, program: store.Program) -> str | None:
    """Why no further message of the program fits in its budget (the reason it is paused with), or None.

    The cheapest message of the steps' paid channels (one part at the channel's price) is what the budget must
    still buy; with only free channels a budget never stops the program."""
    if program.budget is None:
        return None
    prices = [p for step in program.steps for c in step.channels if (p := channel_price(config, c)) > 0]
    now = state(db, program)
    assert now["remaining"] is not None
    if not prices or now["remaining"] + EPSILON >= min(prices):
        return None
    return reason(program.name, now)


def reason(name: str, now: ProgramBudget, over: int = 0) -> str:
    """The pause reason: spent of budget (and how many step messages this run recorded `over_budget`)."""
    return (f"budget spent: {_money(now['spent'])} of {_money(now['budget'])}"
            + (f" ({over:,} step messages not sent: over_budget)" if over else "")
            + f" — `winback program budget {name} AMOUNT` raises it, then `resume`")


def pause_if_spent(db: sqlite_utils.Database, config: Config, program: store.Program, report: RunReport) -> bool:
    """After a run's dispatch (or before its steps): pause the program when the dispatch recorded `over_budget`
    rows or nothing more fits. Returns True when it paused it."""
    if program.budget is None:
        return False
    over = sum(int(d.get("skipped", {}).get("over_budget", 0)) for d in report.dispatch)
    why = reason(program.name, state(db, program), over) if over else spent_out(db, config, program)
    if why is None:
        return False
    store.pause(db, program.name, reason=why)
    report.problems.append(f"paused: {why}")
    return True


def _money(amount: float | None) -> str:
    return "—" if amount is None else f"{amount:,.2f}"


__all__ = ["ProgramBudget", "below_spent", "parse_amount", "pause_if_spent", "reason", "set_budget", "spent_out",
           "state"]
