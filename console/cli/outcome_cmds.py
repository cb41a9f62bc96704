"""`winback outcomes`, `winback serve`, `winback receipts import` (issue #8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from console.cli.output import JsonFlag, emit_rows, out_console, print_json, say, workspace_from

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
    from console.campaigns.tallies import cost_words
    from console.outcomes import campaign_outcomes
    from console.timefmt import local_time

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        result = campaign_outcomes(db, campaign, ws.config, run=run)
    finally:
        db.close()
    if as_json:
        print_json(result.to_json())
        return
    start = local_time(result.start_at, ws.config.timezone) if result.start_at else None
    mode = "" if result.mode == "real" else f" · {result.mode.upper()}"   # DRY RUN, SIMULATED
    say(
        f"[bold]{result.campaign}[/] run {result.run} · {result.status}{mode}"
        f" · came back = {' or '.join(result.conversion_kinds)} within {result.window_days} days"
        f" of {start or 'launch'}"
    )
    cur = result.currency
    money = cost_words(result.dry_run)  # a dry run spent nothing: its money is what it would cost
    # … nor reached anybody (nor did the demo's simulated campaign): its treated rows are what it would send
    reached = "reached" if result.mode == "real" else "would send"
    emit_rows(
        [
            {
                "arm": a.arm,
                "users": a.users,
                reached: a.reached,
                "came back": a.converters,
                "rate": _pct(a.rate),
                "per user": a.revenue_per_user,
                "coupons": a.redemptions,
                money: round(a.cost + a.coupon_cost, 2),
            }
            for a in result.arms
        ],
        as_json=False,
        title=f"Per arm (money in {cur})",
        empty="no ledger rows for this campaign run",
        drop=["coupons", "per user", reached],   # on a narrow terminal; users, came back and rate stay
    )
    # One short block per comparison: at 80 columns a wide table would wrap into noise.
    for c in result.comparisons:
        verdict = "significant" if c.significant else "not significant"
        relative = "" if c.relative_lift is None else f" ({c.relative_lift * 100:+.1f}%)"
        test = "" if c.z is None else f" · z = {c.z:.3f}, p = {c.p_value:.4f}"
        lines = [f"[bold]{c.arm} vs holdout[/]: {_pp(c.absolute_lift) or '—'}{relative}{test} · {verdict}"]
        second = []
        if c.ci_low is not None and c.ci_high is not None:   # both or neither (outcomes.compare)
            second.append(f"95% interval [{c.ci_low * 100:+.2f}, {c.ci_high * 100:+.2f}] pp")
        if c.minimum_detectable_lift is not None:
            second.append(f"detectable lift {_pp(c.minimum_detectable_lift)}")
        third = []
        if c.incremental_conversions is not None:
            third.append(f"extra users back {c.incremental_conversions:,.1f}")
        if c.incremental_revenue is not None:
            third.append(f"extra revenue {c.incremental_revenue:,.2f}")
        if c.cost_per_incremental is not None:
            third.append(f"cost per extra user {c.cost_per_incremental:,.2f}")
        lines += ["  " + " · ".join(part) for part in (second, third) if part]
        for line in lines:
            out_console.print(line, highlight=False)
    for note in result.notes:
        say(f"note: {note}")
    say(f"[bold]verdict:[/] {result.verdict}")


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1).")] = None,
    # Help text is rich markup: "\\[inbound]" keeps the brackets (unescaped, rich swallowed the section name).
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8787, or port in winback.toml's "
                                                             "\\[inbound] section).")] = None,
) -> None:
    """Inbound HTTP: delivery receipts, SMS replies (STOP/退订), one-click unsubscribe (RFC 8058).

    Runs in the foreground until Ctrl-C, on 127.0.0.1 unless --host says otherwise (put a TLS proxy in front).

    Receipts and replies need the shared secret in $WINBACK_INBOUND_SECRET (docs/inbound.md).

    Provider callbacks, each in the provider's own format and authentication (\\[inbound.PROVIDER] in winback.toml):
    /callbacks/aliyun/receipts and /replies, /callbacks/tencent/receipts and /replies (?token=…),
    /callbacks/twilio/status and /inbound (X-Twilio-Signature), /callbacks/sendgrid/events, /callbacks/mailgun/events
    (docs/inbound.md "Provider callbacks").

    Example: `winback serve --port 8787`
    """
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
    unmatched = summary.get("unmatched") or 0
    if unmatched:
        say(f"warning: {unmatched:,} of {summary.get('records', 0):,} receipts match no message sent by this "
            f"workspace on {channel} (another workspace's or channel's report? ids in the wrong column?)")
    if as_json:
        print_json(summary)
    else:
        shown = dict(summary)
        shown["paused"] = ", ".join(str(p) for p in summary.get("paused") or []) or "—"
        emit_rows([shown], as_json=False, title=f"{file.name}",
                  drop=["ignored", "duplicates"])   # 80 columns: the eight counts are 86 wide (stderr says so)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.command("outcomes")(outcomes)
    app.command("serve")(serve)
    app.add_typer(receipts_app, name="receipts")
