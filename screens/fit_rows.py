"""FitTable's rules for a table drawn inside a Static (issue 18, "fits at 80 columns"): `FitRows` is a rich
renderable that chooses its columns when it is drawn, for the width it is given — the same `measure` and `fit` as
a FitTable (screens/columns.py): counts whole, right-aligned, with thousands separators; names cut with …; the
highest priority columns left out first when even cut names do not fit. A rich Table left to itself squeezes every
column, counts too ('¥103,086,2…'), and can drop a column of names altogether."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from screens.columns import Cells, Column, cut, fit, measure

PADDING = 1   # one cell to the right of each column (no box)


class FitRows:
    """`rows` ({column key: value}) under `columns`, fitted to the width the Static gives when drawn."""

    def __init__(self, columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], *,
                 header_style: str = "dim") -> None:
        self.columns = tuple(columns)
        self.rows = list(rows)
        self.header_style = header_style

    def shown(self, width: int) -> list[tuple[Column, int]]:
        """The columns drawn in `width` cells, with their widths."""
        return self._fitted(width)[1]

    def _fitted(self, width: int) -> tuple[Cells, list[tuple[Column, int]]]:
        cells, natural, whole = measure(self.columns, self.rows)
        return cells, fit(self.columns, natural, width, figures=whole, padding=PADDING)

    def table(self, width: int) -> Table:
        """The rows as a rich Table `width` cells wide at most (unless even the counts alone are wider)."""
        cells, layout = self._fitted(width)
        table = Table(box=None, padding=(0, PADDING, 0, 0), show_header=True, header_style=self.header_style,
                      expand=False, show_edge=False)
        for column, w in layout:
            right = column.kind in ("count", "id")
            table.add_column(str(cut(column.label, w)), justify="right" if right else "left", width=w, no_wrap=True)
        for i in range(len(self.rows)):
            table.add_row(*(_as_text(cut(cells[c.key][i], w)) for c, w in layout))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widths = [w + PADDING for _, w in self.shown(options.max_width)]
        return Measurement(min(sum(widths), options.max_width), min(sum(widths), options.max_width))


def _as_text(value: str | Text) -> Text:
    """A str cell as plain text (not markup: a name may hold '[')."""
    return value if isinstance(value, Text) else Text(value)
