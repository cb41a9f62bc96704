"""`?`: every key in force on the screen it was opened from, with what it does."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


def keys_in_force(bindings: dict[str, ActiveBinding]) -> list[tuple[str, str]]:
    """(key as shown, what it does) for winback's own enabled bindings, deduplicated.

    winback gives each of its bindings a stable id; the widgets' built-in cursor keys (no id) are left out so
    the list stays short enough to read at 80×24.
    """
    seen: set[tuple[str, str]] = set()
    own: list[tuple[str, str]] = []
    general: list[tuple[int, tuple[str, str]]] = []  # the keys the same everywhere, so listed last (ranked)
    for key, active in bindings.items():
        binding = active.binding
        if not active.enabled or not binding.description or not binding.id:
            continue
        shown = binding.key_display or _display(key)
        row = (shown, binding.tooltip or binding.description)
        if row not in seen:
            seen.add(row)
            everywhere = binding.id.startswith(("goto.", "quit")) or binding.id in ("back", "help", "find", "filter",
                                                                                  "import")
            if everywhere:
                general.append((_rank(binding.id), row))
            else:
                own.append(row)
    # At 80×24 the list shows about fifteen rows: what this screen's own keys do comes first; then back, help,
    # find, filter and import (newcomers look for `i`: it was below the fold after the dozen area keys); the area
    # keys; quitting is last.
    general.sort(key=lambda ranked: ranked[0])
    return own + [row for _, row in general]


def _rank(binding_id: str) -> int:
    return 2 if binding_id.startswith("quit") else 1 if binding_id.startswith("goto.") else 0


def _display(key: str) -> str:
    return {"escape": "Esc", "enter": "Enter", "space": "Space", "question_mark": "?", "slash": "/",
            "left_square_bracket": "[", "right_square_bracket": "]", "tab": "Tab"}.get(key, key)


BOX_WIDTH = 76  # the help box's width (CSS below): 80 columns less a margin either side


class HelpScreen(ModalScreen[None]):
    """Lists the keys in force. Esc, ? or q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    HelpScreen DataTable { height: auto; max-height: 18; }  /* then the screen's height: _fit_height */
    HelpScreen .help-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, screen_name: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.screen_name = screen_name
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Keys in force · {self.screen_name}"
            table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="help-keys")
            key_width = max([3, *(cell_len(key) for key, _ in self.keys)])
            table.add_column("key", width=key_width)
            table.add_column("does", width=self._does_width(key_width))
            for key, does in self.keys:
                # A description longer than its column wraps onto a second line instead of running off the edge.
                table.add_row(key, Text(does), height=None)
            yield table
            yield Static("ctrl+p opens the command palette: every screen and action by name.", classes="help-hint")

    def on_mount(self) -> None:
        self._fit_height()

    def on_resize(self) -> None:
        self._fit_height()

    def _fit_height(self) -> None:
        """As many rows as the terminal has, less the box's border and hint (3) and a row of the screen above and
        below it: 18 at 80x24, every key at 160x45 (a fixed 18 left Import and Quit behind a scroll bar there)."""
        rows = max(self.app.size.height - 6, 5)
        self.query_one(DataTable).styles.max_height = rows

    def _does_width(self, key_width: int) -> int:
        """The room left for "does": the box (76 cells, or the screen) less its border and padding (4), the
        scroll bar (2) and each column's padding (2 + 2)."""
        box = min(BOX_WIDTH, self.app.size.width)
        return max(box - 4 - 2 - (key_width + 2) - 2, 10)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
