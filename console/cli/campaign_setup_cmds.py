"""`winback campaign create|list|show|plan`: a campaign before it is sent — its settings and its pre-flight."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from console.cli.campaign_output import Name, print_plan, print_tally
from console.cli.campaign_schedule_cmds import AcceptWarnings, Real, Yes
from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from


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
    at: Annotated[str | None, typer.Option("--at", help="One-off: launch at this time, e.g. '2026-12-08 09:00' (the workspace's zone unless an offset is given); `winback campaign run-due` launches it when due (a dry run, unless --real).")] = None,
    real: Real = False,
    yes: Yes = False,
    accept_warnings: AcceptWarnings = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a draft campaign (scheduled, with --at; a confirmed real send with --at and --real)."""
    from console.campaigns import model
    from console.campaigns.schedule import parse_at
    from console.cli.campaign_schedule_cmds import can_ask_or_refuse, confirm_real, report_scheduled
    from console.errors import BadInput, WinbackError

    ws = workspace_from(ctx)
    if at is not None and every is not None:
        # the console's schedule field is one or the other too: a first run at a time, then every N days, is not
        # a thing run-due does (a recurring campaign recurs after its first real launch)
        raise BadInput("--at (once, at a time) and --every (recurring): choose one")
    if real and at is None:
        raise BadInput("--real schedules a real send: give --at WHEN too (a draft is sent for real now with "
                       "`winback campaign launch NAME --real`)")
    when = parse_at(at, ws.config.timezone) if at is not None else None   # the console's schedule field's path
    can_ask_or_refuse(real, yes)
    db = ws.open()
    campaign = model.create(db, name, segment=segment, channel=channel, template=template, variants=variant,
                            offer=offer, offer_by_layer=offer_by_layer, holdout=holdout, budget=budget,
                            window=window, exempt_caps=exempt_caps, every=every, reentry=reentry,
                            convert_on=convert_on, rank_by=rank_by, at=None if real else when)
    if real and when is not None:
        # the pre-launch check and the real plan need the campaign: it is a draft until the count is confirmed
        try:
            campaign = confirm_real(db, ws.config, campaign.name, when, yes=yes, accept_warnings=accept_warnings,
                                    as_json=as_json)
        except WinbackError as exc:
            raise WinbackError(f"created {campaign.name!r} as a draft, NOT scheduled: {exc} — `winback campaign "
                               f"schedule {campaign.name} --at '{at}' --real` confirms it when ready") from None
        report_scheduled(db, campaign, ws.config.timezone, as_json)
        return
    if as_json:
        print_json(campaign.as_dict())
    elif when is not None:
        from console.timefmt import local_time

        say(f"created campaign {campaign.name!r} (scheduled dry run at {local_time(when, ws.config.timezone)}): "
            f"`winback campaign run-due` (cron) launches it then, as a dry run (--real: a real send); "
            f"`winback campaign plan {campaign.name}` shows who it reaches")
    else:
        say(f"created campaign {campaign.name!r} (draft): `winback campaign plan {campaign.name}` next")


def list_(ctx: typer.Context, as_json: JsonFlag = False,
          show_all: Annotated[bool, typer.Option("--all", help="Also the campaigns behind program steps.")] = False
          ) -> None:
    """Every campaign with its status, counts and when it runs next."""
    from console.campaigns import model
    from console.campaigns.confirmation import schedule_state
    from console.simulated import parts_words

    ws = workspace_from(ctx)
    db = ws.open()
    rows = model.list_campaigns(db, include_programs=show_all)
    # how each scheduled campaign will be launched: 'scheduled real at …' / 'scheduled dry run at …' / 'HELD …'
    # (--json: `schedule`, beside next_run_at in epoch seconds; None when not scheduled)
    schedules = {r["name"]: schedule_state(db, model.get(db, r["name"]), ws.config.timezone)
                 if r["status"] == "scheduled" else None for r in rows}
    # `sent` counts real sends only; what a dry run or the demo's simulated campaign recorded is `would send`
    # (--json: would_send). Each column only when a campaign has a count for it: 80 columns hold seven.
    would = any(r["would_send"] for r in rows)
    counts = ["sent"] * (any(r["sent"] for r in rows) or not would) + ["would send"] * would
    emit_rows([{**r, "schedule": (s := schedules[r["name"]]) and s["text"],
                **({"would send": r["would_send"]} if not as_json else {})} for r in rows],
              as_json=as_json, columns=["name", "segment", "channel", "status", "mode", "recipients", *counts],
              drop=["segment", "channel", "mode"],   # on a narrow terminal: the name, its state and counts stay whole
              empty="no campaigns yet: `winback campaign create`")
    if not as_json:
        # the steps of the demo's simulated program: their rows are its made-up weeks (fixtures/demo_program.py)
        for program in sorted({r["simulated_program"] for r in rows if r["simulated_program"]}):
            # once started for real, its steps that ran for real read 'real' (their figures the real rows alone)
            steps = [r for r in rows if r["name"].startswith(f"program:{program}/")]
            real = any(r["mode"] == "real" for r in steps)
            mixed = [r for r in steps if r["modes"] and len(r["modes"]) > 1]
            say(f"[yellow]program:{escape(program)}/…: the steps of the demo's SIMULATED program {escape(repr(program))} — its "
                f"weeks are made up, nothing was sent (`winback program show {escape(program)}`)"
                + (" — the steps shown as simulated; those shown as real have run for real since" if real else "")
                + (" — a step shown as 'simulated + dry run' also ran in your own `program run-due` after them "
                   "(a dry run: nothing was sent), each mode counted below" if mixed else "")
                + "[/]")
            # a step the operator's own run-due ran too is not made up whole: each mode counted (--json: modes)
            for r in mixed:
                say(f"{escape(r['name'])}: {parts_words(r['modes'] or [])}")
        # a line each under the table, which a time with its zone would push past 80 columns
        for r in rows:
            state = schedules[r["name"]]
            if state and state["at"]:
                say(f"{r['name']}: {state['text']}" + ("" if state["held"] else
                                                      " (`winback campaign run-due` starts it)"))


def show(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """A campaign's settings, variants and latest tally."""
    from console.campaigns import model, tallies
    from console.simulated import mode_words

    ws = workspace_from(ctx)
    db = ws.open()
    campaign = model.get(db, name)
    from console.campaigns.confirmation import schedule_state

    tally = tallies.tally(db, name, config=ws.config)
    state = schedule_state(db, campaign, ws.config.timezone)   # 'scheduled real at …' and what was confirmed
    data: dict[str, Any] = {**campaign.as_dict(), "schedule": state, "tally": tally}
    if tally["simulated_program"]:   # a step of the demo's simulated program: the demo's runs of it are made up
        # its mode is its runs': 'simulated', or 'simulated + dry run' once the operator's run-due ran it too
        # (--json: modes, each counted, as `campaign list --all`)
        data.update(mode=mode_words(tally["modes"]) if tally["modes"] else tally["mode"],
                    simulated_program=tally["simulated_program"])
    data["modes"] = tally["modes"]
    if as_json:
        print_json(data)
        return
    from console.timefmt import local_time

    def shown(key: str, value: Any) -> Any:
        if key.endswith("_at") and value is not None:
            return local_time(value, ws.config.timezone)  # as a person reads it; --json keeps epoch seconds
        return ", ".join(value) if isinstance(value, list) else value

    rows = [{"setting": k, "value": shown(k, v)} for k, v in data.items()
            if k not in ("variants", "tally", "salt", "schedule", "simulated_program", "modes")]
    mixed = " + " in str(data.get("mode"))   # the demo's made-up runs and the operator's own (print_tally counts)
    if data.get("simulated_program"):
        # one truthful line, not the stored flag's 'no' (kept off so the made-up weeks stay out of the uplift fit;
        # --json keeps it, beside simulated_program) next to 'mode: simulated'
        for row in rows:
            if row["setting"] == "simulated":
                whose = "the demo's runs" if mixed else "yes"
                row["value"] = (f"{whose} — a step of the demo's simulated program {data['simulated_program']}"
                                + ("; the later runs are your own dry run (program run-due)" if mixed else ""))
    if data.get("mode") == "simulated" or mixed:
        # stored as a dry run's rows so they count nowhere; said so, not as if the operator had run a dry run
        for row in rows:
            if row["setting"] == "dry_run" and data.get("dry_run"):
                row["value"] = ("yes (the demo's runs made up, yours a dry run: nothing was sent)" if mixed else
                                "yes (made up by the demo, stored as a dry run's rows: nothing was sent)")
    if state:
        rows.insert(0, {"setting": "schedule", "value": state["text"]})
    emit_rows(rows, as_json=False)
    emit_rows([{"variant": v.label, "template": v.template, "weight": v.weight} for v in campaign.variants],
              as_json=False)
    print_tally(tally, ws.config.timezone)


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
    from console.cli.policy_cmds import warn_night_window
    from console.errors import WinbackError

    ws = workspace_from(ctx)
    db = ws.open()
    data = plan_mod.plan(db, ws.config, name, real=real, rank_by=rank_by, budget=budget)
    warn_night_window(db, ws.config)   # winback.toml's start/end leave sending only at night: said before launch
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
        print_plan(data)
    if data["problems"]:
        raise WinbackError("a real launch would be refused: " + "; ".join(data["problems"]))
