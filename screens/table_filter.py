"""`/` on any table: keep only the rows that contain the typed text, say how many match; Esc clears it.

Works on the table that has the focus (segment members, a campaign's recipients, templates, a person's
messages…). Every table filled through `screens.base.sync_table` stays filtered while it refreshes: sync_table
hands its rows to `narrow()`, which remembers them all and returns those that match. A table filled some other
way is read back from the table itself the first time it is filtered.

A table that shows only a page of a longer list (segment members, a campaign's recipients, the audit log) is
`searched_by` its screen instead: the needle goes to the screen, which runs the service's search over every row in
a thread worker and reports back with `found` how many match in all; its rows arrive already matched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

Rows = Sequence[tuple[str, Sequence[Any]]]


@dataclass
class _State:
    needle: str = ""
    rows: list[tuple[str, Sequence[Any]]] = field(default_factory=list)  # every row, filtered or not
    newest_first: tuple[str, Callable[[Any], Any]] | None = None
    search: Callable[[str], None] | None = None  # the screen searches every row (not only those loaded)
    matches: int | None = None  # rows matching the needle in all (a searched table; None: not known yet)
    total: int | None = None  # rows in all, matching or not (a searched table)


_STATES: WeakKeyDictionary[DataTable, _State] = WeakKeyDictionary()


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def matches(cells: Sequence[Any], needle: str) -> bool:
    """True when any cell holds `needle` (case-insensitive; an empty needle matches everything)."""
    return not needle or any(needle in _plain(cell).lower() for cell in cells)


def narrow(table: DataTable, rows: Rows, newest_first: tuple[str, Callable[[Any], Any]] | None = None) -> Rows:
    """Called by sync_table with every row it is about to show: remember them, return those that match."""
    state = _state(table)
    state.rows = list(rows)
    state.newest_first = newest_first
    if not state.needle or state.search is not None:  # a searched table's rows come already matched
        return rows
    return [(key, cells) for key, cells in rows if matches(cells, state.needle)]


def _state(table: DataTable) -> _State:
    state = _STATES.get(table)
    if state is None:
        state = _STATES[table] = _State()
    return state


def searched_by(table: DataTable, search: Callable[[str], None]) -> None:
    """`table` shows a page of a longer list: `/` hands the needle ('' to clear) to `search`, which has the rows
    matched over the whole list (a service with a `search` parameter, in a thread worker) and calls `found`."""
    _state(table).search = search


def found(table: DataTable, needle: str, matches: int | None, total: int | None) -> None:
    """A searched table's screen reports: `matches` rows match `needle` (None when there is no needle) of `total`.
    A report for a needle no longer typed is ignored; the filter bar's count is updated."""
    state = _state(table)
    if needle.strip().lower() != state.needle:
        return
    state.matches, state.total = matches, total
    for bar in table.screen.query(FilterBar).results():
        if bar.table is table:
            bar.show_count()


def count_words(table: DataTable) -> str:
    """What the filter bar says: "12 of 3,456 match", "1,234 of 50,000 match · first 200 shown", "searching…"."""
    state = _STATES.get(table)
    shown, total = counts(table)
    if state is None or state.search is None:
        return f"{shown:,} of {total:,} match" if needle_of(table) else f"{total:,} rows"
    total = state.total if state.total is not None else table.row_count
    if not state.needle:
        return f"{total:,} rows"
    if state.matches is None:
        return "searching…"
    words = f"{state.matches:,} of {total:,} match"
    return words + (f" · first {shown:,} shown" if shown < state.matches else "")


def needle_of(table: DataTable) -> str:
    state = _STATES.get(table)
    return state.needle if state else ""


def counts(table: DataTable) -> tuple[int, int]:
    """(rows shown, rows in all) of a table."""
    state = _STATES.get(table)
    total = len(state.rows) if state and state.needle else table.row_count
    return table.row_count, total


def set_filter(table: DataTable, text: str) -> tuple[int, int]:
    """Show only the rows of `table` that contain `text` (all rows for an empty text); (shown, total)."""
    from screens.base import sync_table

    state = _STATES.get(table)
    if state is None:  # never filled through sync_table: read its rows back once
        state = _STATES[table] = _State(rows=[(str(key.value), table.get_row(key)) for key in table.rows])
    needle = text.strip().lower()
    if state.search is not None:
        if needle != state.needle:
            state.needle, state.matches = needle, None
            state.search(needle)  # the screen fills the table and calls found()
        return counts(table)
    state.needle = needle
    sync_table(table, state.rows, newest_first=state.newest_first)
    return counts(table)


class Filtered(Message):
    """The rows shown in `table` changed because its filter did (screens may refresh a detail pane)."""

    def __init__(self, table: DataTable) -> None:
        super().__init__()
        self.table = table


class FilterInput(Input):
    """The filter's text field: Enter goes back to the table keeping the filter, Esc clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", id="filter.clear"),
    ]

    def action_clear_filter(self) -> None:
        """Esc: show every row again and return to the table."""
        bar = self.parent
        if isinstance(bar, FilterBar):
            bar.clear()


class FilterBar(Horizontal):
    """One line above the key bar: the filter text and how many rows match."""

    DEFAULT_CSS = """
    FilterBar { height: 1; dock: bottom; offset-y: -1; background: $panel; }
    FilterBar FilterInput { width: 1fr; }
    FilterBar #filter-count { width: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, table: DataTable) -> None:
        self.field = FilterInput(placeholder="filter: type to narrow the rows · Enter keeps it · Esc clears it",
                                 id="list-filter", compact=True)
        self.count_label = Static(id="filter-count")
        super().__init__(self.field, self.count_label, id="table-filter")
        self.table = table

    def on_mount(self) -> None:
        self.field.cursor_blink = getattr(self.app, "cursor_blink", True)

    def attach(self, table: DataTable) -> None:
        """Filter `table` from now on (the text field shows its current filter)."""
        self.table = table
        with self.field.prevent(Input.Changed):
            self.field.value = needle_of(table)
        self.show_count()

    def show_count(self) -> None:
        self.count_label.update(count_words(self.table))

    @on(Input.Changed, "#list-filter")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        set_filter(self.table, event.value)
        self.show_count()
        self.post_message(Filtered(self.table))

    @on(Input.Submitted, "#list-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.clear()
            return
        self.table.focus()

    def clear(self) -> None:
        """No filter: every row again, the bar hidden, the focus back on the table."""
        with self.field.prevent(Input.Changed):
            self.field.value = ""
        set_filter(self.table, "")
        self.display = False
        self.table.focus()
        self.post_message(Filtered(self.table))


def target_table(screen: Screen) -> DataTable | None:
    """The table `/` filters: the focused one, else (focus in its filter bar) the bar's, else the first shown."""
    focused = screen.focused
    if isinstance(focused, DataTable):
        return focused
    for bar in screen.query(FilterBar).results():
        if focused is not None and focused.parent is bar:
            return bar.table
    for table in screen.query(DataTable).results():
        if table.display and table.visible:
            return table
    return None


def open_filter(screen: Screen, table: DataTable | None = None) -> FilterBar | None:
    """/: show the filter bar for `table` (default: target_table) and put the cursor in it."""
    table = table or target_table(screen)
    if table is None:
        screen.notify("Nothing to filter on this screen: move to a table first.", severity="warning")
        return None
    bars = list(screen.query(FilterBar).results())
    if bars:
        bar = bars[0]
        bar.attach(table)
    else:
        bar = FilterBar(table)
        screen.mount(bar)
        screen.call_after_refresh(bar.attach, table)
    bar.display = True
    screen.call_after_refresh(bar.field.focus)
    return bar


def clear_focused(screen: Screen) -> bool:
    """Esc on a filtered table clears its filter first (True); False when the focused table is not filtered."""
    focused = screen.focused
    if not isinstance(focused, DataTable) or not needle_of(focused):
        return False
    for bar in screen.query(FilterBar).results():
        if bar.table is focused:
            bar.clear()
            return True
    set_filter(focused, "")
    return True
