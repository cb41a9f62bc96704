"""Policy: waiting for issue 5 (console.policy); until it lands this screen says so instead of showing made-up data."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.base import WinbackScreen
from screens.widgets import EmptyState


class PolicyScreen(WinbackScreen):
    """Policy."""

    LABEL = "Policy"
    CSS_PATH = "policy.tcss"

    def compose_body(self) -> ComposeResult:
        yield EmptyState("Policy: this capability has not landed yet (issue 5 (console.policy)).", id="policy-pending")
