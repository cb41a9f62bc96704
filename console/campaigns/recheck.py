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
from console.policy.blocked import blocked_user_ids
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
    """`blocked(db, recipients)` → why each of them who must not be messaged now must not."""

    def __init__(self, config: Config, channel: str, marks: Marks):
        self.config = config
        self.channel = channel
        self.marks = marks
        self.fallback = "granted" if unknown_consent_allows(config, channel) else "withdrawn"

    def blocked(self, db: sqlite_utils.Database, recipients: list[tuple[int, str | None]]) -> dict[int, str]:
        """{user_id: reason} for those of *recipients* — (user id, address as in sends.address) — who must not be
        messaged now; one pass for a whole group of messages about to leave."""
        if not recipients:
            return {}
        out: dict[int, str] = {}
        users = sorted({u for u, _ in recipients})
        # Same order as the policy engine: consent first, then the suppression list. Only rows added since the
        # claim are read: a rowid range, empty almost always.
        changed = {r[0] for r in db.execute(
            "SELECT DISTINCT user_id FROM consents WHERE id > ? AND channel = ? AND user_id IN "
            "(SELECT value FROM json_each(?))", [self.marks.consent, self.channel, _json(users)])}
        if changed:
            latest = LATEST_STATUS_SQL.format(user="u.value", channel="?")
            out.update((r[0], "no_consent") for r in db.execute(
                f"SELECT u.value FROM json_each(?) u WHERE COALESCE(({latest}), ?) != 'granted'",
                [_json(sorted(changed)), self.channel, self.fallback]))
        new = db.execute("SELECT user_id, address FROM suppressions WHERE id > ? AND removed_at IS NULL "
                         "AND channel IN (?, 'all')", [self.marks.suppression, self.channel]).fetchall()
        if new:
            by_user = {r[0] for r in new if r[0] is not None}
            by_address = {r[1] for r in new if r[1] is not None}
            for user_id, address in recipients:
                if user_id not in out and (user_id in by_user or (address is not None and address in by_address)):
                    out[user_id] = "suppressed"
        # Opt-outs recorded durably in the side journal while the database was busy, not yet folded into the
        # suppression list (engineer D, issue #19 point 1): console.policy.blocked knows them. It repeats the full
        # suppression/consent check too (the claim already did that), so only a journaled opt-out is new here.

        rest = [(u, a) for u, a in recipients if u not in out]
        out.update((u, "suppressed") for u in blocked_user_ids(db, self.config, self.channel, rest))
        return out


def _json(values: list[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


__all__ = ["Marks", "Recheck", "marks_now"]
