"""The notice a window smaller than the console's 80×24 shows instead of cut cells.

Every screen is laid out for at least 80 columns and 24 rows; below that, tables and panels are cut without a
word. While the window is smaller, a plain screen on top of whatever is showing says so and takes the keys —
except those that quit on the screen under it (`q` where that screen has no `q` of its own and no field has the
focus, `ctrl+q` everywhere, as `[keys]` maps them), which quit as they would there, and which the notice names.
The notice covers a dialog too (one open when the window shrank, or one a worker opens meanwhile): a dialog at
that size would be cut off, with no word why; it waits intact under the notice. The one dialog shown above the
notice is the question the notice's own quit key asks (quit without saving?): it is the answer to a key pressed
on the notice, and the notice is back once it is answered. When the window grows back, the notice goes and
whatever was under it is as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ActiveBinding, App, ComposeResult
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

MIN_WIDTH = 80
MIN_HEIGHT = 24


def too_small(size: Size) -> bool:
    return size.width < MIN_WIDTH or size.height < MIN_HEIGHT


def notice(size: Size, quit_keys: Sequence[str] = ("ctrl+q",)) -> Text:
    # Short lines: the window reading it may be narrow.
    text = Text(f"winback needs at least {MIN_WIDTH}×{MIN_HEIGHT};\nthis window is {size.width}×{size.height}.",
                style="bold")
    text.append(f"\nMake the window larger to carry on\n({' or '.join(quit_keys)} quits).")
    return text


def _quits(active: ActiveBinding) -> bool:
    return active.enabled and active.binding.action in ("quit", "app.quit")


class TooSmallScreen(Screen[None]):
    """Covers the console while the window is too small: the notice, and nothing an operator could mistype into."""

    DEFAULT_CSS: ClassVar[str] = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen #too-small { width: 100%; height: auto; padding: 0 1; text-align: center; }
    """

    def __init__(self, size: Size) -> None:
        super().__init__()
        self._size = size
        # its quit key was pressed: the question that asks (quit without saving?) shows above the notice
        self.asking = False

    def compose(self) -> ComposeResult:
        yield Static(notice(self._size, self._quit_keys()), id="too-small")

    def show_size(self, size: Size) -> None:
        self._size = size
        if self.is_mounted:
            self.query_one("#too-small", Static).update(notice(size, self._quit_keys()))

    def _under(self) -> Screen | None:
        stack = self.app.screen_stack
        at = stack.index(self) if self in stack else len(stack)
        return stack[at - 1] if at > 0 else None

    def _quit_keys(self) -> list[str]:
        """The keys that quit on the screen under the notice, as it has them in force: its own `q` (Policy's quiet
        hours) or a field with the focus keeps `q` from quitting there; [keys] may have moved either key
        (screens/keys.py). The shortest first: `q or ctrl+q`."""
        under = self._under()
        keys = [key for key, active in under.active_bindings.items() if _quits(active)] if under else []
        if not keys:   # nothing under it yet: the key that quits everywhere
            key_for = getattr(self.app, "key_for", None)
            keys = (key_for("quit", "ctrl+q") if key_for is not None else "ctrl+q").split(",")
        return sorted({k.strip() for k in keys if k.strip()}, key=lambda k: (len(k), k)) or ["ctrl+q"]

    async def on_key(self, event: events.Key) -> None:
        # Every key stops here (an area key or `w` would open a screen nobody can read); one that quits on the
        # screen under the notice quits from here too, asking first as it would there (unsaved work, a send).
        event.stop()
        event.prevent_default()
        if event.key in self._quit_keys():
            self.asking = True
            await self.app.run_action("app.quit")

    def on_screen_resume(self) -> None:
        self.asking = False   # back on top: the question (if any) was answered


def fit_window(app: App, size: Size) -> None:
    """The notice on top while `size` is too small; gone (the screen under it again) once it is large enough."""
    stack = app.screen_stack
    if not stack:
        return
    screen = stack[-1]
    if too_small(size):
        if isinstance(screen, TooSmallScreen):
            screen.show_size(size)
        elif _asked_from_notice(stack):
            # the question the notice's quit key asked stays in view, to be answered; the notice is on top again
            # once it is (the screen change calls this again)
            return
        else:
            # over anything else, a dialog too: cut off at this size, it waits intact under the notice
            app.push_screen(TooSmallScreen(size))
    else:
        while isinstance(app.screen_stack[-1], TooSmallScreen) and len(app.screen_stack) > 1:
            app.pop_screen()


def _asked_from_notice(stack: Sequence[Screen]) -> bool:
    """The top screen is a question the notice right under it asked (its quit key: quit without saving?)."""
    below = stack[-2] if len(stack) > 1 else None
    return isinstance(stack[-1], ModalScreen) and isinstance(below, TooSmallScreen) and below.asking


def follow_window_size(app: App) -> None:
    """Keep the notice on top whatever comes to the screen while the window is small (a dialog a worker opens,
    an area switched to), and check the size the console starts in. The app calls `fit_window` on each resize."""
    app.screen_change_signal.subscribe(app, lambda _screen: fit_window(app, app.size))
    fit_window(app, app.size)
