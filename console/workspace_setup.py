"""What a new workspace gets: preset segments and any other defaults the capabilities need."""

from __future__ import annotations

import sqlite_utils

from console.config import Config


def ensure_presets(db: sqlite_utils.Database, config: Config) -> None:
    """Create the preset segments (one per dormancy state and per layer) if they are missing.

    Each capability adds its own defaults here; calling this twice changes nothing.
    """
    from console import segments

    segments.ensure_presets(db, config)


def prepare_demo(db: sqlite_utils.Database, config: Config, anchor: int) -> None:
    """After the demo's history is written: derive what a working team would already have.

    Profiles as of the demo's day, the copy library's templates and offers, and the opted-out customers on the
    suppression list — each added here as its capability lands.
    """
    from console.profiles import refresh

    # The demo's history ends at `anchor` (midnight today), so a refresh as of now sees all of it; not passing
    # as_of keeps later `winback refresh` runs incremental.
    refresh(db, config)
    from fixtures.copy import install, install_demo_offers

    install(db, config)             # the copy library (issue 4)
    install_demo_offers(db, config)
