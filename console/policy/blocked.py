"""Who must not be messaged *right now* on a channel: the dispatcher's last look before a message is handed over.

Blocked means any of: a suppression in force (by user or by address, on the channel or on 'all'); a latest consent
that is not granted (or no consent where the channel's `unknown_consent` is "deny"); an opt-out recorded in the
opt-out journal and not yet folded into the database (console/policy/journal.py) — so an opt-out taken while an
import held the write lock already counts. Read-only: no write lock, safe outside a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from console.config import Config
from console.policy import journal
from console.policy.consent import LATEST_STATUS_SQL, unknown_consent_allows

_CHUNK = 500  # SQLite's bound on host parameters is far above; this keeps each statement small


def blocked_user_ids(db: sqlite_utils.Database, config: Config, channel: str,
                     recipients: Iterable[tuple[int, str | None]]) -> set[int]:
    """The user ids among *recipients* — (user id, normalised address as in `sends.address`) — that must not be
    sent to on *channel* now."""
    pairs = list(recipients)
    if not pairs:
        return set()
    blocked: set[int] = set()
    pending_users, pending_addresses = journal.pending_blocks(db, channel)
    for user_id, address in pairs:
        if user_id in pending_users or (address is not None and address in pending_addresses):
            blocked.add(user_id)
    fallback = "granted" if unknown_consent_allows(config, channel) else "withdrawn"
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start:start + _CHUNK]
        users = [u for u, _ in chunk]
        addresses = [a for _, a in chunk if a]
        umarks, amarks = ",".join("?" * len(users)), ",".join("?" * len(addresses))
        suppressed_users = {r[0] for r in db.execute(
            f"SELECT user_id FROM suppressions WHERE removed_at IS NULL AND channel IN (?, 'all') "
            f"AND user_id IN ({umarks})", [channel, *users])}
        suppressed_addresses = {r[0] for r in db.execute(
            f"SELECT address FROM suppressions WHERE removed_at IS NULL AND channel IN (?, 'all') "
            f"AND address IN ({amarks})", [channel, *addresses])} if addresses else set()
        not_granted = {r[0] for r in db.execute(
            "SELECT u.value FROM json_each(?) u WHERE COALESCE((SELECT c.status FROM consents c "
            "WHERE c.user_id = u.value AND c.channel = ? ORDER BY c.at DESC, c.id DESC LIMIT 1), ?) != 'granted'",
            [_json_ints(users), channel, fallback])}
        for user_id, address in chunk:
            if user_id in suppressed_users or user_id in not_granted or (address and address in suppressed_addresses):
                blocked.add(user_id)
    return blocked


def refused_sql(user: str, address: str, channel: str) -> str:
    """SQL predicate: the user said no on *channel* — a suppression in force (by user or by address, on the channel
    or on 'all') or a latest consent `withdrawn` — as against merely having no consent on record. *user* and
    *address* are SQL expressions; *channel* one placeholder or literal. For set-based callers (programs' exits);
    opt-outs still in the journal count once folded (console.campaigns.journal_fold.apply_pending_optouts)."""
    active = f"s.removed_at IS NULL AND s.channel IN ({channel}, 'all')"
    latest = LATEST_STATUS_SQL.format(user=user, channel=channel)
    return (f"(EXISTS (SELECT 1 FROM suppressions s WHERE s.user_id = {user} AND {active})"
            f" OR EXISTS (SELECT 1 FROM suppressions s WHERE s.address = {address} AND {active})"
            f" OR ({latest}) = 'withdrawn')")


def _json_ints(values: list[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"
