"""The Policy screen's data and actions (console.policy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import sqlite_utils

from console.config import Config

if TYPE_CHECKING:   # the policy services load in the worker that calls them
    from console.policy.caps import CapSet
    from console.policy.consent import ConsentCount
    from console.policy.suppression import Suppressed, SuppressionRow

    class PolicyState(TypedDict):   # policy_state
        caps: list[dict[str, Any]]        # id, channel, max, window, label
        window: dict[str, str] | None     # sending, quiet; None: no quiet hours
        window_source: str
        suppressions: list[SuppressionRow]   # in force, newest first
        matched: int                         # entries in force (matching the search): the list holds the newest
        consent: list[ConsentCount]


def policy_state(db: sqlite_utils.Database, config: Config, search: str = "", limit: int = 200) -> PolicyState:
    """Caps, the sending window, suppressions in force (newest first, filtered by `search`), consent overview."""
    from console.policy import caps, consent, quiet_hours, suppression

    window, source = quiet_hours.window_source(db, config)
    entries = suppression.list_suppressions(db, limit=None if search else limit)
    matched = len(entries) if len(entries) < limit else suppression.count_in_force(db)
    if search:
        needle = search.lower()
        entries = [e for e in entries
                   if any(needle in str(e.get(k) or "").lower() for k in ("address", "user", "reason", "channel", "note"))]
        matched = len(entries)
        entries = entries[:limit]
    return {
        "caps": [{"id": r.id, "channel": r.channel, "max": r.max_count, "window": caps.format_window(r.window_seconds),
                  "label": r.label} for r in caps.list_rules(db)],
        "window": None if window is None else {"sending": window.sending, "quiet": window.quiet},
        "window_source": source,
        "suppressions": entries,
        "matched": matched,
        "consent": consent.consent_overview(db, config),
    }


def set_cap(db: sqlite_utils.Database, text: str) -> CapSet:
    """'sms 2/7d' → the same as `winback caps set sms 2/7d`."""
    from console.errors import BadInput
    from console.policy import caps

    channel, _, rule = text.strip().partition(" ")
    if not rule.strip():
        raise BadInput(f"cap {text!r}: write it like `sms 2/7d` or `any 1/1d`")
    return caps.set_rule(db, caps.parse_rule(channel, rule.strip()))


def remove_cap(db: sqlite_utils.Database, channel: str, window: str) -> list[str]:
    from console.policy import caps

    return caps.remove_rules(db, channel, window)


def set_quiet_hours(db: sqlite_utils.Database, span: str) -> Any:
    from console.policy import quiet_hours

    return quiet_hours.set_quiet_hours(db, span)


def add_suppression(db: sqlite_utils.Database, config: Config, *, target: str, channel: str, reason: str,
                    note: str) -> Suppressed:
    """Suppress an address, or a user when `target` is a known external id (as `winback suppress add`)."""
    from console.policy import suppression
    from console.users import user_id_by_external_id

    known_user = user_id_by_external_id(db, target) is not None
    return suppression.add_suppression(
        db, config, address=None if known_user else target, user=target if known_user else None,
        channel=channel or "all", reason=reason or "manual", source="console", note=note or None,
    )


def remove_suppression(db: sqlite_utils.Database, config: Config, entry_id: int, why: str) -> list[int]:
    from console.policy import suppression

    return suppression.remove_suppression(db, config, str(entry_id), why=why)
