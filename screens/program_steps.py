"""A program's steps table (its page): the steps as columns while they fit the width, else a row per step.

With the steps as columns (screens/program_tables.step_columns) each step needs the width of its widest figure
("123,456 · 41.2%", "¥1,234,567.00"), and a step's figures are never cut, so five steps or more scrolled sideways
at 80 columns. When they do not fit, the table turns: a row per step, the metrics as columns, and those columns are
chosen by width with FitTable's rules (screens/columns.fit, as the Campaigns, tally and audit tables): counts whole,
the step's name cut with …, the least needed metrics left out first (TURNED_COLUMNS' priorities). It chooses again
when the terminal is resized.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events

from screens.columns import PADDING, Column, FitTable, fit, measure
from screens.program_tables import METRIC_COLUMN, METRICS, Rows, step_cell, step_columns, step_rows

if TYPE_CHECKING:
    from console.programs.funnel import Funnel
    from console.programs.store import ProgramDict

# A row per step: its name (cut), then the metrics by how much they are needed — who took the step and was reached,
# returned treated vs control, what it cost — the rest step aside first on a narrow terminal.
PRIORITY = {"taken": 0, "reached": 0, "returned_treated": 0, "returned_control": 1, "cost": 2, "holdout": 3,
            "skipped": 4, "waiting": 5, "channel": 6, "wait": 7}


def turned_columns(program: ProgramDict) -> list[Column]:
    """The columns of a row per step: the step, then one per metric (`reached` reads `would send` in a dry run)."""
    reached = "would send" if program["dry_run"] else "reached"
    metrics = [Column(key, reached if key == "reached" else label,
                      "text" if key in ("channel", "wait") else "count", priority=PRIORITY[key], least=6)
               for key, label in METRICS]
    return [Column("step", "step", "name", least=8, most=30), *metrics]


def turned_rows(program: ProgramDict, funnel: Funnel, currency: str) -> Rows:
    """A row per step, keyed `step{k}` as the step's column is when the steps are columns."""
    rows: Rows = []
    for k, (step, counts) in enumerate(zip(program["steps"], funnel["steps"], strict=False)):
        cells: dict[str, Any] = {"step": Text(f"{k + 1} {step['name']}", style="bold")}
        cells.update({key: step_cell(key, step, counts, currency) for key, _ in METRICS})
        rows.append((f"step{k}", cells))
    return rows


class StepsTable(FitTable):
    """The steps of a program's page: as columns (a column cursor, step to step) while they fit, else a row per
    step (a row cursor); the cursor stays on its step when the table turns."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__([METRIC_COLUMN], cursor_type="column", **kwargs)
        self._steps: tuple[ProgramDict, Funnel, str] | None = None

    @property
    def turned(self) -> bool:
        """True while the table shows a row per step."""
        return self.cursor_type == "row"

    def show_steps(self, program: ProgramDict, funnel: Funnel, currency: str) -> None:
        """The program's steps, laid out for the table's width now."""
        self._steps = (program, funnel, currency)
        self._lay_out()

    def _lay_out(self) -> None:
        if self._steps is None:
            return
        program, funnel, currency = self._steps
        columns, rows = step_columns(program), step_rows(program, funnel, currency)
        turn = not _fits(columns, rows, self._room(len(rows)))
        step = self._cursor_step()
        if turn:
            columns, rows = turned_columns(program), turned_rows(program, funnel, currency)
        if turn != self.turned:
            self.clear(columns=True)
            self._layout = ()
            self.cursor_type = "row" if turn else "column"
        self.set_columns(columns)
        self.show(rows)
        if step is not None and self.row_count:   # the step under the cursor before the table turned
            if turn and step in {str(k.value) for k in self.rows}:
                self.move_cursor(row=self.get_row_index(step), animate=False)
            elif not turn and step in self.shown:
                self.move_cursor(column=self.shown.index(step), animate=False)

    def _cursor_step(self) -> str | None:
        """The key (`step{k}`) of the step under the cursor, in either layout."""
        if not self.row_count or not self.ordered_columns:
            return None
        if self.turned:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        column = self.ordered_columns[min(self.cursor_column, len(self.ordered_columns) - 1)]
        return str(column.key.value)

    def on_resize(self, event: events.Resize) -> None:
        if self._steps is None:
            super().on_resize(event)
        else:
            self._lay_out()


def _fits(columns: Sequence[Column], rows: Rows, room: int) -> bool:
    """Whether `columns` show in `room` cells with every figure whole (names cut to their least at most)."""
    values: list[Mapping[str, Any]] = [v for _, v in rows]
    _, natural, whole = measure(columns, values)
    return sum(width + PADDING for _, width in fit(columns, natural, room, figures=whole)) <= room
