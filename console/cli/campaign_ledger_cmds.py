"""`winback campaign requeue|reconcile|tally`: the send ledger after the send — unknown recipients settled with
the provider, counts per state."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from console.cli.campaign_output import Name, print_tally
from console.cli.output import JsonFlag, print_json, say, workspace_from


def requeue(ctx: typer.Context, name: Name,
            not_sent: Annotated[str, typer.Option(
                "--not-sent", help="File listing, one per line, the message ids, provider ids or addresses the "
                                   "provider's records show never arrived.")],
            as_json: JsonFlag = False) -> None:
    """Put `unknown` recipients the provider never got back to planned (audited); `resume` then sends them once."""
    from pathlib import Path

    from console.campaigns import reconcile

    entries = reconcile.read_not_sent(Path(not_sent))
    result = reconcile.requeue_not_sent(workspace_from(ctx).open(), name, entries, source=str(not_sent))
    if as_json:
        print_json(result.as_dict())
        return
    others = ", ".join(f"{state} {n:,}" for state, n in sorted(result.not_unknown.items()))
    say(f"{result.requeued:,} unknown recipients back to planned"
        + (f"; left alone, not unknown: {others}" if others else "")
        + (f" — `winback campaign resume {result.campaign}` sends them" if result.requeued else ""))


def reconcile_(ctx: typer.Context, name: Name,
               requeue: Annotated[bool, typer.Option(
                   "--requeue", help="Put the recipients the provider has no record of back to planned (audited); "
                                     "`resume` then sends each once.")] = False,
               as_json: JsonFlag = False) -> None:
    """Ask the provider's query API (Aliyun, Tencent, Twilio) about `unknown` recipients and settle them as sent,
    delivered or failed; those it has no record of are marked, never resent by this command."""
    from console.campaigns import provider_query

    ws = workspace_from(ctx)
    result = provider_query.reconcile(ws.open(), ws.config, name, requeue=requeue)
    if as_json:
        print_json(result.as_dict())
    elif not result.asked:
        say(f"{result.campaign!r} has no unknown recipients: nothing to ask")
    else:
        say(f"asked {result.asked:,} unknown recipients of {result.campaign!r}: {provider_query.counts_line(result)}")
        never = result.counts.get(provider_query.NO_RECORD, 0)
        if result.requeued:
            say(f"{result.requeued:,} never received, back to planned — `winback campaign resume {result.campaign}` "
                "sends them once")
        elif never:
            say(f"{never:,} never reached the provider: still unknown (reason no_provider_record); "
                f"`winback campaign reconcile {result.campaign} --requeue` puts them back to planned")
        for error in result.errors[:3]:
            say(f"  not settled: {error}")
    if result.counts.get(provider_query.ERROR):
        raise typer.Exit(1)


def tally(
    ctx: typer.Context,
    name: Name,
    watch: Annotated[bool, typer.Option("--watch", help="Follow live until the campaign stops running.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between updates with --watch.")] = 2.0,
    run: Annotated[int | None, typer.Option("--run", help="Which run (default: the latest).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Counts per state and skip reason, cost, and messages/s over the last minute, per campaign and variant.

    With --watch --json, one JSON object per line.
    """
    from console.campaigns import tallies

    ws = workspace_from(ctx)
    db = ws.open()
    while True:
        data = tallies.tally(db, name, run=run, config=ws.config)
        if as_json:
            if watch:
                import json

                sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                print_json(data)
        else:
            print_tally(data, ws.config.timezone)
        if not watch or data["status"] not in ("running", "paused"):
            return
        time.sleep(max(0.2, interval))
