"""The audit log: who did what, when, from where. Append-only."""

from __future__ import annotations

import getpass
import json
import os
import socket
from typing import Any, TypedDict, cast

import sqlite_utils

from console.clock import now_ts
from storage.tx import immediate


def current_operator() -> str:
    """$WINBACK_OPERATOR, else the OS user."""
    env = os.environ.get("WINBACK_OPERATOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(db: sqlite_utils.Database, action: str, **details: Any) -> None:
    """Append one audit entry. Call inside the same transaction as the change it describes."""
    db.execute(
        "INSERT INTO audit (at, actor, host, action, details) VALUES (?, ?, ?, ?, ?)",
        [now_ts(), current_operator(), socket.gethostname(), action,
         json.dumps(details, ensure_ascii=False, default=str)],
    )


def record_now(db: sqlite_utils.Database, action: str, **details: Any) -> None:
    """Append one audit entry in its own write transaction (or the caller's): for something that changed nothing
    else but must be on record, e.g. full addresses shown on screen (PIPL: access is recorded)."""
    with immediate(db):
        record(db, action, **details)


# What `/` on the console's audit log searches: the columns it shows, the details as their key=value line.
AUDIT_SEARCHED = ("CAST(id AS TEXT)", "actor", "host", "action", "wb_details(details)")


def _where(db: sqlite_utils.Database, action: str | None, search: str | None) -> tuple[str, list[Any]]:
    from console import search as searching

    clause, params = searching.where(db, AUDIT_SEARCHED, search)
    if action:
        clause += " AND action LIKE ?"
        params.append(action.replace("*", "%"))
    return clause, params


class AuditEntry(TypedDict):
    """One line of the append-only audit log."""

    id: int
    at: int                    # epoch seconds
    actor: str
    host: str
    action: str                # e.g. campaign.launch, person.unmask
    details: dict[str, Any]    # what the action recorded ({} when nothing)


def recent(db: sqlite_utils.Database, limit: int = 50, action: str | None = None,
           search: str | None = None) -> list[AuditEntry]:
    """The newest `limit` entries, newest first; only actions LIKE `action` (* for any text), only entries whose
    shown text contains `search` (console.search), when given."""
    clause, params = _where(db, action, search)
    sql = f"SELECT id, at, actor, host, action, details FROM audit WHERE {clause} ORDER BY id DESC LIMIT ?"
    params.append(limit)
    rows = []
    for row in db.query(sql, params):
        row["details"] = json.loads(row["details"]) if row["details"] else {}
        rows.append(cast(AuditEntry, row))
    return rows


def count(db: sqlite_utils.Database, action: str | None = None, search: str | None = None) -> int:
    """How many entries `recent` would give without a limit."""
    clause, params = _where(db, action, search)
    return int(db.execute(f"SELECT COUNT(*) FROM audit WHERE {clause}", params).fetchone()[0])
