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
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from console import audit as audit_log

    ws = workspace_from(ctx)
    db = ws.open()
    rows = audit_log.recent(db, limit=limit, action=action)
    if as_json:
        emit_rows(rows, as_json=True)
        return
    zone = ZoneInfo(ws.config.timezone)
    table = [
        {
            "when": datetime.fromtimestamp(row["at"], zone).strftime("%Y-%m-%d %H:%M"),
            "who": f"{row['actor']}@{row['host']}",
            "action": row["action"],
            "details": _details(row["details"]),
        }
        for row in rows
    ]
    emit_rows(table, as_json=False, title=f"audit log (times in {ws.config.timezone})", empty="the audit log is empty")


def _details(details: dict) -> str:
    """key=value pairs, leaving out the empty ones, lists and maps written compactly."""
    import json

    parts = []
    for key, value in details.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        parts.append(f"{key}={value}")
    return " ".join(parts)
