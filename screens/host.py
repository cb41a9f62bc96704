"""What a console screen may ask of the app it runs in: ConsoleHost, the base class of screens.app.WinbackApp.

Screens and widgets type `self.app` as a ConsoleHost (screens.base.winback_app), never as WinbackApp: the app
imports every screen, so a screen importing the app — even only for a type — drew an import cycle through all of
them. mypy checks WinbackApp's methods against the signatures below (an override must fit its base).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from console.workspace import Workspace

IMPORT_TOOLTIP = "Import users or events from a file (saved mappings)"
# Areas the overview's footer leaves to `?` and the palette, so that `i` Import (which newcomers look for) and
# `q Quit` show whole at 80×24.
OVERVIEW_QUIET = frozenset({"goto.policy", "goto.audit"})


def overview_footer(nav: list[Binding]) -> list[Binding]:
    """The overview's area keys with Policy and Audit out of its footer, then Import shown (the app's `i`, the
    same id so that [keys] moves both; its tooltip too, so `?` lists it once)."""
    return [*(replace(b, show=False) if b.id in OVERVIEW_QUIET else b for b in nav),
            Binding("i", "app.import_file", "Import", id="import", tooltip=IMPORT_TOOLTIP)]


class ConsoleHost(App):
    """The app-wide state and actions that screens use; screens.app.WinbackApp implements each."""

    # Keys that work from any screen (a screen's own key of the same name wins; an input field keeps its letters).
    # Here, not in WinbackApp, so that screens.keys can list their ids without importing the app.
    BINDINGS: ClassVar[list[BindingType]] = [
        # q quits wherever a screen has no q of its own (a screen's binding wins: on Policy q is quiet hours) and no
        # text field has the focus; there the footer shows ctrl+q instead, which quits everywhere. Two ids, so
        # [keys] can move either (one id on both keys would make Textual's keymap report a clash with itself).
        Binding("q", "quit", "Quit", id="quit.q"),
        Binding("ctrl+q", "quit", "Quit", id="quit"),
        Binding("w", "find_person", "Find a person", id="find", show=False),
        Binding("slash", "filter_table", "Filter", key_display="/", id="filter", show=False),
        Binding("i", "import_file", "Import", id="import", show=False, tooltip=IMPORT_TOOLTIP),
    ]

    workspace: Workspace
    running_campaigns: tuple[str, ...]
    followed_campaign: str | None   # the campaign the Deliveries screen shows
    data_version: int               # bumped by every change made from the console: screens reload when they return

    if TYPE_CHECKING:  # implemented by WinbackApp and its mixins; declared only, so nothing here shadows them
        def as_of(self) -> int: ...
        def key_for(self, binding_id: str, default: str) -> str: ...
        def go_back(self) -> None: ...
        def leave_screen(self, screen: Screen, leave: Callable[[], object], *, verb: str = "Leave") -> None: ...
        def area_screen(self, mode: str) -> Screen: ...
        def open_deliveries(self, campaign: str) -> None: ...
        def open_person(self, user: str) -> None: ...
        def action_find_person(self) -> None: ...
        def action_import_file(self) -> None: ...
        def new_segment(self) -> None: ...
        def new_campaign(self) -> None: ...
        def choose_campaign(self, verb: str) -> None: ...
        def retire_offer(self) -> None: ...
        def refresh_profiles(self) -> None: ...
        def start_dispatch(self, action: str, name: str, *, real: bool = False,
                           accept_warnings: bool = False) -> None: ...
        def sends_in_progress(self) -> list[str]: ...
        def report_failure(self, name: str, text: str, *, action: bool, polled: bool = False) -> None: ...
