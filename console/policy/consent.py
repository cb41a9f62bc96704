"""Consent per user and channel: an append-only history in `consents`; the latest row per (user, channel) wins.

Marketing sends need a granted consent. A user with no row at all is "unknown": the channel setting
`unknown_consent = "deny" | "allow"` in winback.toml decides (default deny: not contacted).
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

import sqlite_utils

from console import audit
from console.channel_names import CHANNELS
from console.clock import now_ts
from console.config import Config, setting_error
from console.errors import BadInput
from console.users import require_user_id
from storage.tx import immediate

# The latest consent row of one user on one channel. Ties on `at` go to the later row (higher id): the most
# recent statement of the user's wish wins.
LATEST_STATUS_SQL = (
    "SELECT c.status FROM consents c WHERE c.user_id = {user} AND c.channel = {channel} "
    "ORDER BY c.at DESC, c.id DESC LIMIT 1"
)


def unknown_consent_allows(config: Config, channel: str) -> bool:
    """Whether a user with no consent row for *channel* may be contacted (channel setting, default no)."""
    value = str(config.channel(channel).get("unknown_consent", "deny")).strip().lower()
    if value not in ("deny", "allow"):
        raise setting_error(config, f"channels.{channel}", "unknown_consent",
                            f"{value!r}: write \"deny\" (default: no consent on record, not contacted) or \"allow\"")
    return value == "allow"


def check_channel(channel: str, *, allow: tuple[str, ...] = ()) -> str:
    channel = channel.strip().lower()
    if channel not in CHANNELS + allow:
        raise BadInput(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS + allow)}")
    return channel


def latest_consent(db: sqlite_utils.Database, user_id: int, channel: str) -> dict[str, Any] | None:
    """The row in force for one user and channel (status, at, source), or None when consent is unknown."""
    rows = list(
        db.query(
            "SELECT id, channel, status, at, source FROM consents WHERE user_id = ? AND channel = ? "
            "ORDER BY at DESC, id DESC LIMIT 1",
            [user_id, channel],
        )
    )
    return rows[0] if rows else None


class ConsentRow(TypedDict):
    """One row of the consents table (append-only: the newest per channel is in force)."""

    id: int
    channel: str
    status: str                # granted | withdrawn
    at: int
    source: str


def consent_history(db: sqlite_utils.Database, user_id: int) -> list[ConsentRow]:
    """Every consent row of one user, newest first."""
    return cast(list[ConsentRow], list(
        db.query(
            "SELECT id, channel, status, at, source FROM consents WHERE user_id = ? ORDER BY at DESC, id DESC",
            [user_id],
        )
    ))


def record_consent(
    db: sqlite_utils.Database,
    user_id: int,
    channel: str,
    status: str,
    *,
    source: str,
    at: int | None = None,
) -> None:
    """Append one consent row (granted or withdrawn). Call inside the caller's transaction."""
    if status not in ("granted", "withdrawn"):
        raise BadInput(f"consent status must be granted or withdrawn, not {status!r}")
    db.execute(
        "INSERT INTO consents (user_id, channel, status, at, source) VALUES (?, ?, ?, ?, ?)",
        [user_id, channel, status, now_ts() if at is None else at, source],
    )


class ConsentChange(TypedDict):
    user: str                  # external id
    channel: str
    status: str
    at: int
    source: str


def change_consent(
    db: sqlite_utils.Database, external_id: str, channel: str, status: str, *, source: str = "cli"
) -> ConsentChange:
    """Grant or withdraw consent for one user from the CLI or the console: one transaction, audited."""
    channel = check_channel(channel)
    user_id = require_user_id(db, external_id)
    at = now_ts()
    with immediate(db):
        record_consent(db, user_id, channel, status, source=source, at=at)
        audit.record(db, f"consent.{'grant' if status == 'granted' else 'withdraw'}",
                     user=external_id, channel=channel, source=source)
    return {"user": external_id, "channel": channel, "status": status, "at": at, "source": source}


def mark_no_consent(db: sqlite_utils.Database, config: Config, channel: str, table: str = "policy_result") -> int:
    """Set-based: mark every still-undecided user in *table* without a granted consent on *channel*; returns how
    many were marked. One index probe per user into consents(user_id, channel, at)."""
    fallback = "granted" if unknown_consent_allows(config, channel) else "withdrawn"
    latest = LATEST_STATUS_SQL.format(user=f"{table}.user_id", channel=":channel")
    return db.execute(
        f"UPDATE {table} SET reason = 'no_consent' "
        f"WHERE reason IS NULL AND COALESCE(({latest}), :fallback) != 'granted'",
        {"channel": channel, "fallback": fallback},
    ).rowcount


class ConsentCount(TypedDict):
    """Users per consent in force on one channel."""

    channel: str
    granted: int
    withdrawn: int
    unknown: int
    unknown_consent: str       # allow | deny: what `unknown` means on this channel


def consent_overview(db: sqlite_utils.Database, config: Config) -> list[ConsentCount]:
    """Per channel: how many users are granted, withdrawn, or unknown (and what unknown means there)."""
    counts: dict[str, dict[str, int]] = {ch: {"granted": 0, "withdrawn": 0} for ch in CHANNELS}
    rows = db.execute(
        "SELECT channel, status, count(*) FROM ("
        " SELECT c.channel, c.status, row_number() OVER (PARTITION BY c.user_id, c.channel "
        "  ORDER BY c.at DESC, c.id DESC) AS n FROM consents c) WHERE n = 1 GROUP BY channel, status"
    ).fetchall()
    for channel, status, n in rows:
        counts.setdefault(channel, {"granted": 0, "withdrawn": 0})[status] = n
    users = db.execute("SELECT count(*) FROM users").fetchone()[0]
    return [
        {"channel": ch, "granted": c["granted"], "withdrawn": c["withdrawn"],
         "unknown": max(0, users - c["granted"] - c["withdrawn"]),
         "unknown_consent": "allow" if ch in CHANNELS and unknown_consent_allows(config, ch) else "deny"}
        for ch, c in counts.items()
    ]
