"""Which columns of a listing a terminal of a given width shows, and how wide each is.

The rule of the CLI's tables (console/cli/output.py), kept apart from rich and typer so any view may use it:

- a *whole* column (a name or identifier — what the operator types next —, a count, a short word such as a status)
  is never cut nor wrapped: a cut name cannot be typed back, a cut count reads like another number;
- a *text* column (a description, a rule, an error message) may wrap inside its cell, down to its `least` width;
- when the columns still do not fit, the less important ones step aside, the highest `priority` number first (the
  rightmost of equals), as in the console's FitTable (screens/columns.py); priority 0 is always shown;
- when even the columns always shown do not fit, nothing is cut: the table is wider than the room and the terminal
  wraps its lines.

Off a terminal there is no room to fit: a pipe or a file gets every column whole (the caller does not call this).

The console's tables (screens/columns.py: FitTable, FitRows, a program's steps) decide by this same rule and draw
the outcome their own way; where the two views differ, the difference is a parameter here, not a second copy:

- what a narrowed column looks like is the view's: the CLI wraps a text in its cell, the console cuts a name with …
  (a DataTable row is one line). Which columns may be narrowed is each column's `whole`: the CLI keeps a listing's
  first column whole (the name typed next), the console's names may be cut, its counts and identifiers never;
- `least`: the console never cuts a column mixing words and counts below its widest count (its `least` is raised
  to it);
- `gap` and `edge`: a rich Table's padding and rule (3, -1) or a DataTable's padding (2, 0);
- `fit_whole_first`: a list whose names matter more than its extra counts (the console's Campaigns list) lets its
  extra columns step aside before anything is narrowed, when that shows every other cell whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Fit:
    """How one column gives way. whole: never cut nor wrapped. priority: 0 is always shown; the highest number
    steps aside first. least: the narrowest a text column wraps to (a whole column's is its natural width)."""

    key: str
    whole: bool = True
    priority: int = 0
    least: int = 12


def fit_columns(columns: Sequence[Fit], natural: Mapping[str, int], room: int, *,
                gap: int = 3, edge: int = -1) -> list[tuple[Fit, int]]:
    """The columns shown in `room` cells with their widths, given each column's `natural` width (its widest cell
    or header). `gap`: the cells each column takes besides its width (a rich Table's padding and rule: 3); `edge`:
    cells added (or, negative, saved) once for the whole table (no rule after the last column: -1)."""

    def least(column: Fit) -> int:
        return natural[column.key] if column.whole else min(natural[column.key], column.least)

    def needed(chosen: Sequence[Fit], width: Mapping[str, int]) -> int:
        return sum(width[c.key] + gap for c in chosen) + edge

    chosen = list(columns)
    narrowest = {c.key: least(c) for c in chosen}
    # Text wraps before a column steps aside (nothing is lost); a column steps aside before anything is cut.
    while needed(chosen, narrowest) > room:
        droppable = [c for c in chosen if c.priority > 0]
        if not droppable:
            break  # wider than the room: nothing is cut, the terminal wraps the lines
        top = max(c.priority for c in droppable)
        chosen.remove([c for c in droppable if c.priority == top][-1])
    widths = {c.key: natural[c.key] for c in chosen}
    over = needed(chosen, widths) - room
    # Wrap texts, the widest first, one cell at a time, until the columns fit (or every text is at its least).
    while over > 0:
        wrappable = [c for c in chosen if widths[c.key] > narrowest[c.key]]
        if not wrappable:
            break
        widest = max(wrappable, key=lambda c: widths[c.key])
        widths[widest.key] -= 1
        over -= 1
    return [(c, widths[c.key]) for c in chosen]


def fit_whole_first(columns: Sequence[Fit], natural: Mapping[str, int], room: int, *, extras: int,
                    gap: int = 3, edge: int = -1) -> list[tuple[Fit, int]]:
    """As `fit_columns`, but the columns of priority `extras` and up step aside (the highest number first, the
    rightmost of equals) before any column is narrowed, when leaving them out lets every other column show whole:
    a cut name is misread, a column left out is not read at all. When even that does not fit, `fit_columns`."""
    shown = list(columns)
    while shown and _span(shown, natural, gap, edge) > room and any(c.priority >= extras for c in shown):
        top = max(c.priority for c in shown)
        shown.remove([c for c in shown if c.priority == top][-1])
    if shown and _span(shown, natural, gap, edge) <= room:  # an empty table shows nothing whole: not a fit
        return [(c, natural[c.key]) for c in shown]
    return fit_columns(columns, natural, room, gap=gap, edge=edge)


def _span(columns: Sequence[Fit], width: Mapping[str, int], gap: int, edge: int) -> int:
    """The cells `columns` take at `width` each (fit_columns's `needed`)."""
    return sum(width[c.key] + gap for c in columns) + edge
