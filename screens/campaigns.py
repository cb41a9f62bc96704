"""Campaigns: waiting for issue 6 (console.campaigns); until it lands this screen says so instead of showing made-up data."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.base import WinbackScreen
from screens.widgets import EmptyState


class CampaignsScreen(WinbackScreen):
    """Campaigns."""

    LABEL = "Campaigns"
    CSS_PATH = "campaigns.tcss"

    def compose_body(self) -> ComposeResult:
        yield EmptyState("Campaigns: this capability has not landed yet (issue 6 (console.campaigns)).", id="campaigns-pending")
