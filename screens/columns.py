"""Tables that choose their columns by width: counts whole and right-aligned, names cut with …, low-priority
columns left out when the terminal is narrow (issue 18: "fits at 80 columns").

A `FitTable` is a DataTable given its columns as `Column`s and its rows as {column key: value}. It sizes every
column from the values it holds: a count is as wide as its widest number with thousands separators and is never
cut (a cut number reads like another number); a name or text column is cut with an ellipsis. When the columns do
not fit, names are cut down to their `least` width first, then whole columns go, the highest `priority` number
first; what room is left goes back to the names. A table made with `extras_first` (the Campaigns list) leaves out
its extra columns (priority EXTRA and up) before cutting a name, when that lets every value show whole. A
vertical scrollbar's room is kept only when the rows need one. It fits again when the terminal is resized.

Which columns show and how narrow each may go is decided by console/column_fit.py, the rule the CLI's tables use
too (issue 16: one definition); this module measures the cells, says how each kind of column gives way (`rule`:
the console cuts a name with … where the CLI keeps its first column whole and wraps its texts) and draws the cells.

A "mixed" column holds counts and words together (a program's page: a step per column, its metrics as rows): its
counts and figures are kept whole, so it is cut no narrower than its widest figure; its words and its label (a
long step name) are cut with … like a name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import events
from textual.widgets import DataTable

from console.column_fit import Fit, fit_columns, fit_whole_first
from screens.format import count
from screens.tables import cursor_key, sync_table

Kind = Literal["count", "id", "name", "text", "mixed"]
PADDING = 2  # a DataTable cell's padding, one cell either side
EXTRA = 3  # columns of this priority and up are extras: left out before a name is cut (1 and 2 are not)


@dataclass(frozen=True)
class Column:
    """One column of a FitTable.

    kind: "count" (right-aligned, thousands separators, never cut), "id" (right-aligned as it is, never cut),
    "name" or "text" (left-aligned, cut with … to fit), "mixed" (an int or float is a count as in a count column,
    a right-aligned Text a figure such as money: neither is cut; a str, any other Text and the label are cut with
    … to fit, never narrower than the widest figure). priority: 0 is always shown; when the table is too narrow
    the column with the highest number goes first (the rightmost of equals). most / least: the widest a name or
    text column grows, and the narrowest it is cut down to before columns are left out."""

    key: str
    label: str
    kind: Kind = "text"
    priority: int = 0
    most: int = 40
    least: int = 8


def number(value: int | float | None, style: str = "") -> Text:
    """A count as a cell: thousands separators, right-aligned ('—' when there is none)."""
    return Text(count(value), style=style, justify="right")


def cut(value: str | Text, width: int) -> str | Text:
    """`value` in at most `width` cells; when it is longer, its end is replaced by an ellipsis (…)."""
    if isinstance(value, Text):
        if value.cell_len <= width:
            return value
        shorter = value.copy()
        shorter.truncate(width, overflow="ellipsis")
        return shorter
    if cell_len(value) <= width:
        return value
    return set_cell_size(value, max(width - 1, 0)) + "…"


def _text(value: Any) -> str | Text:
    return value if isinstance(value, Text) else "" if value is None else str(value)


def cell(column: Column, value: Any) -> str | Text:
    """The cell `value` shows as in `column`, before any cutting."""
    if column.kind == "count" and not isinstance(value, Text):
        return number(value)
    if column.kind == "mixed" and isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    if column.kind == "id" and not isinstance(value, Text):
        return Text("" if value is None else str(value), justify="right")
    return _text(value)


def _width(value: str | Text) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(value)


def figure(value: str | Text) -> bool:
    """A cell of a "mixed" column that is never cut: a count or figure, which are right-aligned (words are not)."""
    return isinstance(value, Text) and value.justify == "right"


Cells = dict[str, list[str | Text]]


def measure(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> tuple[Cells, dict[str, int],
                                                                                  dict[str, int]]:
    """Each column's cells (as shown, before cutting), its natural width (a name's at most `most`) and, for a
    "mixed" column, the width of its widest figure."""
    cells = {c.key: [cell(c, values.get(c.key)) for values in rows] for c in columns}
    natural = {c.key: max([cell_len(c.label), *map(_width, cells[c.key])]) for c in columns}
    whole = {c.key: max([0, *(_width(v) for v in cells[c.key] if figure(v))]) for c in columns if c.kind == "mixed"}
    for c in columns:
        if c.kind in ("name", "text"):
            natural[c.key] = min(natural[c.key], max(c.most, cell_len(c.label)))
        elif c.kind == "mixed":  # its label is a name (a step's): cut at `most` like one, its figures never
            natural[c.key] = max(min(natural[c.key], c.most), whole[c.key])
    return cells, natural, whole


def fit(columns: Sequence[Column], natural: Mapping[str, int], room: int, *,
        extras_first: bool = False, figures: Mapping[str, int] | None = None,
        padding: int = PADDING) -> list[tuple[Column, int]]:
    """The columns to show in `room` cells, with their widths, given each column's `natural` width: the CLI's rule
    (console/column_fit.py), with this console's parameters (see `rule`). With `extras_first`, columns of priority
    EXTRA and up go before any name is cut, if that lets every value show whole. `figures`: the widest figure of
    each "mixed" column (never wider than its natural width, as `measure` gives them), which it is never cut below.
    `padding`: the cells each column takes besides its width (a DataTable's two; a table drawn in a Static may
    have one)."""
    rules = [rule(c, figures or {}) for c in columns]
    of = {r.key: c for r, c in zip(rules, columns, strict=True)}
    if extras_first:  # the Campaigns list: at 160 beside its plan it cuts nothing
        layout = fit_whole_first(rules, natural, room, extras=EXTRA, gap=padding, edge=0)
    else:
        layout = fit_columns(rules, natural, room, gap=padding, edge=0)
    return [(of[r.key], width) for r, width in layout]


def rule(column: Column, figures: Mapping[str, int]) -> Fit:
    """How `column` gives way under the shared rule: a count or an id is whole (never cut); a name, a text or a
    "mixed" column may be cut with … down to its `least`, a mixed one never below its widest figure. (The CLI
    keeps its first column whole instead and wraps its texts: what a narrowed column looks like is each view's.)"""
    return Fit(column.key, whole=column.kind in ("count", "id"), priority=column.priority,
               least=max(column.least, figures.get(column.key, 0)))


class FitTable(DataTable):
    """A DataTable whose columns are chosen by its width (see the module's docstring). Fill it with `show()`."""

    def __init__(self, columns: Sequence[Column], *, extras_first: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.specs = tuple(columns)
        self.extras_first = extras_first  # see fit(): a list whose names matter more than its extra counts
        self._layout: tuple[tuple[str, int, str], ...] = ()
        self._rows: list[tuple[str, Mapping[str, Any]]] = []
        self._newest_first: tuple[str, Callable[[Any], Any]] | None = None
        self._showing = False
        for column in self.specs:  # until the first rows: every column, as wide as its label
            self.add_column(self._label(column), key=column.key)

    @property
    def shown(self) -> tuple[str, ...]:
        """The keys of the columns shown now."""
        return tuple(str(key.value) for key in self.columns)

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Another set of columns (e.g. a score column joins); shown with the next `show()`."""
        self.specs = tuple(columns)

    @staticmethod
    def _label(column: Column, width: int | None = None) -> Text:
        """The column's header; a "mixed" column's (a step's name) is cut with … like its words when the column is
        narrower (a count's never is: its width counts its label)."""
        label = cut(column.label, width) if width is not None and column.kind == "mixed" else column.label
        return Text(str(label), justify="right" if column.kind in ("count", "id") else "left")

    def _room(self, rows: int) -> int:
        """The cells the columns may take: the table's width, less a vertical scrollbar's only when `rows` (one
        line each) are more than the lines below the header — a short list has no scrollbar, and keeping its room
        cut names that fit (the tmux tour: `A nostalgi…` with cells to spare)."""
        width = self.size.width or self.app.size.width
        if not self.size.height:
            return width - self.styles.scrollbar_size_vertical  # not laid out yet: assume the worst until resized
        header = self.header_height if self.show_header else 0
        if rows + header > self.size.height:
            return width - self.styles.scrollbar_size_vertical
        return width

    def show(self, rows: Sequence[tuple[str, Mapping[str, Any]]], *,
             newest_first: tuple[str, Callable[[Any], Any]] | None = None) -> None:
        """Show `rows` (row key, {column key: value}), choosing the columns that fit; updates in place (sync_table),
        so a live refresh keeps the cursor, and a `/` filter stays applied."""
        self._showing = True
        try:
            self._show(list(rows), newest_first)
        finally:
            self._showing = False

    def _show(self, rows: list[tuple[str, Mapping[str, Any]]],
              newest_first: tuple[str, Callable[[Any], Any]] | None) -> None:
        self._rows, self._newest_first = rows, newest_first
        cells, natural, whole = measure(self.specs, [values for _, values in rows])
        layout = fit(self.specs, natural, self._room(len(rows)), extras_first=self.extras_first, figures=whole)
        wanted = tuple((c.key, w, c.label) for c, w in layout)  # a label too: a step renamed, its width kept
        current = cursor_key(self)
        # a column cursor (a program's steps) stays on its column when the columns are made again
        column_at = self.ordered_columns[self.cursor_column].key.value \
            if self.cursor_type == "column" and self.cursor_column < len(self.ordered_columns) else None
        if wanted != self._layout or self.shown != tuple(k for k, _, _ in wanted):
            self.clear(columns=True)
            for column, width in layout:
                self.add_column(self._label(column, width), key=column.key, width=width)
            self._layout = wanted
        sync_table(self, [(key, [cut(cells[c.key][i], w) for c, w in layout]) for i, (key, _) in enumerate(rows)],
                   newest_first=newest_first)
        if current is not None and self.row_count and current in {str(k.value) for k in self.rows}:
            self.move_cursor(row=self.get_row_index(current), animate=False)
        if column_at in self.shown and self.row_count:
            self.move_cursor(column=self.shown.index(str(column_at)), animate=False)

    def clear(self, columns: bool = False) -> FitTable:
        """Empty the table; a screen that empties it (another campaign, another state) is not shown its old rows
        again when the terminal is resized."""
        if not self._showing:
            self._rows = []
        super().clear(columns)
        return self

    def on_resize(self, event: events.Resize) -> None:
        if self._rows or self._layout:
            self.show(self._rows, newest_first=self._newest_first)
