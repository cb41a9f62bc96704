"""Where the screens get their data: the same console service functions the CLI calls.

Every function here takes a `sqlite_utils.Database` opened by the calling thread worker and returns plain data.
No SQL lives here; where a capability has not landed yet the function answers None, and the screen says so
honestly ("no profiles yet — run winback refresh") instead of showing made-up numbers.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils


def running_campaign_names(db: sqlite_utils.Database) -> tuple[str, ...]:
    """Names of the campaigns sending right now (the header's right side)."""
    try:
        from console.campaigns import list_campaigns  # issue 6
    except ImportError:
        return ()
    return tuple(c["name"] for c in list_campaigns(db) if c.get("status") == "running")


def recent_audit(db: sqlite_utils.Database, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
    from console.audit import recent

    return recent(db, limit=limit, action=action)


def dormancy_funnel(db: sqlite_utils.Database) -> list[tuple[str, int]] | None:
    """(state, users) from active to never active, or None before the first `winback refresh`."""
    return None


def layer_heat(db: sqlite_utils.Database, segment: str | None = None) -> tuple[list[str], list[str], list[list[int]]] | None:
    """The layer matrix of the dormant (rows, columns, counts), or None before profiles exist."""
    return None


def campaign_rows(db: sqlite_utils.Database) -> list[dict[str, Any]] | None:
    """Every campaign with its tally: name, channel, status, dry_run, planned, done, sent, skipped, cost."""
    return None


def overview(db: sqlite_utils.Database) -> dict[str, Any]:
    """Everything the overview shows, in one read."""
    return {
        "funnel": dormancy_funnel(db),
        "layers": layer_heat(db),
        "campaigns": campaign_rows(db),
        "recent": recent_audit(db, limit=4),
    }
