"""Building blocks for the policy tests: users, consents, campaigns and ledger rows written straight into SQLite.

Campaign rows are inserted directly so the policy tests do not depend on the campaign pipeline; the columns used
are those of m005_campaigns. Spending is booked in campaign_runs as the dispatcher does.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

_run = itertools.count(1)


def ts(text: str, zone: str = "UTC") -> int:
    """'2026-11-25 10:00' in *zone* (unless the text carries its own offset) → epoch seconds."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return int(value.timestamp())


def add_user(
    db: sqlite_utils.Database,
    external_id: str,
    *,
    phone: str | None = "+8613800000000",
    email: str | None = None,
    timezone: str | None = None,
    consent: dict[str, str] | None = None,
    at: int = 1_700_000_000,
) -> int:
    cur = db.execute(
        "INSERT INTO users (external_id, phone, email, timezone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [external_id, phone, email, timezone, at, at],
    )
    user_id = int(cur.lastrowid)
    for channel, status in (consent if consent is not None else {"sms": "granted"}).items():
        db.execute("INSERT INTO consents (user_id, channel, status, at, source) VALUES (?, ?, ?, ?, 'test')",
                   [user_id, channel, status, at])
    return user_id


def add_campaign(
    db: sqlite_utils.Database, name: str, channel: str = "sms", *, budget: float | None = None,
    exempt: bool = False, dry_run: bool = False,
) -> int:
    cur = db.execute(
        "INSERT INTO campaigns (name, segment, channel, budget, exempt_caps, dry_run, salt, created_at, "
        "created_by, status) VALUES (?, 'all', ?, ?, ?, ?, 'salt', 0, 'tester', 'running')",
        [name, channel, budget, int(exempt), int(dry_run)],
    )
    return int(cur.lastrowid)


def book(db: sqlite_utils.Database, campaign_id: int, amount: float, *, dry_run: bool = False) -> None:
    """Spending booked on a run of the campaign, as the dispatcher books it at claim time."""
    run = next(_run)
    db.execute("INSERT INTO campaign_runs (campaign_id, run, dry_run, started_at, started_by, spent) "
               "VALUES (?, ?, ?, 0, 'tester', ?)", [campaign_id, run, int(dry_run), amount])


def add_send(
    db: sqlite_utils.Database, campaign_id: int, user_id: int, *, at: int, channel: str = "sms",
    status: str = "sent", counts: bool = True, cost: float | None = None, dry_run: bool = False,
    arm: str = "A",
) -> int:
    cur = db.execute(
        "INSERT INTO sends (campaign_id, user_id, run, arm, channel, status, dry_run, counts_for_caps, cost, "
        "claimed_at, sent_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [campaign_id, user_id, next(_run), arm, channel, status, int(dry_run), int(counts), cost, at,
         at if status in ("sent", "delivered", "bounced") else None, at],
    )
    return int(cur.lastrowid)


def verdicts(results: Any) -> dict[int, tuple[str | None, int | None]]:
    return results.by_user()
