"""Folding the opt-out journal (console/policy/journal.py) into the database: each kind of entry with the code that
applies it when the database is free — a reply or an unsubscribe (console/campaigns/answers.py, which checks the
campaign's brakes) and an operator's `suppress add` (console/policy/suppression.py).

Here, in console.campaigns, because folding a reply checks a campaign's brakes, and because the dispatcher's claim
folds the journal before it claims: the journal itself stays below both (it keeps the file and the exactly-once
bookkeeping, and takes the fold as a function).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlite_utils

from console.campaigns.answers import Reply, apply_replies, apply_unsubscribe
from console.config import Config
from console.policy import journal
from console.policy.journal import QUICK_WAIT_MS, JournalEntry
from console.policy.suppression import apply_suppress_entry


def fold_entry(db: sqlite_utils.Database, config: Config, entry: JournalEntry) -> Mapping[str, Any]:
    """Apply one journal entry with the same code that applies it when the database is free."""
    p = entry.payload
    if entry.kind == "reply":
        return apply_replies(db, config, entry.channel,
                             [Reply(1, entry.address or "", p["text"], p.get("scope"), p.get("key"))],
                             source=p["source"], received_at=entry.recorded_at)
    if entry.kind == "unsubscribe":
        return apply_unsubscribe(db, config, entry.user_id or 0, entry.channel, p["campaign_id"],
                                 at=entry.recorded_at) or {}
    if entry.kind == "suppress":
        return apply_suppress_entry(db, config, entry)
    raise ValueError(f"unknown opt-out journal entry kind {entry.kind!r}")


def apply_pending_optouts(db: sqlite_utils.Database, config: Config, *,
                          only: list[JournalEntry] | None = None) -> dict[str, Any]:
    """Fold pending journal entries (or just *only*) into the database (journal.fold_pending); summed summaries."""
    return journal.fold_pending(db, config, fold_entry, only=only)


def try_apply(db: sqlite_utils.Database, config: Config, entries: list[JournalEntry] | None = None, *,
              wait_ms: int = QUICK_WAIT_MS) -> dict[str, Any] | None:
    """apply_pending_optouts if the write lock comes within *wait_ms*; None (entries stay journaled) if not."""
    return journal.try_fold(db, config, fold_entry, entries, wait_ms=wait_ms)
