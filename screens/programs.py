"""Programs (issue #14): every recall program with a small funnel; enter opens a program's page with its steps as
columns (screens/program_page.py); pause, resume, stop and start (a real start asks for the typed program name,
like `winback program start --real`) and the editor that checks the program file as you type are shared with the
page (screens/program_actions.py).

All database work runs in thread workers calling console/programs' services (screens/program_services.py): the
same code as `winback program …`, so the console and the CLI cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from screens.base import ListFilter, cursor_key
from screens.columns import Column, FitTable
from screens.format import count, local_time
from screens.host import ConsoleHost
from screens.program_actions import (
    ACTION_BINDINGS,
    ProgramActions,
    TypedNameDialog,
    mini_funnel,
    mode_label,
    status_text,
)
from screens.program_editor import NEW_PROGRAM, ProgramEditorScreen
from screens.program_page import ProgramPage
from screens.program_services import program_rows

if TYPE_CHECKING:
    from screens.program_services import ProgramListRow

# the screens and dialog tests and the key map know by this module's name
__all__ = ["ProgramEditorScreen", "ProgramPage", "ProgramsScreen", "TypedNameDialog", "choose_program",
           "new_program"]


# chosen by width (screens/columns.py): at 80 columns the name is cut before a count, the small funnel goes first
PROGRAM_COLUMNS = (
    Column("name", "program", "name", least=8, most=48),
    Column("status", "status", least=7),
    Column("mode", "mode", priority=2, least=7),
    Column("funnel", "steps", priority=3, least=3, most=12),
    Column("entered", "entered", "count"),
    Column("active", "waiting", "count", priority=1),
    Column("returned", "returned", "count"),
)


class ProgramsScreen(ListFilter, ProgramActions):
    """Every program: status, mode, a small funnel (one bar per step), entered, waiting, returned."""

    LABEL = "Programs"
    CSS_PATH = "programs.tcss"
    POLL_SECONDS = 10.0   # programs move at run-due, not by the second
    FILTER_TABLE = "#programs-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="programs.open"),
        *ACTION_BINDINGS,
        Binding("n", "new", "New", id="programs.new"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, ProgramListRow] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="programs-box") as box:
            box.border_title = "Recall programs"
            yield FitTable(PROGRAM_COLUMNS, cursor_type="row", zebra_stripes=True, id="programs-table")
        yield Static(id="programs-detail")

    def on_mount(self) -> None:
        self.query_one("#programs-table").focus()

    def refresh_data(self) -> None:
        self.fetch("programs", program_rows)

    def show_programs(self, rows: list[ProgramListRow]) -> None:
        self._rows = {r["name"]: r for r in rows}
        self.query_one("#programs-box").border_subtitle = f"{len(rows)} program" + ("" if len(rows) == 1 else "s")
        self.query_one("#programs-table", FitTable).show([(r["name"], {
            "name": r["name"], "status": status_text(r["status"]), "mode": mode_label(r["dry_run"], r["simulated"]),
            "funnel": mini_funnel(r["entered"], r["taken"]),
            "entered": r["entered"], "active": r["active"], "returned": r["returned"],
        }) for r in rows])
        self._show_detail()

    @on(DataTable.RowHighlighted, "#programs-table")
    def _show_detail(self) -> None:
        row = self._rows.get(self.current_program() or "")
        detail = self.query_one("#programs-detail", Static)
        if row is None:
            detail.update(Text(" no programs yet: n writes one (or `winback program add FILE`)"
                               if not self._rows else "", style="dim"))
            return
        steps = " › ".join(f"{s} {count(n)}" for s, n in zip(row["step_names"], row["taken"], strict=False))
        last = local_time(row["last_run_at"], self.timezone) if row["last_run_at"] else "never run"
        detail.update(Text(f" entry: {row['entry']} · control {row['control_pct']:g}% · last run {last}\n"
                           f" took: {steps}", style="dim"))

    def current_program(self) -> str | None:
        return cursor_key(self.query_one("#programs-table", DataTable))

    def action_open(self) -> None:
        """enter: the program's page (steps as columns)."""
        name = self.current_program()
        if name is not None:
            self.app.push_screen(ProgramPage(name))

    @on(DataTable.RowSelected, "#programs-table")
    def _selected(self) -> None:
        self.action_open()

    def action_new(self) -> None:
        """n: write a new program (checked as you type)."""
        self.app.push_screen(ProgramEditorScreen(None, NEW_PROGRAM), self._edited)



def choose_program(app: ConsoleHost) -> None:
    """The palette's "Open a program…": which program (a thread worker lists them), then its page."""
    from screens.base import background_priority
    from screens.dialogs import ChoiceDialog

    workspace = app.workspace

    def chosen(name: str | None) -> None:
        if name:
            app.push_screen(ProgramPage(name))

    def load() -> None:
        from console.programs import store

        background_priority()
        db = workspace.open()
        try:
            rows = store.list_programs(db)
        finally:
            db.close()
        if not rows:
            app.call_from_thread(app.notify, "No program yet — “New program” in the palette (or P, then n) writes one.",
                                 title="No program", severity="warning")
            return
        choices = [(r["name"], f"{r['name']} · {r['status']} · {mode_label(r['dry_run'], r['simulated'])} · "
                               f"entered {r['entered']:,}") for r in rows]
        app.call_from_thread(app.push_screen, ChoiceDialog("Open which program?", choices), chosen)

    app.run_worker(load, name="programs", group="app:choose_program", thread=True, exclusive=True,
                   exit_on_error=False)


def new_program(app: ConsoleHost) -> None:
    """The palette's "New program": Programs, then its `n` (the editor)."""
    screen = app.area_screen("programs")
    if isinstance(screen, ProgramsScreen):
        app.call_after_refresh(screen.action_new)
