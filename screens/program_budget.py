"""The program page's budget input (`b`): what `winback program budget NAME AMOUNT` does, from the console.

It shows the budget in force, what was spent and what is left (in the program's current mode), reads the amount as
the CLI reads it (console.programs.budget.parse_amount: a number of 0 or more, or 'none') and refuses, in place,
an amount that is not one or is below what was already spent (budget.below_spent: the rule the service enforces,
here against the figures shown). The page then sets it through the CLI's own service (set_budget, via
screens/program_services.set_program_budget) in a thread worker, which checks the rule again against the ledger
and refuses in its own words when more was spent meanwhile; like the CLI, it resumes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from screens.dialogs import DIALOG_CSS
from screens.format import money

if TYPE_CHECKING:
    from screens.program_services import BudgetForm


@dataclass(frozen=True)
class NewBudget:
    """The amount the operator gave: None is 'none' (no ceiling)."""

    amount: float | None


def budget_summary(form: BudgetForm, currency: str) -> str:
    """'budget ¥50.00 · spent ¥12.30 · ¥37.70 left' (this mode), or 'no budget · spent ¥12.30'."""
    b = form["budget"]
    spent = f"spent {money(b['spent'], currency)}"
    if b["budget"] is None:
        return f"no budget (no ceiling) · {spent}"
    return f"budget {money(b['budget'], currency)} · {spent} · {money(b['remaining'], currency)} left"


def next_step(form: BudgetForm, resume_key: str) -> str:
    """After a new budget, what the operator must do: a paused program is not resumed by setting its budget (as
    with `winback program budget`), so say how to resume it."""
    if form["status"] != "paused":
        return ""
    return f"; still paused: {resume_key} resumes it (`winback program resume {form['program']}`)"


class BudgetDialog(ModalScreen["NewBudget | None"]):
    """Set a program's budget. Enter sets it (when the amount is good), Esc goes back with nothing changed."""

    DEFAULT_CSS = DIALOG_CSS.format(name="BudgetDialog") + """
    BudgetDialog #budget-row { height: auto; }
    BudgetDialog #budget-row Label { padding: 1 1 0 0; }
    BudgetDialog #budget-amount { width: 20; }
    BudgetDialog #budget-note { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back", id="dialog.back")]

    def __init__(self, form: BudgetForm, currency: str) -> None:
        super().__init__()
        self.form = form
        self.currency = currency

    def compose(self) -> ComposeResult:
        form = self.form
        body = f"{budget_summary(form, self.currency)}"
        if form["dry_run"]:
            body += "\n(dry run: its spending is measured apart from a real run's)"
        if form["pause_reason"]:
            body += "\npaused: budget spent — a new budget does not resume it; resume it after"
        elif form["status"] == "paused":
            body += "\npaused — setting the budget does not resume it"
        body += "\nWhat was recorded over_budget is never sent later. 'none': no ceiling."
        with Vertical() as box:
            box.border_title = f"Budget of {form['program']}"
            box.border_subtitle = "Enter: set · Esc: back"
            yield Static(body, classes="dialog-body", id="budget-body", markup=False)
            with Horizontal(id="budget-row"):
                yield Label("New budget:")
                current = form["budget"]["budget"]
                yield Input(placeholder="none" if current is None else f"{current:g}", id="budget-amount")
            yield Static("", id="budget-note", markup=False)

    def on_mount(self) -> None:
        field = self.query_one("#budget-amount", Input)
        field.cursor_blink = getattr(self.app, "cursor_blink", True)
        field.focus()

    def refusal(self, text: str) -> str | None:
        """Why this amount is refused, in the CLI's words, or None. Empty: nothing to say yet."""
        from console.errors import BadInput
        from console.programs.budget import below_spent, parse_amount

        if not text.strip():
            return None
        try:
            amount = parse_amount(text)
        except BadInput as error:
            return str(error)
        return below_spent(self.form["budget"], amount)

    @on(Input.Changed, "#budget-amount")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#budget-note", Static).update(self.refusal(event.value) or "")

    @on(Input.Submitted, "#budget-amount")
    def _submitted(self, event: Input.Submitted) -> None:
        from console.programs.budget import parse_amount

        if not event.value.strip():
            self.query_one("#budget-note", Static).update("type an amount (e.g. 5000), or 'none'; Esc goes back")
            return
        if (why := self.refusal(event.value)) is not None:
            self.query_one("#budget-note", Static).update(why)
            return
        self.dismiss(NewBudget(parse_amount(event.value)))

    def action_cancel(self) -> None:
        self.dismiss(None)
