"""What a new workspace gets: preset segments and any other defaults the capabilities need."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from console.config import Config
from storage.tx import immediate


def ensure_presets(db: sqlite_utils.Database, config: Config) -> None:
    """Create the preset segments (one per dormancy state and per layer) if they are missing.

    Each capability adds its own defaults here; calling this twice changes nothing.
    """
    from console import segments

    segments.ensure_presets(db, config)


def prepare_demo(db: sqlite_utils.Database, config: Config, anchor: int,
                 history: Callable[[], None] | None = None) -> None:
    """After the demo's history is written: derive what a working team would already have.

    Profiles as of the demo's day, the copy library's templates and offers, and the opted-out customers on the
    suppression list — each added here as its capability lands. `history`: more made-up history that needs
    them in place (the ladder's simulated weeks, fixtures/demo_program.py), run before the one refresh.
    """
    from console.workspace_refresh import refresh_workspace

    _install_demo_setup(db, config)
    if history is not None:
        history()
    # The demo's history ends at `anchor` (midnight today), so a refresh as of now sees all of it; not passing
    # as_of keeps later `winback refresh` runs incremental. Last: nothing installed above reads profiles.
    refresh_workspace(db, config)


def _install_demo_setup(db: sqlite_utils.Database, config: Config) -> None:
    _suppress_demo_opt_outs(db)
    _demo_caps(db)
    from fixtures.copy import install, install_demo_offers

    install(db, config)             # the copy library (issue 4)
    install_demo_offers(db, config)
    from console.programs.preset import install_demo_program

    install_demo_program(db)        # the recall ladder, in draft (issue 14)


def _suppress_demo_opt_outs(db: sqlite_utils.Database) -> None:
    """Customers who opted out in the demo's history are on the suppression list, as inbound replies put them."""
    from console.policy.suppression import Entry, insert_entry

    opted_out = db.execute(
        "SELECT c.user_id, c.channel, c.at, u.phone, lower(u.email), u.push_token FROM consents c"
        " JOIN users u ON u.id = c.user_id WHERE c.source = 'demo:opt-out'"
    ).fetchall()
    with immediate(db):
        for user_id, channel, at, phone, email, token in opted_out:
            address = {"sms": phone, "email": email, "push": token}.get(channel)
            insert_entry(db, Entry(channel=channel, reason="opt_out", address=address, user_id=user_id),
                         source="demo:reply", at=at)


def _demo_caps(db: sqlite_utils.Database) -> None:
    """The caps a careful team starts with: at most 2 SMS a week, and one marketing message a day overall."""
    from console.policy.caps import list_rules, parse_rule, set_rule

    if list_rules(db):
        return
    set_rule(db, parse_rule("sms", "2/7d"))
    set_rule(db, parse_rule("any", "1/1d"))
