"""Deliveries: waiting for issue 6 (console.campaigns tallies); until it lands this screen says so instead of showing made-up data."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.base import WinbackScreen
from screens.widgets import EmptyState


class DeliveriesScreen(WinbackScreen):
    """Deliveries."""

    LABEL = "Deliveries"
    CSS_PATH = "deliveries.tcss"

    def compose_body(self) -> ComposeResult:
        yield EmptyState("Deliveries: this capability has not landed yet (issue 6 (console.campaigns tallies)).", id="deliveries-pending")
