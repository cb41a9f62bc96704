"""A program's page (issue #14): what it is, its funnel with the steps as columns and why users skipped each step;
`t` a per-day timeline, `T` the returned rate treated vs control by days since entry; start, pause, resume, stop,
edit (screens/program_actions.py); `b` the budget (screens/program_budget.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from screens.base import winback_app
from screens.columns import FitTable
from screens.format import count
from screens.program_actions import (
    ACTION_BINDINGS,
    ProgramActions,
    budget_lines,
    comparison_line,
    cost_line,
    mode_label,
    status_text,
)
from screens.program_budget import BudgetDialog, NewBudget, budget_summary, next_step
from screens.program_services import budget_form, program_page, program_timeline, set_program_budget
from screens.program_steps import StepsTable
from screens.program_tables import (
    CURVE_COLUMNS,
    TIMELINE_COLUMNS,
    curve_rows,
    timeline_rows,
)

if TYPE_CHECKING:
    from console.programs.curve import DayPoint
    from console.programs.funnel import Funnel, TimelineDay
    from console.programs.store import ProgramDict
    from screens.program_services import BudgetForm, ProgramPageData

# The list's action keys; on the page those it does not put first are kept out of the footer (see BINDINGS).
PAGE_ACTIONS: list[Binding] = [
    b if b.id in ("programs.pause", "programs.resume", "programs.edit") else replace(b, show=False)
    for b in ACTION_BINDINGS if isinstance(b, Binding)]

SUBTITLES = {"steps": "returned: before the next step was due", "days": "per day",
             "returns": "returned within N days of entering"}


class ProgramPage(ProgramActions):
    """One program: what it is, its funnel with the steps as columns (returned: before the next step was due,
    treated against control), why users skipped each step; a per-day timeline; the returned rate treated vs
    control by days since entry."""

    LABEL = "Program"
    CSS_PATH = "program_page.tcss"
    POLL_SECONDS = 30.0   # programs move at run-due (cron); the funnel costs ~5 s at 1,000,000 entries
    # What a running program's page is for comes first: at 80 columns the footer has room for pause, resume, the
    # budget, edit, the per-day view and quitting whole (it cut them to "r Resume…" / "b Bud…"); starting (l, L) is
    # the list's job, stopping is rare and T a second view: they still work here and stay in `?` and the palette.
    BINDINGS: ClassVar[list[BindingType]] = [
        *[b for b in PAGE_ACTIONS if b.id in ("programs.pause", "programs.resume")],
        Binding("b", "budget", "Budget…", id="programs.budget",
                tooltip="Set the program's budget (as `winback program budget`)"),
        *[b for b in PAGE_ACTIONS if b.id == "programs.edit"],
        Binding("t", "view('days')", "Days", id="programs.timeline",
                tooltip="The steps as columns, or a per-day timeline"),
        Binding("T", "view('returns')", "Since entry", key_display="T", id="programs.returns", show=False,
                tooltip="Returned rate treated vs control by days since entry"),
        *[b for b in PAGE_ACTIONS if b.id not in ("programs.pause", "programs.resume", "programs.edit")],
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.program = name
        self.view = "steps"

    @property
    def timeline(self) -> bool:
        return self.view == "days"

    def compose_body(self) -> ComposeResult:
        yield Static(id="program-head")
        with Vertical(id="program-box") as box:
            box.border_title = f"Program {self.program}"
            box.border_subtitle = SUBTITLES["steps"]
            # FitTables (screens/columns.py): counts whole with thousands separators, names cut with … to fit
            yield StepsTable(zebra_stripes=True, id="program-steps")   # turns to a row per step when narrow
            yield FitTable(TIMELINE_COLUMNS, cursor_type="row", zebra_stripes=True, id="program-timeline")
            yield FitTable(CURVE_COLUMNS, cursor_type="row", zebra_stripes=True, id="program-curve")
        yield Static(id="program-skips")

    def on_mount(self) -> None:
        self.query_one("#program-timeline").display = False
        self.query_one("#program-curve").display = False
        self.query_one("#program-steps").focus()

    def current_program(self) -> str | None:
        return self.program

    def refresh_data(self) -> None:
        self.fetch("page", program_page, self.program)
        if self.view == "days":
            self.fetch("timeline", program_timeline, self.program, self.timezone)

    def action_view(self, view: str) -> None:
        """t: a per-day timeline (entered, messaged, held out, skipped, returned, left); T: the returned rate
        treated vs control by days since entry. The same key again: back to the steps as columns."""
        self.view = "steps" if self.view == view else view
        tables = {"steps": "#program-steps", "days": "#program-timeline", "returns": "#program-curve"}
        for name, selector in tables.items():
            self.query_one(selector).display = name == self.view
        self.query_one("#program-skips").display = self.view == "steps"
        self.query_one(tables[self.view]).focus()
        self.query_one("#program-box").border_subtitle = SUBTITLES[self.view]
        if self.view == "days":
            self.fetch("timeline", program_timeline, self.program, self.timezone)

    def show_timeline(self, rows: list[TimelineDay]) -> None:
        self.query_one("#program-timeline", FitTable).show(timeline_rows(rows))

    def show_page(self, data: ProgramPageData) -> None:
        program, funnel = data["program"], data["funnel"]
        currency = self.currency
        head = Text()
        head.append(f" {program['name']} ", style="bold")
        head.append_text(status_text(program["status"]))
        from console.programs.modes import mode_words, parts_words

        parts = funnel.get("modes")   # the demo's made-up part and the operator's dry run after it (both named)
        mode = mode_words(parts) if parts else mode_label(program['dry_run'], program['simulated'])
        head.append(f" · {mode} · control {program['control_pct']:g}% · exit on "
                    f"{', '.join(program['exit_on'])}\n")
        exited = ", ".join(f"{k} {count(v)}" for k, v in sorted(funnel["exited"].items())) or "nobody yet"
        head.append(f" entered {count(funnel['entered'])} (control {count(funnel['control'])}) · waiting "
                    f"{count(funnel['still_waiting'])} · left: {exited}\n")
        head.append(" " + comparison_line(funnel["comparison"], currency) + "\n", style="dim")
        head.append(" " + cost_line(funnel["comparison"], currency, dry_run=bool(funnel["dry_run"])), style="dim")
        app = winback_app(self)
        if funnel["simulated"]:   # the demo's made-up weeks (console.programs.funnel.SIMULATED_NOTE)
            head.append("\n simulated: the demo's made-up weeks and orders; nothing was sent", style="yellow")
        if parts and len(parts["parts"]) > 1:   # … and the operator's own dry run after them, counted apart
            head.append("\n " + parts_words(parts), style="yellow")
        head.append_text(budget_lines(funnel, currency, raise_key=app.key_for("programs.budget", "b"),
                                      resume_key=app.key_for("programs.resume", "r")))
        box = self.query_one("#program-box")
        box.border_title = f"Program {program['name']} · entry: {program['entry']}"
        self.query_one("#program-head", Static).update(head)
        self._fill_steps(program, funnel, currency)
        self._fill_curve(funnel["returned_by_days"])

    def _fill_curve(self, rows: list[DayPoint]) -> None:
        self.query_one("#program-curve", FitTable).show(curve_rows(rows))

    def _fill_steps(self, program: ProgramDict, funnel: Funnel, currency: str) -> None:
        from console.programs.funnel import skip_words  # at use: the funnel's module is not needed at start

        # a column per step while they fit, else a row per step (screens/program_steps.py)
        self.query_one("#program-steps", StepsTable).show_steps(program, funnel, currency)
        skips = Text()
        for counts in funnel["steps"]:
            if counts["skipped"]:
                skips.append(f" skipped at {counts['step']}: {skip_words(counts['skipped'])}\n", style="dim")
        self.query_one("#program-skips", Static).update(skips)

    # ---- b: the budget (as `winback program budget NAME AMOUNT`) ------------------------------------------------

    def action_budget(self) -> None:
        """b: show the budget, what was spent and what is left, and set a new one (refused in place when it is not
        an amount or below what was spent). Like the CLI, it resumes nothing."""
        self.fetch("budget_form", budget_form, self.program)

    def show_budget_form(self, form: BudgetForm) -> None:
        self._shown.pop("budget_form", None)   # the same figures asked for again must open the input again
        if form["status"] == "stopped":
            winback_app(self).report_failure(
                "set_budget", f"program {form['program']!r} is stopped; its budget can no longer change", action=True)
            return

        def answered(choice: NewBudget | None) -> None:
            if choice is not None:
                self.fetch("set_budget", set_program_budget, self.program, choice.amount)

        self.app.push_screen(BudgetDialog(form, self.currency), answered)

    def done_set_budget(self, form: BudgetForm) -> None:
        resume = winback_app(self).key_for("programs.resume", "r")
        self.notify(f"program {form['program']}: {budget_summary(form, self.currency)}{next_step(form, resume)}",
                    title="budget set", timeout=10)
        self.refresh_data()

    def failed_page(self, text: str) -> None:
        self.query_one("#program-head", Static).update(Text(f" {text}", style="bold red"))

