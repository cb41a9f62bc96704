"""Commands for issue #3. Registered on the root app by console.cli."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
