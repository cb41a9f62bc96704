"""The suppression list: opt-outs, hard bounces, complaints and manual blocks, per channel or for all channels.

An entry names a normalised address, a user, or both; a send is suppressed when any entry in force matches its
channel (or 'all') by address or by user. Entries are never deleted: removal stamps who, when and why (audited).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from console import audit
from console.audit import current_operator
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput, NotFound
from console.importing.reading import read_utf8
from console.policy.consent import CHANNELS, check_channel, record_consent
from console.privacy import mask_address
from console.users import require_user_id, user_id_by_external_id
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


def add_suppression(
    db: sqlite_utils.Database,
    config: Config,
    *,
    address: str | None = None,
    user: str | None = None,
    channel: str = "all",
    reason: str = "manual",
    source: str = "cli",
    note: str | None = None,
    wait_ms: int = 2000,
) -> dict[str, Any]:
    """Suppress an address and/or a user (by external id) on a channel or 'all', audited.

    The entry is first written to the opt-out journal (console/policy/journal.py), durable at once and already
    honoured by every later claim, then folded into the list if the database's write lock comes within *wait_ms*.
    While another process holds it (a long import) the result says `journaled` (no id yet): the entry goes into
    the list as soon as the database is free. An in-memory database has no journal: written directly."""
    from console.policy import journal

    channel = check_channel(channel, allow=("all",))
    reason = check_reason(reason)
    if not address and not user:
        raise BadInput("name an address, a user (--user), or both")
    normal = normalise_address(address, channel, config.default_region) if address else None
    user_id = require_user_id(db, user) if user else None
    result: dict[str, Any] = {"id": None, "created": True, "channel": channel, "address": normal, "user": user,
                              "reason": reason, "journaled": False}
    path = journal.journal_for(db)
    if path is None:
        entry_id, created = _insert_and_audit(db, Entry(channel, reason, normal, user_id, note), source=source,
                                              user=user)
        return {**result, "id": entry_id, "created": created}
    item = journal.new_entry("suppress", channel, address=normal, user_id=user_id, reason=reason, source=source,
                             note=note, user=user, operator=current_operator())
    journal.record(path, [item])
    folded = journal.try_apply(db, config, [item], wait_ms=wait_ms)
    if folded is None:
        return {**result, "journaled": True}
    row = db.execute(
        "SELECT id FROM suppressions WHERE removed_at IS NULL AND channel = ? AND address IS ? AND user_id IS ?",
        [channel, normal, user_id],
    ).fetchone()
    return {**result, "id": int(row[0]) if row else None, "created": bool(folded.get("suppressed_created"))}


def _insert_and_audit(db: sqlite_utils.Database, entry: Entry, *, source: str, user: str | None,
                      at: int | None = None, created_by: str | None = None) -> tuple[int, bool]:
    with immediate(db):
        entry_id, created = insert_entry(db, entry, source=source, at=at, created_by=created_by)
        if created:
            audit.record(db, "suppress.add", id=entry_id, channel=entry.channel, reason=entry.reason, source=source,
                         address=mask(entry.channel, entry.address), user=user)
    return entry_id, created


def apply_suppress_entry(db: sqlite_utils.Database, config: Config, item: Any) -> dict[str, Any]:
    """Fold one journaled `suppress add` (a console.policy.journal.JournalEntry) into the list."""
    p = item.payload
    _, created = _insert_and_audit(
        db, Entry(item.channel, p["reason"], item.address, item.user_id, p.get("note")), source=p["source"],
        user=p.get("user"), at=item.recorded_at, created_by=p.get("operator"))
    return {"suppressed_created": int(created)}


def parse_import(
    text: str, *, name: str, channel: str, reason: str, region: str, db: sqlite_utils.Database
) -> list[Entry]:
    """Read a suppression file: CSV with a header naming `address` (optional `channel`, `reason`, `user`,
    `note`), or one address per line. Every problem is reported with its line; nothing is returned partially."""
    lines = text.splitlines()
    first = lines[0].lower() if lines else ""
    header_cols = [c.strip() for c in first.split(",")]
    errors: list[str] = []
    entries: list[Entry] = []
    has_header = "address" in header_cols or "user" in header_cols
    if has_header:
        rows = csv.DictReader(io.StringIO(text))
        numbered = ((i + 2, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()})
                    for i, row in enumerate(rows))
    else:
        numbered = ((i + 1, {"address": line.strip()}) for i, line in enumerate(lines))
    for line_no, row in numbered:
        if not any(row.values()):
            continue
        column = None   # which column the problem is in (a CSV with a header names it)
        try:
            column = "channel"
            ch = check_channel(row.get("channel") or channel, allow=("all",))
            column = "reason"
            rs = check_reason(row.get("reason") or reason)
            address = row.get("address") or None
            user_ext = row.get("user") or None
            column = None
            if not address and not user_ext:
                raise BadInput("no address and no user")
            column = "address"
            normal = normalise_address(address, ch, region) if address else None
            column = "user"
            user_id = require_user_id(db, user_ext) if user_ext else None
            entries.append(Entry(channel=ch, reason=rs, address=normal, user_id=user_id, note=row.get("note") or None))
        except BadInput as exc:
            where = f", column {column}" if has_header and column else ""
            errors.append(f"{name} line {line_no}{where}: {exc}")
    if errors:
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise BadInput("; ".join(errors[:20]) + more + ". Nothing was imported.")
    return entries


def import_suppressions(
    db: sqlite_utils.Database,
    config: Config,
    path: Path,
    *,
    channel: str = "all",
    reason: str = "manual",
    source: str | None = None,
) -> dict[str, int]:
    """Import a suppression file in one transaction: all of it or, on any bad line, none of it."""
    text = read_utf8(path)
    entries = parse_import(text, name=path.name, channel=channel, reason=reason,
                           region=config.default_region, db=db)
    source = source or f"import:{path.name}"
    created = 0
    with immediate(db):
        for entry in entries:
            created += insert_entry(db, entry, source=source)[1]
        audit.record(db, "suppress.import", file=str(path), rows=len(entries), created=created, source=source)
    return {"rows": len(entries), "created": created, "already_suppressed": len(entries) - created}


def list_suppressions(
    db: sqlite_utils.Database,
    *,
    channel: str | None = None,
    reason: str | None = None,
    include_removed: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Suppression entries, newest first, with the user's external id."""
    where, params = [], []
    if not include_removed:
        where.append("s.removed_at IS NULL")
    if channel:
        where.append("s.channel = ?")
        params.append(channel)
    if reason:
        where.append("s.reason = ?")
        params.append(check_reason(reason))
    sql = (
        "SELECT s.id, s.channel, s.address, u.external_id AS user, s.reason, s.source, s.note, s.at, "
        "s.created_by, s.removed_at, s.removed_by, s.removed_reason "
        "FROM suppressions s LEFT JOIN users u ON u.id = s.user_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY s.at DESC, s.id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return list(db.query(sql, params))


def remove_suppression(
    db: sqlite_utils.Database,
    config: Config,
    target: str,
    *,
    why: str,
    channel: str | None = None,
) -> list[int]:
    """Lift the entries in force that *target* names (an entry id, an address, or a user's external id),
    optionally only on one channel. Needs a reason; the entry stays, stamped, and the audit log records it."""
    if not why or not why.strip():
        raise BadInput("say why the suppression is removed (--reason)")
    ids = _matching_ids(db, config, target, channel)
    if not ids:
        raise NotFound(f"no suppression in force matches {target!r}" + (f" on {channel}" if channel else ""))
    at, who = now_ts(), current_operator()
    with immediate(db):
        marks = ",".join("?" * len(ids))
        db.execute(
            f"UPDATE suppressions SET removed_at = ?, removed_by = ?, removed_reason = ? "
            f"WHERE id IN ({marks}) AND removed_at IS NULL",
            [at, who, why.strip(), *ids],
        )
        shown = target if target.isdigit() and len(target) < 10 else mask(channel or "all", target)
        audit.record(db, "suppress.remove", ids=ids, target=shown, reason=why.strip())
    return ids


def _matching_ids(db: sqlite_utils.Database, config: Config, target: str, channel: str | None) -> list[int]:
    target = target.strip()
    chan_sql, chan_params = ("", []) if not channel else (" AND channel = ?", [channel])
    if target.isdigit() and len(target) < 10:
        rows = db.execute(
            f"SELECT id FROM suppressions WHERE id = ? AND removed_at IS NULL{chan_sql}", [int(target), *chan_params]
        ).fetchall()
        if rows:
            return [int(r[0]) for r in rows]
    ids: list[int] = []
    user_id = user_id_by_external_id(db, target)
    if user_id is not None:
        ids += [int(r[0]) for r in db.execute(
            f"SELECT id FROM suppressions WHERE user_id = ? AND removed_at IS NULL{chan_sql}", [user_id, *chan_params]
        )]
    try:
        normal = normalise_address(target, channel or "all", config.default_region)
    except BadInput:
        normal = None
    if normal:
        ids += [int(r[0]) for r in db.execute(
            f"SELECT id FROM suppressions WHERE address = ? AND removed_at IS NULL{chan_sql}", [normal, *chan_params]
        )]
    return sorted(set(ids))


def record_opt_out(
    db: sqlite_utils.Database,
    config: Config,
    channel: str,
    address: str,
    *,
    source: str,
    at: int | None = None,
) -> dict[str, Any]:
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
) -> list[dict[str, Any]]:
    """The entries in force that stop *channel* for this user or address (for `winback why`)."""
    return list(
        db.query(
            "SELECT id, channel, address, user_id, reason, source, note, at, created_by FROM suppressions "
            "WHERE removed_at IS NULL AND channel IN (?, 'all') AND (user_id = ? OR (address IS NOT NULL "
            "AND address = ?)) ORDER BY at, id",
            [channel, user_id, address],
        )
    )


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
