"""`winback audit`: who did what, when."""

from __future__ import annotations

from typing import Annotated

import typer

from console.cli.output import JsonFlag, emit_rows, say, workspace_from


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many entries, newest first.")] = 50,
    action: Annotated[str | None, typer.Option("--action", help="Only this action; * matches any text.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Who did what, when: the append-only audit log, newest first."""
    from console import audit as audit_log
    from console.timefmt import iso, local_time, zone_label

    ws = workspace_from(ctx)
    tz = ws.config.timezone
    db = ws.open()
    # One more than asked: whether the log goes on past the entries shown, said under the table.
    rows = audit_log.recent(db, limit=limit + 1, action=action)
    more, rows = len(rows) > limit, rows[:limit]
    if as_json:
        # `at` stays epoch seconds (scripts read it); `at_iso` is the same moment in ISO 8601 with its offset.
        emit_rows([{**row, "at_iso": iso(row["at"], tz)} for row in rows], as_json=True)
        return
    table = [
        {
            "when": local_time(row["at"], tz, label=False),
            "who": f"{row['actor']}@{row['host']}",
            "action": row["action"],
            "details": _details(row["details"]),
        }
        for row in rows
    ]
    zone = f"{tz}, {zone_label(rows[0]['at'], tz)}" if rows else tz
    emit_rows(table, as_json=False, title=f"audit log (times in {zone})", empty="the audit log is empty")
    if more:
        say(f"the newest {limit} entries; the log goes on: --limit N shows more, --action ACTION filters")


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
