"""`winback campaign requeue|reconcile|tally|failures`: the send ledger after the send — unknown recipients settled
with the provider, counts per state, and why messages failed (the provider's error per recipient)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from console.cli.campaign_output import Name, print_tally
from console.cli.output import JsonFlag, print_json, say, workspace_from

if TYPE_CHECKING:   # the campaign services load only when a command runs
    from console.campaigns import send_errors


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


def failures(
    ctx: typer.Context,
    name: Name,
    run: Annotated[int | None, typer.Option("--run", help="Which run (default: the latest).")] = None,
    state: Annotated[str | None, typer.Option(
        "--state", help="Only failed, bounced or unknown recipients (default: all three).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Recipients listed, newest change first (the groups count "
                                                       "them all).")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Why did these messages fail? The provider's error code and words for each failed, bounced or unknown
    recipient of a run, and the same errors grouped with their counts (e.g. "isv.MOBILE_NUMBER_ILLEGAL ×37 —
    号码格式错误"); phone numbers and addresses masked.

    failed: the provider refused the message (a bad number, a template or signature problem, no balance …): fix
    the cause, then a new campaign reaches them. unknown: no clear answer, it may have been sent —
    `winback campaign reconcile NAME` asks the provider."""
    from console.campaigns import send_errors
    from console.errors import BadInput

    if state is not None and state not in send_errors.NOT_SENT_STATES:
        raise BadInput(f"--state {state!r}: choose one of {', '.join(send_errors.NOT_SENT_STATES)}")
    if limit < 0:
        raise BadInput(f"--limit {limit}: a count of recipients, 0 or more")
    states = (state,) if state else send_errors.NOT_SENT_STATES
    db = workspace_from(ctx).open()
    counts = send_errors.counts(db, name, run=run, states=states)
    groups = send_errors.error_groups(db, name, run=run, states=states)
    rows = send_errors.not_sent(db, name, run=run, states=states, limit=limit) if limit else []
    if as_json:
        print_json({"campaign": name, "run": run, "counts": counts, "groups": groups, "recipients": rows})
        return
    print_failures(name, counts, groups, rows)


def print_failures(name: str, counts: dict[str, int], groups: list[send_errors.ErrorGroup],
                   rows: list[send_errors.NotSent]) -> None:
    """The grouped errors, then the newest recipients with theirs, then what to do next."""
    from rich.markup import escape

    from console.campaigns.send_errors import group_line
    from console.cli.output import emit_rows

    total = sum(counts.values())
    if not total:
        say(f"{name}: no failed, bounced or unknown recipients in this run")
        return
    say(f"{escape(name)}: " + ", ".join(f"{n:,} {s}" for s, n in counts.items() if n) + " — the provider's answers:")
    for group in groups:
        say(f"  {group['state']:<8} {escape(group_line(group))}")   # a provider's words may hold [brackets]
    if rows:
        emit_rows([{"user": r["external_id"], "address": r["address"], "arm": r["arm"], "state": r["state"],
                    "code": r["code"] or "", "provider's words": r["text"]} for r in rows], as_json=False,
                  title=f"the newest {len(rows):,} of {total:,}" if len(rows) < total else None,
                  drop=["arm", "code"])
    if counts.get("unknown"):
        say(f"unknown: it may have been sent — `winback campaign reconcile {name}` asks the provider and settles them")
    if counts.get("failed") or counts.get("bounced"):
        say("failed: the provider refused them and winback never resends them by itself; fix the cause above (the "
            "numbers, the template or signature, the account), then a new campaign reaches them")
