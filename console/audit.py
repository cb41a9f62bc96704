"""The audit log: who did what, when, from where. Append-only."""

from __future__ import annotations

import getpass
import json
import os
import socket
from typing import Any

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


def recent(db: sqlite_utils.Database, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, at, actor, host, action, details FROM audit"
    params: list[Any] = []
    if action:
        sql += " WHERE action LIKE ?"
        params.append(action.replace("*", "%"))
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    rows = []
    for row in db.query(sql, params):
        row["details"] = json.loads(row["details"]) if row["details"] else {}
        rows.append(row)
    return rows
