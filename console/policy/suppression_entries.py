"""The suppression list's entries: the address forms they match in, one entry's insert (audited or not), a
journaled `suppress add` folded in, an opt-out's entries, and the match a send is checked against.

What the dispatcher, the inbound writes and the opt-out journal's fold need; the operator's commands (add, import,
list, remove) are console/policy/suppression.py, which also exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict, cast

import sqlite_utils

from console import audit
from console.audit import current_operator
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.policy.consent import CHANNELS, check_channel, record_consent
from console.policy.journal import JournalEntry
from console.privacy import mask_address
from storage.tx import immediate

REASONS = ("opt_out", "bounce", "complaint", "manual")
SUPPRESSION_CHANNELS = (*CHANNELS, "all")
# Channels whose address is a phone number.
PHONE_CHANNELS = ("sms", "call")


def address_kind(channel: str, raw: str) -> str:
    """'phone', 'email' or 'token': from the channel, or for 'all'/'gift' from the address's shape."""
    if channel in PHONE_CHANNELS:
        return "phone"
    if channel == "email":
        return "email"
    if channel == "push":
        return "token"
    if "@" in raw:
        return "email"
    stripped = raw.strip().replace(" ", "").replace("-", "")
    return "phone" if stripped.lstrip("+").isdigit() else "token"


def normalise_address(raw: str, channel: str, region: str = "CN") -> str:
    """The form addresses are matched in: E.164 phones (read in *region* without +CC), lower-case emails,
    push tokens as given. Raises BadInput with the address and the reason when it cannot be read."""
    text = (raw or "").strip()
    if not text:
        raise BadInput("empty address")
    kind = address_kind(channel, text)
    if kind == "phone":
        import phonenumbers

        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as exc:
            # phonenumbers' own words ("(1) The string supplied did not seem to be …") help nobody.
            raise BadInput(f"{text!r} is not a phone number (digits, with +country code or as dialled in "
                           f"{region})") from exc
        if not phonenumbers.is_valid_number(number):
            raise BadInput(f"{text!r} is not a valid number for region {region}")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if kind == "email":
        local, at, domain = text.partition("@")
        if not at or not local or "." not in domain or "@" in domain or " " in text:
            raise BadInput(f"{text!r} is not an email address")
        # Whole address in lower case: mailbox providers treat local parts case-insensitively in practice,
        # and a block that misses "Li@x.cn" because the import said "li@x.cn" is the worse error.
        return text.lower()
    return text


def mask(channel: str, address: str | None) -> str:
    """An address masked for the screen and the audit log, whatever the channel ('all' included)."""
    if not address:
        return ""
    kind = address_kind(channel, address)
    return mask_address({"phone": "sms", "email": "email"}.get(kind, "push"), address)


@dataclass
class Entry:
    """One suppression to add (before it has an id)."""

    channel: str
    reason: str
    address: str | None = None
    user_id: int | None = None
    note: str | None = None


def check_reason(reason: str) -> str:
    reason = reason.strip().lower().replace("-", "_")
    if reason == "hard_bounce":
        reason = "bounce"
    if reason not in REASONS:
        raise BadInput(f"unknown suppression reason {reason!r}; choose one of {', '.join(REASONS)}")
    return reason


def insert_entry(db: sqlite_utils.Database, entry: Entry, *, source: str, at: int | None = None,
                 created_by: str | None = None) -> tuple[int, bool]:
    """Insert one entry unless the same block (channel, address, user) is already in force.

    Returns (id, created). No transaction of its own: call inside the caller's.
    """
    existing = db.execute(
        "SELECT id FROM suppressions WHERE removed_at IS NULL AND channel = ? "
        "AND address IS ? AND user_id IS ?",
        [entry.channel, entry.address, entry.user_id],
    ).fetchone()
    if existing:
        return int(existing[0]), False
    cur = db.execute(
        "INSERT INTO suppressions (channel, address, user_id, reason, source, note, at, created_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [entry.channel, entry.address, entry.user_id, entry.reason, source, entry.note,
         now_ts() if at is None else at, created_by or current_operator()],
    )
    assert cur.lastrowid is not None  # always set after a one-row INSERT into a rowid table
    return cur.lastrowid, True


def insert_and_audit(db: sqlite_utils.Database, entry: Entry, *, source: str, user: str | None,
                      at: int | None = None, created_by: str | None = None) -> tuple[int, bool]:
    with immediate(db):
        entry_id, created = insert_entry(db, entry, source=source, at=at, created_by=created_by)
        if created:
            audit.record(db, "suppress.add", id=entry_id, channel=entry.channel, reason=entry.reason, source=source,
                         address=mask(entry.channel, entry.address), user=user)
    return entry_id, created


class SuppressFolded(TypedDict):   # apply_suppress_entry: one journal fold's summary
    suppressed_created: int         # 1: a new entry, 0: it was on the list already


class OptOutRecorded(TypedDict):   # record_opt_out
    id: int                         # the address's entry
    address: str                    # as stored (normalised)
    users: list[int]                # the users with that address: suppressed, consent withdrawn


class SuppressionRow(TypedDict):   # matching_entries: an entry in force, as stored
    id: int
    channel: str                    # a channel, or 'all'
    address: str | None             # normalised; None: the entry names a user
    user_id: int | None
    reason: str                     # one of REASONS
    source: str
    note: str | None
    at: int
    created_by: str


def apply_suppress_entry(db: sqlite_utils.Database, config: Config, item: JournalEntry) -> SuppressFolded:
    """Fold one journaled `suppress add` into the list (a journal fold: console.policy.journal.Fold)."""
    p = item.payload
    _, created = insert_and_audit(
        db, Entry(item.channel, p["reason"], item.address, item.user_id, p.get("note")), source=p["source"],
        user=p.get("user"), at=item.recorded_at, created_by=p.get("operator"))
    return {"suppressed_created": int(created)}


def record_opt_out(
    db: sqlite_utils.Database,
    config: Config,
    channel: str,
    address: str,
    *,
    source: str,
    at: int | None = None,
) -> OptOutRecorded:
    """An opt-out arrived (a STOP reply, a one-click unsubscribe): suppress the address on that channel, and
    suppress and withdraw the consent of every user with that address, at once, in one transaction (audited).

    The person asked to stop, not only the number: a new number from the next CRM import must not bring them back
    (docs/policy.md). Lifting it takes `suppress remove --reason`.

    Inside an open transaction it joins it (as a savepoint), so the inbound server can commit the reply and the
    opt-out together. Returns the entry id and the users whose consent was withdrawn.
    """
    channel = check_channel(channel)
    normal = normalise_address(address, channel, config.default_region)
    at = now_ts() if at is None else at
    column = "email" if channel == "email" else "push_token" if channel == "push" else "phone"
    with immediate(db):
        entry_id, _ = insert_entry(db, Entry(channel=channel, reason="opt_out", address=normal), source=source, at=at)
        if column == "email":
            users = [r[0] for r in db.execute("SELECT id FROM users WHERE lower(email) = ?", [normal])]
        else:
            users = [r[0] for r in db.execute(f"SELECT id FROM users WHERE {column} = ?", [normal])]
        for user_id in users:
            insert_entry(db, Entry(channel=channel, reason="opt_out", user_id=user_id), source=source, at=at)
            record_consent(db, user_id, channel, "withdrawn", source=source, at=at)
        audit.record(db, "suppress.opt_out", id=entry_id, channel=channel, address=mask(channel, normal), source=source,
                     users=len(users))
    return {"id": entry_id, "address": normal, "users": users}


def matching_entries(
    db: sqlite_utils.Database, *, user_id: int, address: str | None, channel: str
) -> list[SuppressionRow]:
    """The entries in force that stop *channel* for this user or address (for `winback why`)."""
    return cast(list[SuppressionRow], list(
        db.query(
            "SELECT id, channel, address, user_id, reason, source, note, at, created_by FROM suppressions "
            "WHERE removed_at IS NULL AND channel IN (?, 'all') AND (user_id = ? OR (address IS NOT NULL "
            "AND address = ?)) ORDER BY at, id",
            [channel, user_id, address],
        )
    ))


def mark_suppressed(db: sqlite_utils.Database, channel: str, table: str = "policy_result",
                    *, undecided: int | None = None) -> int:
    """Set-based: mark every still-undecided user in *table* whom an entry in force blocks on *channel* (by user
    or by address); returns how many were marked.

    A small batch probes the suppression indexes per user; an audience larger than the list reads the list once
    into two in-memory sets instead (the same predicate, cheaper per user). *undecided* is the caller's count of
    rows still to decide, if known."""
    active = "s.removed_at IS NULL AND s.channel IN (:channel, 'all')"
    size = db.execute("SELECT COALESCE(max(id), 0) FROM suppressions").fetchone()[0]
    if undecided is None:
        undecided = db.execute(f"SELECT count(*) FROM {table} WHERE reason IS NULL").fetchone()[0]
    if undecided >= size:
        sql = (f"UPDATE {table} SET reason = 'suppressed' WHERE reason IS NULL AND ("
               f" user_id IN (SELECT s.user_id FROM suppressions s WHERE s.user_id IS NOT NULL AND {active})"
               f" OR address IN (SELECT s.address FROM suppressions s WHERE s.address IS NOT NULL AND {active}))")
    else:
        sql = (f"UPDATE {table} SET reason = 'suppressed' WHERE reason IS NULL AND ("
               f" EXISTS (SELECT 1 FROM suppressions s WHERE s.user_id = {table}.user_id AND {active})"
               f" OR ({table}.address IS NOT NULL AND EXISTS (SELECT 1 FROM suppressions s"
               f"     WHERE s.address = {table}.address AND {active})))")
    return db.execute(sql, {"channel": channel}).rowcount
