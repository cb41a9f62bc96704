"""What every console screen shares: navigation keys, data loading in thread workers, live tables.

The threading rule (as in harlequin): nothing on the event loop touches SQLite. `fetch()` runs a service function
in a thread worker with its own connection and posts the result back as a `Fetched` message; only the handler,
on the event loop, touches widgets. A worker that raises ends in the app's central error dialog.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, ParamSpec, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, TextArea
from textual.worker import get_current_worker

from screens import table_filter
from screens.failures import operator_message
from screens.host import ConsoleHost
from screens.tables import cursor_key as cursor_key  # screens import it from here
from screens.tables import sync_table
from screens.widgets import ConsoleHeader, KeyBar

if TYPE_CHECKING:
    import sqlite_utils
    from textual.message_pump import MessagePump
    from textual.timer import Timer

# The top-level screens and the key that opens each (also the mode names in the app).
NAV_KEYS: dict[str, tuple[str, str]] = {
    "overview": ("o", "Overview"),
    "segments": ("s", "Segments"),
    "messages": ("m", "Messages"),
    "campaigns": ("c", "Campaigns"),
    "policy": ("p", "Policy"),
    "deliveries": ("d", "Deliveries"),
    "audit": ("a", "Audit"),
    "model": ("y", "Model"),
    "offers": ("O", "Offers"),
    "programs": ("P", "Programs"),
}
# Areas an operator visits now and then: in `?` and the palette, not in the overview's footer (80 columns).
QUIET_AREAS = frozenset({"model", "offers", "programs"})


def winback_app(node: MessagePump) -> ConsoleHost:
    """The running app as a ConsoleHost (screens/host.py: what screens may ask of screens.app.WinbackApp), so its
    methods are type-checked (Textual types `app` as the base App). Every console screen and widget runs inside
    WinbackApp; this is a cast, nothing is checked at run time."""
    return cast(ConsoleHost, node.app)


def nav_bindings(*, show: bool) -> list[Binding]:
    """The screen-switching keys, shown in the footer only where there is room (the overview)."""
    return [
        Binding(key, f"app.goto('{name}')", label, show=show and name not in QUIET_AREAS, id=f"goto.{name}")
        for name, (key, label) in NAV_KEYS.items()
    ]


_NOTHING = object()

# fetch(key, service, *args): the args are checked against the service's own (after the db it is given).
P = ParamSpec("P")


def background_priority() -> None:
    """Lower the calling worker thread's CPU priority (Linux: per-thread nice), so that on a busy machine the event
    loop — keys and painting — runs first and a heavy query waits instead of the operator."""
    # Not Linux, or not allowed: the work simply runs at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class Fetched(Message):
    """A thread worker finished loading `key`; `data` is what the service returned.

    `polled`: fetched by the screen's own refresh (timer or return to the screen), not by an operator's action;
    such a result is not shown again when it equals what is already on screen.
    """

    def __init__(self, key: str, data: Any, polled: bool = False) -> None:
        super().__init__()
        self.key = key
        self.data = data
        self.polled = polled


class FetchFailed(Message):
    """Loading `key` failed with an input or environment error (screens.failures); `text` says what to do.

    `bug`: the failure is a bug in winback; the app's error dialog says so, and this message only lets the screen
    show in place that the load ended (a pane showing "loading" would otherwise spin for ever).
    """

    def __init__(self, key: str, text: str, polled: bool = False, bug: bool = False) -> None:
        super().__init__()
        self.key = key
        self.text = text
        self.polled = polled
        self.bug = bug


class WinbackScreen(Screen):
    """A console screen: nav keys, Esc back, `?` help, and `fetch()` for data.

    Each subclass sets `CSS_PATH = "<module>.tcss"`: Textual reads it beside the module, and every rule in it
    is rooted at the screen's class name because screen CSS applies app-wide.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *nav_bindings(show=False),
        Binding("escape", "back", "Back", id="back"),
        Binding("question_mark", "app.help", "Help", key_display="?", id="help"),
    ]
    # Set on subclasses: seconds between live refreshes while the screen is showing (None: no polling).
    POLL_SECONDS: ClassVar[float | None] = None
    LABEL: ClassVar[str] = ""  # the screen's name in the header, help and palette
    ALWAYS_SHOW: ClassVar[frozenset[str]] = frozenset()  # fetch keys shown even when unchanged (rates)
    FRESH_SECONDS: ClassVar[float] = 3.0  # returning to the screen within this long after a load: no reload

    def compose(self) -> ComposeResult:
        config = winback_app(self).workspace.config
        header = ConsoleHeader(config.workspace, winback_app(self).workspace.db_path.name, config.timezone)
        header.screen_label = self.LABEL
        yield header
        yield from self.compose_body()
        yield KeyBar()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the header and the footer."""
        yield from ()

    def __init__(self) -> None:
        super().__init__()
        self._poll_timer: Timer | None = None
        self._shown: dict[str, Any] = {}
        self._polling = False
        self._loaded_at = float("-inf")
        self._loaded_version = -1

    def action_back(self) -> None:
        """Esc: leave a filter or editor field first; otherwise go back."""
        focused = self.focused
        if focused is not None and focused.has_class("escapable"):
            self.leave_field(focused)
            return
        if table_filter.clear_focused(self):  # a table filtered with `/`: Esc shows all its rows first
            return
        winback_app(self).go_back()

    def leave_field(self, field: Any) -> None:
        """Esc in a field marked `escapable`: move the focus to the screen's main table."""
        tables = list(self.query(DataTable).results())
        if tables:
            tables[0].focus()
        else:
            self.set_focus(None)

    # ---- loading ---------------------------------------------------------------------------------------

    def fetch(self, key: str, service: Callable[Concatenate[sqlite_utils.Database, P], Any], *args: P.args,
              **kwargs: P.kwargs) -> None:
        """Run `service(db, *args, **kwargs)` in a thread worker; its result arrives at `show_<key>(data)`.

        Exclusive per (screen, key): a newer fetch of the same thing cancels the older one, whose result is then
        dropped rather than shown out of order.
        """
        workspace = winback_app(self).workspace
        polled = self._polling

        def load() -> None:
            background_priority()
            try:
                db = workspace.open()  # a connection belongs to the thread that opened it
                try:
                    data = service(db, *args, **kwargs)
                finally:
                    db.close()
            except Exception as error:
                # An input or environment error is shown where it happened (FetchFailed); a bug goes on to the
                # app's error dialog.
                message = operator_message(error)
                if message is None:
                    # A bug: the app's error dialog reports it; the screen still hears that the load ended.
                    if not get_current_worker().is_cancelled:
                        self.post_message(FetchFailed(key, f"a bug in winback: {type(error).__name__}: {error}",
                                                      polled, bug=True))
                    raise
                if not get_current_worker().is_cancelled:
                    self.post_message(FetchFailed(key, message, polled))
                return
            if not get_current_worker().is_cancelled:
                self.post_message(Fetched(key, data, polled))

        # Run by the app, not the screen: Worker.StateChanged does not bubble, and the app's one handler turns
        # any failure into an error dialog.
        self.app.run_worker(
            load, name=key, group=f"{id(self)}:{key}", thread=True, exclusive=True, exit_on_error=False
        )

    @on(Fetched)
    def _dispatch_fetched(self, message: Fetched) -> None:
        message.stop()
        show = getattr(self, f"show_{message.key}", None)
        if show is not None:
            # A poll that brings nothing new repaints nothing: repaints are what makes keys feel slow.
            if (message.polled and message.key not in self.ALWAYS_SHOW
                    and self._shown.get(message.key, _NOTHING) == message.data):
                return
            self._shown[message.key] = message.data
        done = None if show else getattr(self, f"done_{message.key}", None)
        if done is not None:
            winback_app(self).data_version = getattr(self.app, "data_version", 0) + 1
        handler = show or done
        if handler is not None and self.is_mounted:
            handler(message.data)

    @on(FetchFailed)
    def _dispatch_failed(self, message: FetchFailed) -> None:
        """An input or environment error while loading `key`: the screen's `failed_<key>(text)` shows it in place
        (the preview pane, the problems line); otherwise the app reports it without taking the focus."""
        message.stop()
        if not self.is_mounted:
            return
        failed = getattr(self, f"failed_{message.key}", None)
        if failed is not None:
            self._shown.pop(message.key, None)  # whatever was shown is gone: the next good result repaints
            failed(message.text)
            return
        if message.bug:
            return  # the app's error dialog reports it
        action = getattr(self, f"done_{message.key}", None) is not None
        winback_app(self).report_failure(message.key, message.text, action=action, polled=message.polled)

    def refresh_data(self) -> None:
        """Load (or reload) what the screen shows. Subclasses call `fetch()` here."""

    # ---- lifecycle: load on show, poll only while showing -------------------------------------------------

    def on_screen_resume(self) -> None:
        self._blink_off_if_asked()
        # Paint the screen as it was first, then load — unless it was loaded moments ago and nothing was changed
        # from the console since: an operator flipping between screens should not set off a reload (and a CPU
        # spike) with every key.
        changed = getattr(self.app, "data_version", 0) != self._loaded_version
        if changed or time.monotonic() - self._loaded_at > self.FRESH_SECONDS:
            self.call_after_refresh(self._poll)
        if self.POLL_SECONDS and self._poll_timer is None:
            self._poll_timer = self.set_interval(self.POLL_SECONDS, self._poll)

    def _poll(self) -> None:
        """The screen's own refresh: results equal to what is shown are not painted again."""
        self._loaded_at = time.monotonic()
        self._loaded_version = getattr(self.app, "data_version", 0)
        self._polling = True
        try:
            self.refresh_data()
        finally:
            self._polling = False

    def on_screen_suspend(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None

    def _blink_off_if_asked(self) -> None:
        # Snapshot tests and frozen demos turn cursor blinking off so screens are byte-stable.
        if not getattr(self.app, "cursor_blink", True):
            for widget in self.query(Input).results():
                widget.cursor_blink = False
            for area in self.query(TextArea).results():
                area.cursor_blink = False

    @property
    def workspace(self):
        return winback_app(self).workspace

    @property
    def currency(self) -> str:
        return winback_app(self).workspace.config.currency

    @property
    def timezone(self) -> str:
        return winback_app(self).workspace.config.timezone


class ListFilter:
    """`/` on a screen whose main list is filled with `show_rows()` (segments, templates, campaigns).

    Mix into a WinbackScreen and set FILTER_TABLE to the main table's selector. `/` filters the table that has
    the focus (screens.table_filter: any cell, case-insensitively, "n of m match"); Enter returns to the table
    keeping the filter, Esc clears it.
    """

    FILTER_TABLE: ClassVar[str] = ""
    FILTER_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/", id="list.filter"),
    ]

    def show_rows(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
        self._all_rows = list(rows)
        sync_table(self.query_one(self.FILTER_TABLE, DataTable), self._all_rows)  # type: ignore[attr-defined]

    @property
    def _filter_text(self) -> str:
        """The main list's filter as typed in its bar (lower case)."""
        return table_filter.needle_of(self.query_one(self.FILTER_TABLE, DataTable))  # type: ignore[attr-defined]

    @_filter_text.setter
    def _filter_text(self, text: str) -> None:
        self._wanted_filter = text  # applied by _apply_filter

    def _apply_filter(self) -> None:
        """Filter the main list by what `_filter_text` was set to (empty: show it all, put the bar away)."""
        table = self.query_one(self.FILTER_TABLE, DataTable)  # type: ignore[attr-defined]
        text = getattr(self, "_wanted_filter", "")
        table_filter.set_filter(table, text)
        if not text:
            for bar in self.query(table_filter.FilterBar).results():  # type: ignore[attr-defined]
                if bar.table is table:
                    bar.display = False

    def action_filter(self) -> None:
        """/: filter the rows of the table that has the focus, as you type."""
        table_filter.open_filter(self, table_filter.target_table(self))  # type: ignore[arg-type]
