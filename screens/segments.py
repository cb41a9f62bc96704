"""Segments: waiting for issue 3 (console.segments); until it lands this screen says so instead of showing made-up data."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.base import WinbackScreen
from screens.widgets import EmptyState


class SegmentsScreen(WinbackScreen):
    """Segments."""

    LABEL = "Segments"
    CSS_PATH = "segments.tcss"

    def compose_body(self) -> ComposeResult:
        yield EmptyState("Segments: this capability has not landed yet (issue 3 (console.segments)).", id="segments-pending")
