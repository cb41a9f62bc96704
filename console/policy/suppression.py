"""The suppression list: opt-outs, hard bounces, complaints and manual blocks, per channel or for all channels.

An entry names a normalised address, a user, or both; a send is suppressed when any entry in force matches its
channel (or 'all') by address or by user. Entries are never deleted: removal stamps who, when and why (audited).

Here: the operator's commands (add, import a file, list, remove). The entries themselves — address forms, one
entry's insert, opt-outs, the match a send is checked against — are console/policy/suppression_entries.py; every
name of that module can still be imported from this one.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TypedDict, cast

import sqlite_utils

from console import audit
from console.audit import current_operator
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput, NotFound
from console.importing.reading import read_utf8
from console.policy import journal
from console.policy.consent import check_channel
from console.policy.suppression_entries import (  # the entries' module: its names are this module's too
    PHONE_CHANNELS,
    REASONS,
    SUPPRESSION_CHANNELS,
    Entry,
    address_kind,
    apply_suppress_entry,
    check_reason,
    insert_and_audit,
    insert_entry,
    mark_suppressed,
    mask,
    matching_entries,
    normalise_address,
    record_opt_out,
)
from console.users import require_user_id, user_id_by_external_id
from storage.tx import immediate

__all__ = [
    "PHONE_CHANNELS", "REASONS", "SUPPRESSION_CHANNELS", "Entry", "address_kind", "apply_suppress_entry",
    "check_reason", "insert_and_audit", "insert_entry", "mask", "mark_suppressed", "matching_entries",
    "normalise_address", "record_opt_out", "add_suppression", "parse_import", "import_suppressions",
    "list_suppressions", "remove_suppression",
]


class Suppressed(TypedDict):
    """What `add_suppression` did."""

    id: int | None             # None while only journaled
    created: bool              # False: already suppressed
    channel: str
    address: str | None        # normalised
    user: str | None           # external id
    reason: str
    journaled: bool            # the database was busy: in the opt-out journal, folded in when it is free


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
) -> Suppressed:
    """Suppress an address and/or a user (by external id) on a channel or 'all', audited.

    The entry is first written to the opt-out journal (console/policy/journal.py), durable at once and already
    honoured by every later claim, then folded into the list if the database's write lock comes within *wait_ms*.
    While another process holds it (a long import) the result says `journaled` (no id yet): the entry goes into
    the list as soon as the database is free. An in-memory database has no journal: written directly."""
    channel = check_channel(channel, allow=("all",))
    reason = check_reason(reason)
    if not address and not user:
        raise BadInput("name an address, a user (--user), or both")
    normal = normalise_address(address, channel, config.default_region) if address else None
    user_id = require_user_id(db, user) if user else None
    result: Suppressed = {"id": None, "created": True, "channel": channel, "address": normal, "user": user,
                              "reason": reason, "journaled": False}
    path = journal.journal_for(db)
    if path is None:
        entry_id, created = insert_and_audit(db, Entry(channel, reason, normal, user_id, note), source=source,
                                              user=user)
        return {**result, "id": entry_id, "created": created}
    item = journal.new_entry("suppress", channel, address=normal, user_id=user_id, reason=reason, source=source,
                             note=note, user=user, operator=current_operator())
    journal.record(path, [item])
    folded = journal.try_fold(db, config, apply_suppress_entry, [item], wait_ms=wait_ms)
    if folded is None:
        return {**result, "journaled": True}
    row = db.execute(
        "SELECT id FROM suppressions WHERE removed_at IS NULL AND channel = ? AND address IS ? AND user_id IS ?",
        [channel, normal, user_id],
    ).fetchone()
    return {**result, "id": int(row[0]) if row else None, "created": bool(folded.get("suppressed_created"))}


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


class SuppressionRow(TypedDict):
    """One entry of the suppression list as `list_suppressions` gives it."""

    id: int
    channel: str               # a channel, or all
    address: str | None        # None: the entry is for a user
    user: str | None           # the user's external id
    reason: str
    source: str | None
    note: str | None
    at: int
    created_by: str | None
    removed_at: int | None     # None: in force
    removed_by: str | None
    removed_reason: str | None


def count_in_force(db: sqlite_utils.Database) -> int:
    """How many suppression entries are in force (a listing shows the newest of them)."""
    return int(db.execute("SELECT COUNT(*) FROM suppressions WHERE removed_at IS NULL").fetchone()[0])


def list_suppressions(
    db: sqlite_utils.Database,
    *,
    channel: str | None = None,
    reason: str | None = None,
    include_removed: bool = False,
    limit: int | None = None,
) -> list[SuppressionRow]:
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
    return cast(list[SuppressionRow], list(db.query(sql, params)))


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


