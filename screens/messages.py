"""Messages: waiting for issue 4 (console.templates, console.offers); until it lands this screen says so instead of showing made-up data."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.base import WinbackScreen
from screens.widgets import EmptyState


class MessagesScreen(WinbackScreen):
    """Messages."""

    LABEL = "Messages"
    CSS_PATH = "messages.tcss"

    def compose_body(self) -> ComposeResult:
        yield EmptyState("Messages: this capability has not landed yet (issue 4 (console.templates, console.offers)).", id="messages-pending")
