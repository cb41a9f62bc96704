"""A program's page (issue #14): what it is, its funnel with the steps as columns and why users skipped each step;
`t` a per-day timeline, `T` the returned rate treated vs control by days since entry; start, pause, resume, stop,
edit (screens/program_actions.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from screens.base import sync_table
from screens.format import count, money
from screens.program_actions import (
    ACTION_BINDINGS,
    ProgramActions,
    budget_lines,
    comparison_line,
    cost_line,
    mode_label,
    pct,
    status_text,
)
from screens.program_services import program_page, program_timeline

if TYPE_CHECKING:
    from console.programs.curve import DayPoint, Side
    from console.programs.funnel import Funnel, TimelineDay
    from console.programs.store import ProgramDict, StepDict
    from screens.program_services import ProgramPageData

METRICS = (("channel", "channel"), ("wait", "wait"), ("taken", "took it"), ("reached", "reached"),
           ("holdout", "control"), ("skipped", "skipped"), ("returned_treated", "returned"),
           ("returned_control", "vs control"), ("waiting", "waiting"), ("cost", "cost"))


TIMELINE_COLUMNS = (("entered", "entered"), ("messaged", "messaged"), ("held_out", "control"),
                    ("skipped", "skipped"), ("returned", "returned"), ("left", "left"))

CURVE_COLUMNS = (("treated", "treated"), ("control", "control"), ("lift", "lift"), ("interval", "95% interval"))

SUBTITLES = {"steps": "returned: before the next step was due", "days": "per day",
             "returns": "returned within N days of entering"}


class ProgramPage(ProgramActions):
    """One program: what it is, its funnel with the steps as columns (returned: before the next step was due,
    treated against control), why users skipped each step; a per-day timeline; the returned rate treated vs
    control by days since entry."""

    LABEL = "Program"
    CSS_PATH = "program_page.tcss"
    POLL_SECONDS = 30.0   # programs move at run-due (cron); the funnel costs ~5 s at 1,000,000 entries
    # the views first: at 80 columns the footer has room for them, the rest are under `?`
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "view('days')", "Days", id="programs.timeline",
                tooltip="The steps as columns, or a per-day timeline"),
        Binding("T", "view('returns')", "Since entry", key_display="T", id="programs.returns",
                tooltip="Returned rate treated vs control by days since entry"),
        *ACTION_BINDINGS,
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.program = name
        self._step_columns: list[str] = []
        self._step_widths: list[int] = []
        self.view = "steps"

    @property
    def timeline(self) -> bool:
        return self.view == "days"

    def compose_body(self) -> ComposeResult:
        yield Static(id="program-head")
        with Vertical(id="program-box") as box:
            box.border_title = f"Program {self.program}"
            box.border_subtitle = SUBTITLES["steps"]
            yield DataTable(cursor_type="column", zebra_stripes=True, id="program-steps")
            days: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="program-timeline")
            days.add_column("day", key="day")
            for key, label in TIMELINE_COLUMNS:
                days.add_column(label, key=key)
            yield days
            curve: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="program-curve")
            curve.add_column("days in", key="days")
            for key, label in CURVE_COLUMNS:
                curve.add_column(label, key=key)
            yield curve
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
        table = self.query_one("#program-timeline", DataTable)
        days: list[Mapping[str, Any]] = list(rows)   # read by TIMELINE_COLUMNS' keys
        sync_table(table, [(r["day"], [r["day"], *(Text(count(r[key]), justify="right")
                                                   for key, _ in TIMELINE_COLUMNS)]) for r in days])

    def show_page(self, data: ProgramPageData) -> None:
        program, funnel = data["program"], data["funnel"]
        currency = self.currency
        head = Text()
        head.append(f" {program['name']} ", style="bold")
        head.append_text(status_text(program["status"]))
        head.append(f" · {mode_label(program['dry_run'])} · control {program['control_pct']:g}% · exit on "
                    f"{', '.join(program['exit_on'])}\n")
        exited = ", ".join(f"{k} {count(v)}" for k, v in sorted(funnel["exited"].items())) or "nobody yet"
        head.append(f" entered {count(funnel['entered'])} (control {count(funnel['control'])}) · waiting "
                    f"{count(funnel['still_waiting'])} · left: {exited}\n")
        head.append(" " + comparison_line(funnel["comparison"], currency) + "\n", style="dim")
        head.append(" " + cost_line(funnel["comparison"], currency), style="dim")
        head.append_text(budget_lines(funnel, currency))
        box = self.query_one("#program-box")
        box.border_title = f"Program {program['name']} · entry: {program['entry']}"
        self.query_one("#program-head", Static).update(head)
        self._fill_steps(program, funnel, currency)
        self._fill_curve(funnel["returned_by_days"])

    def _fill_curve(self, rows: list[DayPoint]) -> None:
        def share(arm: Side) -> Text:
            return Text(f"{pct(arm['rate'])} of {count(arm['users'])}" if arm["users"] else "—", justify="right")

        def interval(row: DayPoint) -> str:
            low, high = row["ci_low"], row["ci_high"]
            return "—" if low is None or high is None else f"{low * 100:+.1f} to {high * 100:+.1f} pp"

        sync_table(self.query_one("#program-curve", DataTable), [
            (str(r["days"]), [Text(f"{r['days']} d", justify="right"), share(r["treated"]), share(r["control"]),
                              Text("—" if r["lift"] is None else f"{r['lift'] * 100:+.1f} pp", justify="right"),
                              interval(r)])
            for r in rows])

    def _fill_steps(self, program: ProgramDict, funnel: Funnel, currency: str) -> None:
        table = self.query_one("#program-steps", DataTable)
        names = [f"{k + 1} {s['name']}" for k, s in enumerate(program["steps"])]
        reached = "would send" if program["dry_run"] else "reached"
        rows = []
        for key, label in METRICS:
            cells: list[Any] = [Text(reached if key == "reached" else label, style="bold")]
            for step, counts in zip(program["steps"], funnel["steps"], strict=False):
                cells.append(self._cell(key, step, counts, currency))
            rows.append((key, cells))
        # Each column gets its width from what it will hold. Left to the DataTable, widths are measured only at
        # its next idle; a paint before that caches every cell cut to its header's width (as the Offers grid
        # showed at 80x24), so new columns, or a cell grown wider, rebuild the table with the widths set.
        widths = [max(Text(header).cell_len, *(_width(cells[j]) for _, cells in rows))
                  for j, header in enumerate(["", *names])]
        if names != self._step_columns or widths != self._step_widths:
            cursor = table.cursor_coordinate
            table.clear(columns=True)
            table.add_column("", key="metric", width=widths[0])
            for k, label in enumerate(names):
                table.add_column(label, key=f"step{k}", width=widths[k + 1])
            for key, cells in rows:
                table.add_row(*cells, key=key)
            table.move_cursor(row=cursor.row, column=cursor.column, animate=False)
            self._step_columns, self._step_widths = names, widths
        else:
            sync_table(table, rows)
        skips = Text()
        for counts in funnel["steps"]:
            if counts["skipped"]:
                reasons = ", ".join(f"{k} {count(v)}" for k, v in sorted(counts["skipped"].items()))
                skips.append(f" skipped at {counts['step']}: {reasons}\n", style="dim")
        self.query_one("#program-skips", Static).update(skips)

    @staticmethod
    def _cell(key: str, step: StepDict, counts: dict[str, Any], currency: str) -> Any:
        if key == "channel":
            return ",".join(step["channels"])
        if key == "wait":
            return (f"+{step['wait_days']}d" + (" · only" if step["only"] else "")
                    + (f" · {step['rank_by']}" if step.get("rank_by") else ""))
        if key == "skipped":
            return Text(count(sum(counts["skipped"].values())), justify="right")
        if key == "cost":
            return Text(money(counts["cost"], currency), justify="right")
        if key in ("returned_treated", "returned_control"):
            # returned before the next step was due, of those in that arm who took the step and went on
            arm = counts["returns"]["treated" if key == "returned_treated" else "control"]
            return Text(f"{count(arm['returned'])} · {pct(arm['rate'])}" if arm["users"] else "—", justify="right")
        return Text(count(counts[key]), justify="right")

    def failed_page(self, text: str) -> None:
        self.query_one("#program-head", Static).update(Text(f" {text}", style="bold red"))


def _width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else Text(str(cell)).cell_len
