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

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

# The filter's state lives beside sync_table, which applies it; its names are this module's too.
from screens.tables import FilterState as FilterState
from screens.tables import Rows as Rows
from screens.tables import counts, needle_of, set_filter, state_of
from screens.tables import matches as matches
from screens.tables import narrow as narrow
from screens.tables import searched_by as searched_by


def found(table: DataTable, needle: str, matches: int | None, total: int | None) -> None:
    """A searched table's screen reports: `matches` rows match `needle` (None when there is no needle) of `total`.
    A report for a needle no longer typed is ignored; the filter bar's count is updated."""
    state = state_of(table)
    if needle.strip().lower() != state.needle:
        return
    state.matches, state.total = matches, total
    for bar in table.screen.query(FilterBar).results():
        if bar.table is table:
            bar.show_count()


def count_words(table: DataTable) -> str:
    """What the filter bar says: "12 of 3,456 match", "1,234 of 50,000 match · first 200 shown", "searching…"."""
    state = state_of(table)
    shown, total = counts(table)
    if state.search is None:
        return f"{shown:,} of {total:,} match" if needle_of(table) else f"{total:,} rows"
    total = state.total if state.total is not None else table.row_count
    if not state.needle:
        return f"{total:,} rows"
    if state.matches is None:
        return "searching…"
    words = f"{state.matches:,} of {total:,} match"
    return words + (f" · first {shown:,} shown" if shown < state.matches else "")


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
