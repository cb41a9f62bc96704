"""`winback campaign create|list|show|plan|launch|pause|resume|cancel|requeue|reconcile|tally|run-due` (issue #6).

Launch is a dry run unless `--real`; a real launch shows the plan and asks the operator to type the number of
messages it will send (`--yes` for scripts). Progress goes to stderr, data (with `--json`) to stdout.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, progress_bar, say, workspace_from

campaign_app = typer.Typer(help="Campaigns: create, plan (pre-flight), launch, control and tallies.",
                           no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Campaign name.")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(campaign_app, name="campaign")


@campaign_app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    segment: Annotated[str, typer.Option("--segment", help="Segment whose members are the audience.")],
    channel: Annotated[str, typer.Option("--channel", help="sms | email | push | call | gift")],
    template: Annotated[str, typer.Option("--template", help="Template of variant A.")],
    variant: Annotated[list[str] | None, typer.Option("--variant", help="Another variant: TEMPLATE=WEIGHT (repeat).")] = None,
    offer: Annotated[str | None, typer.Option("--offer", help="Offer for everyone.")] = None,
    offer_by_layer: Annotated[bool, typer.Option("--offer-by-layer", help="Each user's layer decides the offer.")] = False,
    holdout: Annotated[float, typer.Option("--holdout", help="Percent held out for measurement.")] = 10.0,
    budget: Annotated[float | None, typer.Option("--budget", help="Spending ceiling (workspace currency).")] = None,
    window: Annotated[str | None, typer.Option("--window", help="Conversion window, e.g. 14d (default: the offer's validity, else 14d).")] = None,
    exempt_caps: Annotated[bool, typer.Option("--exempt-caps", help="Ignore frequency caps (and do not count towards them).")] = False,
    every: Annotated[str | None, typer.Option("--every", help="Recurring: run again every N days (e.g. 7d) for users newly in the segment.")] = None,
    reentry: Annotated[str | None, typer.Option("--reentry", help="Recurring: never re-message a user within this period (default: --every).")] = None,
    convert_on: Annotated[str | None, typer.Option("--convert-on", help="Event kinds that count as coming back, e.g. order,visit (default: order).")] = None,
    rank_by: Annotated[str | None, typer.Option("--rank-by", help="Spend the --budget on the best first: expected_value | p_alive | expected_orders_90d | uplift.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a draft campaign."""
    from console.campaigns import model

    ws = workspace_from(ctx)
    db = ws.open()
    campaign = model.create(db, name, segment=segment, channel=channel, template=template, variants=variant,
                            offer=offer, offer_by_layer=offer_by_layer, holdout=holdout, budget=budget,
                            window=window, exempt_caps=exempt_caps, every=every, reentry=reentry,
                            convert_on=convert_on, rank_by=rank_by)
    if as_json:
        print_json(campaign.as_dict())
    else:
        say(f"created campaign {campaign.name!r} (draft): `winback campaign plan {campaign.name}` next")


@campaign_app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False,
          show_all: Annotated[bool, typer.Option("--all", help="Also the campaigns behind program steps.")] = False
          ) -> None:
    """Every campaign with its status and counts."""
    from console.campaigns import model

    db = workspace_from(ctx).open()
    rows = model.list_campaigns(db, include_programs=show_all)
    if not as_json:
        rows = [{**r, "mode": "dry run" if r["dry_run"] else "real"} for r in rows]
    emit_rows(rows, as_json=as_json, columns=["name", "segment", "channel", "status", "mode", "recipients", "sent"],
              empty="no campaigns yet: `winback campaign create`")


@campaign_app.command("show")
def show(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """A campaign's settings, variants and latest tally."""
    from console.campaigns import model, tallies

    ws = workspace_from(ctx)
    db = ws.open()
    campaign = model.get(db, name)
    data = campaign.as_dict()
    data["tally"] = tallies.tally(db, name, config=ws.config)
    if as_json:
        print_json(data)
        return
    from console.timefmt import local_time

    def shown(key: str, value: Any) -> Any:
        if key.endswith("_at") and value is not None:
            return local_time(value, ws.config.timezone)  # as a person reads it; --json keeps epoch seconds
        return ", ".join(value) if isinstance(value, list) else value

    rows = [{"setting": k, "value": shown(k, v)} for k, v in data.items() if k not in ("variants", "tally", "salt")]
    emit_rows(rows, as_json=False)
    emit_rows([{"variant": v.label, "template": v.template, "weight": v.weight} for v in campaign.variants],
              as_json=False)
    _print_tally(data["tally"], ws.config.timezone)


@campaign_app.command("plan")
def plan(
    ctx: typer.Context,
    name: Name,
    real: Annotated[bool, typer.Option("--real", help="Plan for the configured transport rather than dry-run.")] = False,
    rank_by: Annotated[str | None, typer.Option("--rank-by", help="Spend the budget on the best first (expected_value | p_alive | expected_orders_90d | uplift); saved on the campaign, so the launch reaches this audience.")] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="The budget to plan with; saved on the campaign.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The pre-flight: the funnel with counts and reasons, estimated parts and cost, minimum detectable lift.

    With --rank-by and --budget: who the budget reaches when ranked, and what it buys against sending to everyone.

    Also lists the content warnings (the providers' rules for marketing SMS); a real launch with any needs
    --accept-warnings. With --real: what would stop `launch --real` (transport, secrets, template not approved).
    """
    from console.campaigns import control
    from console.campaigns import plan as plan_mod
    from console.errors import WinbackError

    ws = workspace_from(ctx)
    db = ws.open()
    data = plan_mod.plan(db, ws.config, name, real=real, rank_by=rank_by, budget=budget)
    # what would stop `launch --real` (status, channel settings, secrets); no connection is made by a plan
    data["problems"] = control.launch_problems(db, ws.config, name, real=True, connect=False) if real else []
    # R (issue 13): the providers' content rules; a real launch needs --accept-warnings past them
    data["warnings"] = control.launch_warnings(db, ws.config, name)
    data["warning_count"] = len(data["warnings"])
    if data["targeting_saved"]:
        say(f"saved on {data['campaign']!r}: rank by {data['rank_by'] or 'nothing'}, budget "
            f"{data['budget']:,.2f} — the launch reaches the audience below")
    if as_json:
        print_json(data)
    else:
        _print_plan(data)
    if data["problems"]:
        raise WinbackError("a real launch would be refused: " + "; ".join(data["problems"]))


def _print_plan(data: dict[str, Any]) -> None:
    if data.get("state_note"):
        _print_frozen_plan(data)
        return
    _print_warnings(data.get("warnings") or [])
    emit_rows([{"step": f["step"], "users": f["count"]} for f in data["funnel"]], as_json=False,
              title=f"plan: {data['campaign']} ({data['channel']} via {data['transport']})")
    emit_rows([{k: v[k] for k in ("variant", "template", "assigned", "to_send", "est_parts", "est_cost")}
               for v in data["variants"]], as_json=False)
    mde = data["min_detectable_lift"]
    r = data.get("ranking")
    if r:
        chosen, everyone = r["chosen"], r["everyone"]
        share = f"{r['share_of_expected_value']:.0%}" if r["share_of_expected_value"] is not None else "n/a"
        say(f"ranked by {r['rank_by']}: {chosen['recipients']:,} of {everyone['recipients']:,} sendable users for "
            f"{chosen['cost']:,.2f} {data['currency']} (everyone: {everyone['cost']:,.2f}) — expected value "
            f"{chosen['expected_value']:,.1f} of {everyone['expected_value']:,.1f} ({share}; "
            f"{r['share_if_random'] or 0:.0%} if picked at random), expected orders "
            f"{chosen['expected_orders_90d']:,.1f} of {everyone['expected_orders_90d']:,.1f}; "
            f"{r['ranked_out']:,} below the cut-off, the holdout cut the same way")
        if r.get("uplift"):   # L (issue 15): the uplift model's estimate of what the budget buys
            u = r["uplift"]
            say(f"uplift model: ~{u['extra_returns']:,.1f} extra returns from these {u['recipients']:,} (ranked by "
                f"p_alive: ~{u['extra_returns_ranked_by_p_alive']:,.1f}; at random: "
                f"~{u['extra_returns_at_random']:,.1f}; everyone, {u['everyone']:,}: "
                f"~{u['extra_returns_everyone']:,.1f}) — the holdout measures the real figure")
    say(f"to send: {data['to_send']:,} messages, ~{data['est_parts']:,} parts, ~{data['est_cost']:,.2f} "
        f"{data['currency']}" + (f" (budget {data['budget']:,.2f})" if data["budget"] is not None else ""))
    say(f"holdout {data['holdout']:,} of {data['holdout'] + data['treated']:,}: minimum detectable lift "
        + (f"+{mde * 100:.2f} pp" if mde is not None else "n/a (audience too small)")
        + f" at baseline {data['baseline_rate'] * 100:.1f}% ({data['baseline_source']})")


def _print_warnings(warnings: list[str]) -> None:
    """Content-rule warnings (console.content_rules), one per line, before the plan's figures."""
    if warnings:
        say(f"{len(warnings)} content warning{'s' if len(warnings) > 1 else ''} (the providers' rules for "
            "marketing SMS; a real launch needs --accept-warnings):")
        for w in warnings:
            say(f"  ! {w}")


def _print_frozen_plan(data: dict[str, Any]) -> None:
    """A campaign that cannot start again (console.campaigns.finished): what happened to its frozen audience."""
    from console.campaigns.tallies import cost_words

    say(data["state_note"])
    emit_rows([{"step": f["step"], "users": f["count"]} for f in data["funnel"] if f["count"] or not f["reason"]],
              as_json=False, title=f"{data['campaign']} run {data['run']} ({data['channel']})")
    say(f"{data['funnel'][-1]['step']} {data['to_send']:,} messages, {data['est_parts']:,} parts; "
        f"{cost_words(data['dry_run'])} {data['est_cost']:,.2f} {data['currency']}"
        + (f" (budget {data['budget']:,.2f})" if data["budget"] is not None else ""))
    say(data["launch_refusal"])


@campaign_app.command("launch")
def launch(
    ctx: typer.Context,
    name: Name,
    real: Annotated[bool, typer.Option("--real", help="Send for real (default: dry-run, nothing leaves).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Skip the typed confirmation (scripts).")] = False,
    batch: Annotated[int | None, typer.Option("--batch", help="Messages claimed per batch (the in-flight window).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Dispatcher processes (default: 2 for large dry runs, else 1).")] = None,
    accept_warnings: Annotated[bool, typer.Option("--accept-warnings", help="Launch for real although the templates break the providers' content rules (shown by plan; audited).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Freeze the audience into the ledger and dispatch it. Dry-run unless --real."""
    from console.campaigns import control
    from console.campaigns import plan as plan_mod
    from console.errors import BadInput

    ws = workspace_from(ctx)
    db = ws.open()
    if real and not yes:
        # refuse before asking: the operator should not type a count for a launch that cannot happen
        problems = control.launch_problems(db, ws.config, name, real=True)
        if problems:
            from console.errors import WinbackError

            raise WinbackError("; ".join(problems))
        data = plan_mod.plan(db, ws.config, name, real=True)
        data["warnings"] = control.launch_warnings(db, ws.config, name)
        _print_plan(data)
        if data["warnings"] and not accept_warnings:
            raise control.ContentWarnings(f"{len(data['warnings'])} content warning(s) above: nothing was sent; "
                                          "fix the template or launch with --accept-warnings")
        if not sys.stdin.isatty() and not _has_piped_input():
            raise BadInput("a real launch needs the typed confirmation; scripts pass --yes")
        typed = typer.prompt(f"Type the number of messages to send ({data['to_send']}) to confirm", default="",
                             show_default=False, err=True)
        if typed.strip().replace(",", "") != str(data["to_send"]):
            raise BadInput(f"confirmation {typed.strip()!r} does not match {data['to_send']}: nothing was sent")
    with progress_bar(f"{'sending' if real else 'dry run'} {name}") as advance:
        summary = control.launch(db, ws.config, name, real=real, progress=advance, batch_size=batch,
                                 workers=workers, notice=say, accept_warnings=accept_warnings)
    _report(summary, as_json, cost=_run_cost(db, name, summary.run), tz=ws.config.timezone)
    _exit_if_stopped(summary)


def _run_cost(db: Any, name: str, run: int) -> float:
    from console.campaigns import tallies

    return tallies.tally(db, name, run=run)["cost"]


def _has_piped_input() -> bool:
    # CliRunner and `echo 42 | winback …` give a non-tty stdin that still carries an answer.
    try:
        return not sys.stdin.closed and sys.stdin.readable()
    except (AttributeError, ValueError):
        return False


def _exit_if_stopped(summary: Any) -> None:
    """Exit 1 when winback itself paused the run (a brake tripped, the provider stayed unreachable): for cron and
    scripts the send did not finish, although nothing went wrong in the command."""
    if summary.stopped_by:
        raise typer.Exit(1)


def _report(summary: Any, as_json: bool, channel: str = "CHANNEL", cost: float | None = None,
            tz: str = "UTC") -> None:
    from console.campaigns.tallies import cost_words
    from console.timefmt import local_time

    data = summary.as_dict()
    if as_json:
        print_json(data)
        return
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(data["skipped"].items())) or "none"
    money = f", {cost_words(data['dry_run'])} {cost:,.2f}" if cost is not None else ""
    say(f"{data['campaign']} run {data['run']} ({'dry run' if data['dry_run'] else 'real'}): {data['outcome']} — "
        f"{'would send' if data['dry_run'] else 'sent'} {data['sent']:,}{money}, failed {data['failed']:,}, "
        f"deferred {data['deferred']:,}, "
        + (f"unknown {data['unknown']:,}, " if data.get("unknown") else "")
        + f"skipped {skipped} in {data['seconds']:.1f}s")
    no_reply = (data.get("unknown") or 0) - (data.get("recovered_unknown") or 0)
    if no_reply > 0 and not data["dry_run"]:
        # issue 13: without this line a run whose requests all timed out read "sent 0, failed 0" and nothing more
        say(f"{no_reply:,} recipients got no clear answer from the provider (it may have taken them): they are "
            "[bold]unknown[/] and never resent by themselves. `winback campaign reconcile "
            f"{data['campaign']}` asks the provider's query API (aliyun, tencent, twilio) and settles them; for "
            "other transports check the provider's records and `winback campaign requeue "
            f"{data['campaign']} --not-sent FILE` those it never got")
    if data.get("recovered_unknown"):
        say(f"{data['recovered_unknown']:,} recipients handed to the provider by a dispatcher that died are now "
            "[bold]unknown[/]: they may or may not have been sent, and are never resent by themselves. Reconcile "
            f"them with the provider's delivery report — `winback receipts import REPORT.csv --channel {channel}` "
            "turns those it lists into delivered or failed; those its records show never arrived go back with "
            f"`winback campaign requeue {data['campaign']} --not-sent FILE`; `winback campaign tally "
            f"{data['campaign']}` shows how many stay unknown")
    if data["outcome"] == "paused" and data.get("pause_reason"):
        say(f"paused: {data['pause_reason']} — `winback campaign resume {data['campaign']}` continues")
    if data["dry_run"] and data.get("would_wait") and data.get("next_at"):
        last = data.get("wait_last_at") or data["next_at"]
        span = local_time(data["next_at"], tz) + ("" if last == data["next_at"] else f" to {local_time(last, tz)}")
        say(f"{data['would_wait']:,} would wait for quiet hours (rendered, costed and recorded with their time, "
            f"not waited for): a real launch would send them from {span}")
    if data["outcome"] == "waiting":
        if data.get("wait_reason"):   # the provider asked us to stay away (Retry-After): nothing is sent until then
            say(f"waiting: {data['wait_reason']}")
        say(f"deferred messages are due at {local_time(data['next_at'], tz)}: `winback campaign run-due` (cron) "
            "or `resume` continues them")


@campaign_app.command("pause")
def pause(ctx: typer.Context, name: Name,
          reason: Annotated[str | None, typer.Option("--reason", help="Why (shown in tallies and audit).")] = None
          ) -> None:
    """Stop claiming new batches (takes effect within one batch, from any process)."""
    from console.campaigns import control

    campaign = control.pause(workspace_from(ctx).open(), name, reason)
    say(f"paused {campaign.name!r}: `winback campaign resume {campaign.name}` continues")


@campaign_app.command("resume")
def resume(ctx: typer.Context, name: Name,
           batch: Annotated[int | None, typer.Option("--batch", help="Messages claimed per batch.")] = None,
           as_json: JsonFlag = False) -> None:
    """Continue a paused or interrupted campaign from the ledger (nobody is sent twice)."""
    from console.campaigns import control, model

    ws = workspace_from(ctx)
    db = ws.open()
    with progress_bar(f"resuming {name}") as advance:
        summary = control.resume(db, ws.config, name, progress=advance, batch_size=batch, notice=say)
    _report(summary, as_json, channel=model.get(db, name).channel, tz=ws.config.timezone)
    _exit_if_stopped(summary)


@campaign_app.command("cancel")
def cancel(ctx: typer.Context, name: Name,
           reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
           as_json: JsonFlag = False) -> None:
    """Cancel: every recipient not yet handed to a provider is recorded as cancelled."""
    from console.campaigns import control

    result = control.cancel(workspace_from(ctx).open(), name, reason)
    if as_json:
        print_json(result)
    else:
        say(f"cancelled {result['campaign']!r}: {result['cancelled']:,} recipients will not be messaged")


@campaign_app.command("requeue")
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


@campaign_app.command("reconcile")
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


@campaign_app.command("tally")
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
            _print_tally(data, ws.config.timezone)
        if not watch or data["status"] not in ("running", "paused"):
            return
        time.sleep(max(0.2, interval))


TALLY_COLUMNS = ["planned", "waiting", "claimed", "sent", "delivered", "bounced", "failed", "deferred", "unknown",
                 "skipped", "cancelled", "cost"]
ALWAYS_SHOWN = {"planned", "sent", "skipped", "cost"}


def _print_tally(data: dict[str, Any], tz: str = "UTC") -> None:
    # 80 columns: the states that occur, plus the ones an operator always looks for
    from console.campaigns.tallies import cost_words
    from console.timefmt import local_time

    columns = [c for c in TALLY_COLUMNS if c in ALWAYS_SHOWN or data[c]]
    money = cost_words(data["dry_run"])  # a dry run spends nothing: its cost is what it would cost
    heads = [money if c == "cost" else c for c in columns]
    rows = [{"variant": "all", **{h: data[c] for h, c in zip(heads, columns, strict=True)}}]
    rows += [{"variant": arm, **{h: v[c] for h, c in zip(heads, columns, strict=True)}}
             for arm, v in data["variants"].items() if arm != "holdout"]
    emit_rows(rows, as_json=False, columns=["variant", *heads],
              title=f"{data['campaign']} run {data['run']} — {data['status']}"
                    f"{' (dry run)' if data['dry_run'] else ''}")
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(data["skipped_by_reason"].items())) or "none"
    say(f"holdout {data['holdout']:,}; skipped: {skipped}; {data['msgs_per_s_last_minute']:.1f} msgs/s "
        "over the last minute")
    if data.get("would_wait") and data.get("would_wait_between"):
        first, last = data["would_wait_between"]
        span = local_time(first, tz) + ("" if last == first else f" to {local_time(last, tz)}")
        say(f"{data['would_wait']:,} of the sent would wait for quiet hours in a real run: from {span}")
    if data.get("pause_reason"):
        say(f"paused: {data['pause_reason']}")
    b = data.get("brakes")
    if b and b["sends"]:
        def rate(key: str, count: str) -> str:
            return f"{b[count]:,} ({b[key]:.1%}, limit {b['limits'][key]:.1%})"

        say(f"brakes over the last {b['sends']:,} sends: opt-outs {rate('opt_out_rate', 'opt_outs')}, "
            f"complaints {rate('complaint_rate', 'complaints')}, failures {rate('failure_rate', 'failures')}"
            + (f"; none before {b['min_sends']} sends" if b["sends"] < b["min_sends"] else ""))


@campaign_app.command("run-due")
def run_due(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """For cron: start recurring runs that are due and continue campaigns whose deferred messages are due.

    A campaign another process is already running is skipped with a line saying so (exit 0); a campaign that
    failed (a missing secret …) exits 1, so cron mails the operator.
    """
    from console.campaigns import control
    from console.cli.program_cmds import report_lines
    from console.programs import runner

    ws = workspace_from(ctx)
    # one cron line for everything: running recall programs advance here too (issue #14) — first, so that users
    # who returned since the last run leave before their deferred step messages could be sent
    programs = runner.run_due(ws.open(), ws.config, notice=say)
    results = control.run_due(ws.open(), ws.config)
    if as_json:
        print_json(results + programs)
    elif not results and not programs:
        say("nothing due")
    for line in report_lines(programs) if not as_json else []:
        say(line)
    for r in results if not as_json else []:
        if r["outcome"] == "error":
            say(f"[bold red]{r['campaign']}: {r['error']}[/]")
        elif r["outcome"] == "skipped":   # another process runs it (or an operator paused it): not a failure
            say(f"{r['campaign']}: skipped — {r['reason']}")
        else:
            say(f"{r['campaign']} run {r['run']}: {r['outcome']}, sent {r['sent']:,}, deferred {r['deferred']:,}")
    if any(r["outcome"] == "error" for r in results + programs):
        raise typer.Exit(1)   # cron mails the operator
