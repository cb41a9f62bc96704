"""Widgets shared by several screens: the header, bar charts and the heat map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, cast

from rich.cells import set_cell_size
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import ActiveBinding, Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from screens.columns import cut
from screens.format import bar, count, local_time
from screens.host import ConsoleHost


class ConsoleHeader(Widget):
    """One line: where the operator is (workspace, database, clock) and, on the right, what is running."""

    DEFAULT_CSS = """
    ConsoleHeader { height: 1; background: $panel; color: $text; }
    """
    as_of: reactive[int] = reactive(0)
    running: reactive[tuple[str, ...]] = reactive(())
    screen_label: reactive[str] = reactive("")

    def __init__(self, workspace: str, database: str, timezone: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.database = database
        self.timezone = timezone

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        # In-memory reads only: the app polls the database for running campaigns in a worker.
        app = cast(ConsoleHost, self.app)   # the header lives in WinbackApp's screens (base imports us: no winback_app)
        self.as_of = app.as_of()
        self.running = app.running_campaigns

    def render(self) -> RenderableType:
        if self.running:
            n = len(self.running)
            right = Text(f"● {n} campaign{'s' if n != 1 else ''} running ", style="bold green")
        else:
            right = Text("no campaign running ", style="dim")
        width = self.size.width
        room = width - right.cell_len
        # The zone is said here once; every time on the screens below is in it (console.timefmt). At 80 columns
        # the year goes before the zone does, then the database's file name.
        for fmt, database in (("%Y-%m-%d %H:%M", True), ("%m-%d %H:%M", True), ("%m-%d %H:%M", False)):
            left = Text()
            if self.screen_label:
                left.append(f" {self.screen_label}", "bold reverse")
            left.append(" ")
            left.append(self.workspace, "bold")
            if database:
                left.append(f" · {self.database}")
            left.append(f" · as of {local_time(self.as_of, self.timezone, fmt, label=True)}")
            if left.cell_len <= room - 2:
                break
        if left.cell_len > room - 2:
            left.truncate(max(room - 2, 0), overflow="ellipsis")
        pad = width - left.cell_len - right.cell_len
        if pad < 3:
            # tight: the header's own separator, never a single space ("…UTC+8 no campaign running" read as one)
            right.rstrip()   # its end margin gives way to the separator's third cell
            return Text.assemble(left, " · ", right)
        return Text.assemble(left, " " * pad, right)


def bar_rows(rows: Sequence[tuple[str, int]], *, width: int = 12, label_width: int = 13) -> Text:
    """Labelled horizontal bars with counts and shares, one per line (the dormancy funnel, breakdowns).

    A line takes label_width + width + 15 cells.
    """
    total = sum(n for _, n in rows) or 0
    top = max((n for _, n in rows), default=0) or 1
    # FitTable's rules (screens/columns.py): a count is whole, right-aligned as wide as the widest (the cells a
    # million needs beyond 7 come from the bar), a label is cut with …
    numbers = max([7, *(len(count(n)) for _, n in rows)])
    width = max(4, width - (numbers - 7))
    text = Text()
    for i, (label, n) in enumerate(rows):
        share = f"{100 * n / total:3.0f}%" if total else "  —"
        if i:
            text.append("\n")
        text.append(f"{set_cell_size(str(cut(label, label_width)), label_width)} {count(n):>{numbers}}  ")
        text.append(bar(n / top, width), "cyan")
        text.append(f" {share}")
    return text


# Darker = more: a ramp of backgrounds from faint to strong.
_HEAT = ["#1d2b3a", "#1f3f5f", "#215a86", "#2476ad", "#2a93d4", "#4fb0ee"]


def _short(label: str) -> str:
    """'warm (<30d)' → 'warm': the name without its threshold, for narrow terminals."""
    return label.split(" (")[0]


def heat_table(rows: Sequence[str], columns: Sequence[str], cells: Sequence[Sequence[int]],
               width: int | None = None, cursor: tuple[int, int] | None = None) -> Table:
    """A count matrix as a heat map: each cell's background darker the more users it holds.

    When the full labels ('warm (<30d)') would not fit in `width` cells, the thresholds are left out.
    `cursor` (row, column): that cell is drawn reversed, with its row and column labels in bold.
    """
    numbers = max((len(count(v)) for row in cells for v in row), default=1)
    needed = max(map(len, rows), default=0) + sum(max(len(c), numbers) + 2 for c in columns) + 2
    if width is not None and needed > width:
        rows = [_short(r) for r in rows]
        columns = [_short(c) for c in columns]
    top = max((v for row in cells for v in row), default=0) or 1
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
    table.add_column("", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for i, (label, values) in enumerate(zip(rows, cells, strict=False)):
        styled = []
        for j, v in enumerate(values):
            level = min(len(_HEAT) - 1, int((len(_HEAT) - 1) * v / top + 0.5)) if v else 0
            style = f"on {_HEAT[level]}" if v else "dim"
            if cursor == (i, j):
                style = "bold reverse"
            styled.append(Text(count(v), style=style))
        table.add_row(Text(label, style="bold" if cursor and cursor[0] == i else ""), *styled)
    return table


class EmptyState(Static):
    """An honest 'nothing here yet' with what to do about it."""

    DEFAULT_CSS = """
    EmptyState { color: $text-muted; padding: 0 1; height: auto; }
    """


class HeatMap(Widget):
    """A count matrix drawn as a heat map that fits its width (thresholds dropped from labels when narrow).

    `selectable=True`: it takes the focus; the arrows move a cursor between cells and Enter posts
    `HeatMap.Selected(row, column)`.
    """

    DEFAULT_CSS = """
    HeatMap { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("enter", "select", "Open layer", id="heat.open"),
    ]
    matrix: reactive[tuple | None] = reactive(None, layout=True)
    cursor: reactive[tuple[int, int]] = reactive((0, 0))

    class Selected(Message):
        """Enter on a cell."""

        def __init__(self, heat_map: HeatMap, row: int, column: int) -> None:
            super().__init__()
            self.heat_map = heat_map
            self.row = row
            self.column = column

        @property
        def control(self) -> HeatMap:
            return self.heat_map

    def __init__(self, empty: str = "", *, selectable: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.empty = empty
        self.can_focus = selectable

    def render(self) -> RenderableType:
        if not self.matrix:
            return Text(self.empty, style="dim")
        rows, columns, cells = self.matrix
        return heat_table(rows, columns, cells, width=self.size.width or None,
                          cursor=self.cursor if self.has_focus else None)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, rows: int, columns: int) -> None:
        """Arrows: the next cell that way (stops at the edges)."""
        if not self.matrix:
            return
        cells = self.matrix[2]
        row = min(max(self.cursor[0] + rows, 0), len(cells) - 1)
        column = min(max(self.cursor[1] + columns, 0), len(cells[row]) - 1)
        self.cursor = (row, column)

    def action_select(self) -> None:
        """Enter: open what the cell under the cursor stands for (the screen decides)."""
        if self.matrix:
            self.post_message(self.Selected(self, *self.cursor))


class BarChart(Widget):
    """Labelled bars with counts and shares, the bars as long as the width allows (the dormancy funnel)."""

    DEFAULT_CSS = """
    BarChart { height: auto; }
    """
    rows: reactive[tuple | None] = reactive(None, layout=True)

    def __init__(self, empty: str = "", label_width: int = 12, **kwargs) -> None:
        super().__init__(**kwargs)
        self.empty = empty
        self.label_width = label_width

    def render(self) -> RenderableType:
        if not self.rows:
            return Text(self.empty, style="dim")
        bars = max(4, (self.size.width or 36) - self.label_width - 15)
        return bar_rows(list(self.rows), width=bars, label_width=self.label_width)


class KeyBar(Widget):
    """The keys in force, in one line at the bottom (a light stand-in for Textual's Footer).

    Textual's Footer rebuilds a widget per key on every screen switch and focus change; on a busy machine that
    alone costs tens of milliseconds per key press. This draws the same keys as text.
    """

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen) -> None:
        self.refresh()

    def render(self) -> RenderableType:
        variables = self.app.theme_variables
        key_style = f"bold {variables.get('footer-key-foreground', variables.get('accent', 'yellow'))}"
        text = Text(no_wrap=True, overflow="ellipsis")
        palette = None
        # One entry per action, at the place of its first key; an action with several keys shows a plain one over
        # a ctrl+ one (quit: `q` where no screen took it, else `^q`) — unless a text field has the focus: it takes
        # the plain letters.
        from textual.widgets import Input, TextArea

        typing = isinstance(self.screen.focused, Input | TextArea)
        shown: dict[tuple[str, str], ActiveBinding] = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if key == self.app.COMMAND_PALETTE_BINDING:
                palette = binding
                continue
            if not binding.show or not binding.description:
                continue
            same = shown.get((binding.action, binding.description))
            if same is None or (not typing and "+" in same.binding.key and "+" not in binding.key):
                shown[(binding.action, binding.description)] = active
        for active in shown.values():
            binding = active.binding
            if text:
                text.append(" ")
            text.append(self.app.get_key_display(binding), key_style if active.enabled else "dim")
            text.append(f" {binding.description}", "dim" if not active.enabled else "")
        right = Text.assemble(("▏", "dim"), ("^p", key_style), " palette ") if palette else Text("")
        if palette and text.cell_len > self.size.width - right.cell_len:
            right = Text.assemble(("▏", "dim"), ("^p", key_style))  # tight: the key alone, help names it
        room = self.size.width - right.cell_len
        if text.cell_len > room:
            text.truncate(max(room - 1, 0), overflow="ellipsis")
        text.pad_right(max(room - text.cell_len, 0))
        return Text.assemble(text, right)
