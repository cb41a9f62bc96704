"""Live tables: `sync_table` shows rows in a DataTable updating in place (a refresh keeps the cursor), and each
table's `/` filter state, which sync_table applies so that a filtered table stays filtered while it refreshes.

The filter's bar, keys and count are screens.table_filter's (it exports these names too). Both it and the screens'
base (which fills tables) build on this module, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from rich.text import Text
from textual.widgets import DataTable

from console.ime_text import search_needle

Rows = Sequence[tuple[str, Sequence[Any]]]


@dataclass
class FilterState:
    needle: str = ""
    rows: list[tuple[str, Sequence[Any]]] = field(default_factory=list)  # every row, filtered or not
    newest_first: tuple[str, Callable[[Any], Any]] | None = None
    search: Callable[[str], None] | None = None  # the screen searches every row (not only those loaded)
    matches: int | None = None  # rows matching the needle in all (a searched table; None: not known yet)
    total: int | None = None  # rows in all, matching or not (a searched table)


_STATES: WeakKeyDictionary[DataTable, FilterState] = WeakKeyDictionary()


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def matches(cells: Sequence[Any], needle: str) -> bool:
    """True when any cell holds `needle` (case-insensitive; an empty needle matches everything)."""
    return not needle or any(needle in _plain(cell).lower() for cell in cells)


def narrow(table: DataTable, rows: Rows, newest_first: tuple[str, Callable[[Any], Any]] | None = None) -> Rows:
    """Called by sync_table with every row it is about to show: remember them, return those that match."""
    state = state_of(table)
    state.rows = list(rows)
    state.newest_first = newest_first
    if not state.needle or state.search is not None:  # a searched table's rows come already matched
        return rows
    return [(key, cells) for key, cells in rows if matches(cells, state.needle)]


def state_of(table: DataTable) -> FilterState:
    """The filter's state of `table` (made empty the first time)."""
    state = _STATES.get(table)
    if state is None:
        state = _STATES[table] = FilterState()
    return state


def searched_by(table: DataTable, search: Callable[[str], None]) -> None:
    """`table` shows a page of a longer list: `/` hands the needle ('' to clear) to `search`, which has the rows
    matched over the whole list (a service with a `search` parameter, in a thread worker) and calls `found`."""
    state_of(table).search = search


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
    state = _STATES.get(table)
    if state is None:  # never filled through sync_table: read its rows back once
        state = _STATES[table] = FilterState(rows=[(str(key.value), table.get_row(key)) for key in table.rows])
    needle = search_needle(text)   # typed with a Chinese input method: folded as a segment rule is
    if state.search is not None:
        if needle != state.needle:
            state.needle, state.matches = needle, None
            state.search(needle)  # the screen fills the table and calls found()
        return counts(table)
    state.needle = needle
    sync_table(table, state.rows, newest_first=state.newest_first)
    return counts(table)


def sync_table(table: DataTable, rows: Sequence[tuple[str, Sequence[Any]]], *,
               newest_first: tuple[str, Callable[[Any], Any]] | None = None) -> None:
    """Show `rows` (row key, cells) in `table`, updating in place so a live refresh keeps the cursor.

    Rows that stay keep their place and only changed cells are redrawn; rows that went away are removed; new rows
    are appended. Only when the order of the remaining rows changed is the table rebuilt. Either way the cursor
    stays on the row (key) it was on.

    `newest_first=(column, key)`: give `rows` oldest first and the table shows them sorted by that column, newest
    on top — so a log whose new entries arrive at the top still updates by appending, not by rebuilding.
    """
    rows = narrow(table, rows, newest_first)  # a table filtered with `/` stays filtered while it refreshes
    current = cursor_key(table)
    wanted = [key for key, _ in rows]
    wanted_set = set(wanted)
    existing = [str(key.value) for key in table.rows]
    kept = [key for key in existing if key in wanted_set]
    columns = list(table.columns)
    if kept == wanted[: len(kept)]:
        for key in existing:
            if key not in wanted_set:
                table.remove_row(key)
        for key, cells in rows[: len(kept)]:
            for column, value in zip(columns, cells, strict=False):
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value, update_width=True)
        for key, cells in rows[len(kept):]:
            table.add_row(*cells, key=key)
    else:
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
    if newest_first is not None:
        sort_column, sort_key = newest_first
        table.sort(sort_column, key=sort_key, reverse=True)
    if current is not None and current in wanted_set:
        table.move_cursor(row=table.get_row_index(current), animate=False)


def cursor_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
