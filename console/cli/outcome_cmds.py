"""`winback outcomes`, `winback serve`, `winback receipts import` (issue #8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from

receipts_app = typer.Typer(help="Delivery receipts exported by providers.", no_args_is_help=True)


def _pct(value: float | None, digits: int = 2) -> str | None:
    return None if value is None else f"{value * 100:.{digits}f}%"


def _pp(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:+.2f} pp"


def outcomes(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Argument(help="Campaign name (or id).")],
    run: Annotated[int | None, typer.Option("--run", help="Run of a recurring campaign (default: the latest).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Who came back, against the holdout: rates, lift, 95% interval, cost per reactivated user."""
    from console.clock import ts_to_iso
    from console.outcomes import campaign_outcomes

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        result = campaign_outcomes(db, campaign, ws.config, run=run)
    finally:
        db.close()
    if as_json:
        print_json(result.to_json())
        return
    kinds = ", ".join(result.conversion_kinds)
    say(
        f"[bold]{result.campaign}[/] run {result.run} · {result.status}{' · DRY RUN' if result.dry_run else ''} · "
        f"coming back = {kinds} within {result.window_days} days of {ts_to_iso(result.start_at) or '—'}"
    )
    cur = result.currency
    emit_rows(
        [
            {
                "arm": a.arm,
                "users": a.users,
                "reached": a.reached,
                "came back": a.converters,
                "rate": _pct(a.rate),
                f"revenue {cur}": a.revenue,
                f"per user {cur}": a.revenue_per_user,
                "coupons used": a.redemptions,
                f"cost {cur}": a.cost,
            }
            for a in result.arms
        ],
        as_json=False,
        title="Per arm",
        empty="no ledger rows for this campaign run",
    )
    if result.comparisons:
        emit_rows(
            [
                {
                    "arm": c.arm,
                    "lift": _pp(c.absolute_lift),
                    "relative": None if c.relative_lift is None else f"{c.relative_lift * 100:+.1f}%",
                    "95% interval": None
                    if c.ci_low is None
                    else f"[{c.ci_low * 100:+.2f}, {c.ci_high * 100:+.2f}] pp",
                    "z": None if c.z is None else round(c.z, 3),
                    "p": None if c.p_value is None else round(c.p_value, 4),
                    "significant": c.significant,
                    "extra came back": c.incremental_conversions,
                    f"extra revenue {cur}": c.incremental_revenue,
                    f"cost per extra {cur}": c.cost_per_incremental,
                    "detectable lift": _pp(c.minimum_detectable_lift),
                }
                for c in result.comparisons
            ],
            as_json=False,
            title="Against the holdout",
        )
    for note in result.notes:
        say(f"note: {note}")
    say(f"[bold]verdict:[/] {result.verdict}")


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8787, or [inbound] port).")] = None,
) -> None:
    """Inbound HTTP: delivery receipts, SMS replies (STOP/退订), one-click unsubscribe (RFC 8058)."""
    from console.inbound.server import run_server

    ws = workspace_from(ctx)
    run_server(ws, host=host, port=port, announce=say)


@receipts_app.command("import")
def receipts_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or JSONL report from the provider.", exists=True, dir_okay=False)],
    channel: Annotated[str, typer.Option("--channel", help="Channel the report is about.")] = "sms",
    replies: Annotated[bool, typer.Option("--replies", help="The file holds inbound replies, not receipts.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Apply a provider's delivery report (same field mapping as `winback serve`). All rows or none."""
    from console.inbound.importer import import_file

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        summary = import_file(db, ws.config, file, channel=channel, replies=replies)
    finally:
        db.close()
    if as_json:
        print_json(summary)
    else:
        emit_rows([summary], as_json=False, title=f"{file.name}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.command("outcomes")(outcomes)
    app.command("serve")(serve)
    app.add_typer(receipts_app, name="receipts")
