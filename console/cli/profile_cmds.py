"""`winback refresh` (profiles, dormancy, layers) and `winback why USER` (which segments a user is in, and the
condition that keeps them out of the others). Registered with the segments' commands (segment_cmds.register)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from


def local_day(ts: int | None, tz: str | None = None) -> str | None:
    """The day in the workspace's zone (console.timefmt, as every listing)."""
    if ts is None:
        return None
    from console.timefmt import local_date

    return local_date(ts, tz)


# ---- refresh ---------------------------------------------------------------------------------------------

def refresh(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Recompute every profile as of this date (end of that day in the workspace zone), "
                        "from the events up to then.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute every profile, not only users with new "
                                                      "events.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Recompute activity profiles, dormancy and layers (incremental: only users with new events)."""
    from console import dormancy
    from console.cli.output import progress_bar
    from console.workspace_refresh import refresh_workspace

    ws = workspace_from(ctx)
    as_of_ts = None
    if as_of:
        from console.clock import now_ts
        from console.timefmt import cli_as_of

        tz = dormancy.zone(ws.config)
        as_of_ts = cli_as_of(as_of, tz, now_ts())
    db = ws.open()
    try:
        with progress_bar("refreshing profiles") as advance:
            summary = refresh_workspace(db, ws.config, as_of=as_of_ts, full=full, progress=named_steps(advance))
    finally:
        db.close()
    if as_json:
        print_json(summary)
        return
    say(f"{summary['mode']} refresh as of {local_day(summary['as_of'], ws.config.timezone)}: "
        f"{summary['users_recomputed']:,} users recomputed, {summary['profiles']:,} profiles, "
        f"{summary['seconds']:.1f} s")
    # Each step's own time: the first line's is the profiles' alone, and the rebuild can take as long again.
    steps = summary["steps"]
    if summary["recommendations_rebuilt"]:
        say(f"recommendations rebuilt (best sellers, bought-together) in {steps.get('recommendations', 0):.1f} s")
    if summary["scored"] is not None:
        say(f"propensity scores refreshed for {summary['scored']:,} customers in {steps.get('scores', 0):.1f} s")
    total = summary["profiles"] or 1
    emit_rows([{"dormancy": dormancy.STATE_LABELS[s], "users": n, "share": f"{100 * n / total:.1f}%"}
               for s, n in summary["dormancy"].items()], as_json=False)


def named_steps(advance: Any) -> Any:
    """The bar's callback for refresh_workspace: the profile steps as counted, then the recommendations and scores,
    which report no steps of their own (the bar read 'refreshing profiles 4/4' through half the run)."""

    def step(done: int, total: int | None) -> None:
        if total is not None and done >= total:
            advance(0, None, description="rebuilding recommendations and scores")
        else:
            advance(done, total, description="refreshing profiles")

    return step


# ---- why -----------------------------------------------------------------------------------------------------

def why(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The user's external id.")],
    campaign: Annotated[str | None, typer.Option(
        "--campaign", help="Why this campaign would or would not message the user now.")] = None,
    unmask: Annotated[bool, typer.Option("--unmask", help="Show full addresses (with --campaign).")] = False,
    program: Annotated[str | None, typer.Option(
        "--program", help="Where the user is in this recall program and why.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Why a user is or is not in each segment; with --campaign, why it would message them or not.

    Without options: the segments the user is in, and for each other segment the condition that kept them out.
    With --campaign: the send decision for that campaign (consent, suppression, caps, quiet hours, budget).
    With --program: where the user is in that program and why (as `winback program why NAME USER`).
    """
    if program:
        if campaign:
            from console.errors import BadInput

            raise BadInput("give --program or --campaign, not both")
        from console.cli.program_cmds import show_program_why

        show_program_why(ctx, program, user, as_json=as_json)
        return
    if campaign:
        # The send decision belongs to the policy area; it prints its own explanation.
        from console.cli.policy_cmds import show_campaign_why

        show_campaign_why(ctx, user, campaign, as_json=as_json, unmask=unmask)
        return
    from console import segments

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        data = segments.explain(db, user)
    finally:
        db.close()
    if as_json:
        print_json(data)
        return
    as_of = local_day(data["as_of"], ws.config.timezone) if data["as_of"] else "never refreshed"
    inside = [s for s in data["segments"] if s["member"]]
    outside = [s for s in data["segments"] if not s["member"]]
    prof = data["profile"]
    typer.echo(f"{data['user']}: {prof['dormancy'].replace('_', ' ')}, layer {prof['layer'] or '—'}, "
               f"grid {prof['grid'] or '—'}, {prof['orders']} orders (profiles as of {as_of})")
    typer.echo("in: " + (", ".join(s["segment"] for s in inside) if inside else "no segment"))
    if not outside:
        say("in every segment")
        return
    # Rules are shown as written: escaped (rich markup would swallow `attr.tag = "[vip]"`), folded, never cut.
    from rich.markup import escape
    from rich.table import Table

    from console.cli.output import print_table

    table = Table(title="not in", show_edge=False, header_style="bold")
    table.add_column("segment", no_wrap=True)
    table.add_column("excluded by", overflow="fold")
    table.add_column("their value", overflow="fold")
    for s in outside:
        value = "" if s.get("value") is None and "field" not in s else _shown(s.get("value"))
        excluded_by = s["excluded_by"] or ("(its rule cannot be used: see `winback segments list`)"
                                           if s.get("problem") else "")
        table.add_row(escape(s["segment"]), escape(excluded_by), escape(value))
    print_table(table)   # a pipe or file: every cell whole, no assumed 80 columns


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
