"""The last look before a message leaves: opt-outs and consent committed since its batch was claimed.

The claim transaction evaluated the whole policy; what can change afterwards, while the batch is with the provider,
is a person saying stop (a STOP reply, a one-click unsubscribe, `suppress add`, `consent withdraw`, a receipt's
complaint). Suppressions and consents are append-only, so the claim notes the highest row id of each (`Marks`) and
the re-check reads only rows added since: a rowid range, empty almost always — cheap enough to run before every
message. (Times would not do: an imported consent carries the time the customer gave it, which may be older than the
claim although the row was committed after it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from console.config import Config
from console.policy.consent import LATEST_STATUS_SQL, unknown_consent_allows


@dataclass(frozen=True)
class Marks:
    """The newest suppression and consent rows the claim's policy check saw."""

    suppression: int
    consent: int


def marks_now(db: sqlite_utils.Database) -> Marks:
    """Read inside the claim transaction, so everything up to these ids was part of the claim's verdict."""
    s = db.execute("SELECT COALESCE(MAX(id), 0) FROM suppressions").fetchone()[0]
    c = db.execute("SELECT COALESCE(MAX(id), 0) FROM consents").fetchone()[0]
    return Marks(int(s), int(c))


class Recheck:
    """`blocked(db, user_id, address)` → None, or why a message to them must not leave now."""

    def __init__(self, config: Config, channel: str, marks: Marks):
        self.config = config
        self.channel = channel
        self.marks = marks
        self.fallback = "granted" if unknown_consent_allows(config, channel) else "withdrawn"

    def blocked(self, db: sqlite_utils.Database, user_id: int, address: str | None) -> str | None:
        # Same order as the policy engine: consent first, then the suppression list.
        if db.execute("SELECT 1 FROM consents WHERE id > ? AND user_id = ? AND channel = ? LIMIT 1",
                      [self.marks.consent, user_id, self.channel]).fetchone():
            latest = LATEST_STATUS_SQL.format(user="?", channel="?")
            status = db.execute(f"SELECT COALESCE(({latest}), ?)", [user_id, self.channel, self.fallback]
                                ).fetchone()[0]
            if status != "granted":
                return "no_consent"
        if db.execute("SELECT 1 FROM suppressions WHERE id > ? AND removed_at IS NULL AND channel IN (?, 'all') "
                      "AND (user_id = ? OR (? IS NOT NULL AND address = ?)) LIMIT 1",
                      [self.marks.suppression, self.channel, user_id, address, address]).fetchone():
            return "suppressed"
        # Opt-outs recorded durably in the side journal while the database was busy, not yet folded into the
        # suppression list (engineer D, issue #19 point 1): console.policy.blocked knows them. It also repeats the
        # full suppression/consent check, which costs a few index probes — the claim already did that, so only a
        # journaled opt-out can make it say "blocked" here.
        from console.policy.blocked import blocked_user_ids

        if user_id in blocked_user_ids(db, self.config, self.channel, [(user_id, address)]):
            return "suppressed"
        return None


__all__ = ["Marks", "Recheck", "marks_now"]
