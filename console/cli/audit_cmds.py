"""`winback audit`: who did what, when."""

from __future__ import annotations

from typing import Annotated

import typer

from console.cli.output import JsonFlag, emit_rows, workspace_from


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many entries, newest first.")] = 50,
    action: Annotated[str | None, typer.Option("--action", help="Only this action; * matches any text.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Who did what, when: the append-only audit log, newest first."""
    from console import audit as audit_log
    from console.clock import ts_to_iso

    db = workspace_from(ctx).open()
    rows = audit_log.recent(db, limit=limit, action=action)
    if not as_json:
        for row in rows:
            row["at"] = ts_to_iso(row["at"])
            row["details"] = ", ".join(f"{k}={v}" for k, v in row["details"].items())
    emit_rows(rows, as_json=as_json, columns=["at", "actor", "host", "action", "details"],
              empty="the audit log is empty")
