"""The notice a window smaller than the console's 80×24 shows instead of cut cells.

Every screen is laid out for at least 80 columns and 24 rows; below that, tables and panels are cut without a
word. While the window is smaller, a plain screen on top of whatever is showing says so and takes the keys
(ctrl+q still quits); when the window grows back, it goes and the screen under it is as it was.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH = 80
MIN_HEIGHT = 24


def too_small(size: Size) -> bool:
    return size.width < MIN_WIDTH or size.height < MIN_HEIGHT


def notice(size: Size, quit_key: str = "ctrl+q") -> Text:
    # Short lines: the window reading it may be narrow.
    text = Text(f"winback needs at least {MIN_WIDTH}×{MIN_HEIGHT};\nthis window is {size.width}×{size.height}.",
                style="bold")
    text.append(f"\nMake the window larger to carry on\n({quit_key} quits).")
    return text


class TooSmallScreen(Screen[None]):
    """Covers the console while the window is too small: the notice, and nothing an operator could mistype into."""

    DEFAULT_CSS: ClassVar[str] = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen #too-small { width: 100%; height: auto; padding: 0 1; text-align: center; }
    """

    def __init__(self, size: Size) -> None:
        super().__init__()
        self._size = size

    def compose(self) -> ComposeResult:
        yield Static(notice(self._size, self._quit_keys()[0]), id="too-small")

    def show_size(self, size: Size) -> None:
        self._size = size
        if self.is_mounted:
            self.query_one("#too-small", Static).update(notice(size, self._quit_keys()[0]))

    def _quit_keys(self) -> list[str]:
        """The keys that quit ([keys] in winback.toml may have moved ctrl+q: screens/keys.py)."""
        key_for = getattr(self.app, "key_for", None)
        keys = key_for("quit", "ctrl+q") if key_for is not None else "ctrl+q"
        return [k.strip() for k in keys.split(",") if k.strip()] or ["ctrl+q"]

    def on_key(self, event: events.Key) -> None:
        # Keys stop here (an area key or `w` would open a screen nobody can read), except the one that quits.
        if event.key in self._quit_keys():
            return
        event.stop()
        event.prevent_default()


def fit_window(app: App, size: Size) -> None:
    """The notice on top while `size` is too small; gone (the screen under it again) once it is large enough."""
    screen = app.screen
    if too_small(size):
        if isinstance(screen, TooSmallScreen):
            screen.show_size(size)
        else:
            app.push_screen(TooSmallScreen(size))
    elif isinstance(screen, TooSmallScreen):
        app.pop_screen()


def follow_window_size(app: App) -> None:
    """Keep the notice on top whatever comes to the screen while the window is small (a dialog a worker opens,
    an area switched to), and check the size the console starts in. The app calls `fit_window` on each resize."""
    app.screen_change_signal.subscribe(app, lambda _screen: fit_window(app, app.size))
    fit_window(app, app.size)
