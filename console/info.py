"""What a workspace holds: resolved paths, versions and counts (`winback info`)."""

from __future__ import annotations

import sqlite3
import sys
from typing import TypedDict

from console import __version__
from console.workspace import Workspace
from storage.db import applied_migrations


class WorkspaceInfo(TypedDict):
    winback: str
    python: str
    sqlite: str
    config: str | None         # the config file; None when running on defaults
    database: str
    workspace: str
    timezone: str
    default_region: str
    schema: list[str]          # the migrations applied
    counts: dict[str, int]     # rows per table (campaigns: the operator's own, not programs' steps)


def workspace_info(ws: Workspace) -> WorkspaceInfo:
    db = ws.open()
    counts: dict[str, int] = {}
    for table in ("users", "events", "consents", "segments", "templates", "campaigns", "programs", "sends",
                  "audit"):
        if db[table].exists():
            counts[table] = db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
    if db["campaigns"].exists() and "program_id" in db["campaigns"].columns_dict:
        # a program's steps run as internal campaigns (`campaign list --all`): count the operator's own
        counts["campaigns"] = db.execute("SELECT count(*) FROM campaigns WHERE program_id IS NULL").fetchone()[0]
    return {
        "winback": __version__,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "config": str(ws.config.path) if ws.config.path else None,
        "database": str(ws.db_path.resolve()),
        "workspace": ws.config.workspace,
        "timezone": ws.config.timezone,
        "default_region": ws.config.default_region,
        "schema": applied_migrations(db),
        "counts": counts,
    }
