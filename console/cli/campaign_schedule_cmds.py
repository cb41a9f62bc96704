"""`winback campaign schedule|unschedule`, and the confirmation of a scheduled REAL send that `create --at --real`
shares (issue 16; console/campaigns/confirmation.py).

A scheduled real send is confirmed when it is scheduled, as `campaign launch --real` is at launch: the pre-launch
check (the same one), the real plan, and the operator typing the message count — the whole run's, who quiet hours
defer included (`--yes` for scripts). run-due
launches it at its time — or holds it, sending nothing, when the check fails then or the audience grew.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from console.cli.campaign_output import Name, print_plan
from console.cli.output import JsonFlag, print_json, say, workspace_from

if TYPE_CHECKING:
    import sqlite_utils

    from console.campaigns.model import Campaign
    from console.config import Config

At = Annotated[str, typer.Option("--at", help="Launch at this time, e.g. '2026-12-08 09:00' (the workspace's zone unless an offset is given).")]
Real = Annotated[bool, typer.Option("--real", help="A real send: runs the pre-launch check now and asks you to type the message count (run-due holds it if the check fails then or the audience grew over 10%).")]
Yes = Annotated[bool, typer.Option("--yes", help="With --real: skip the typed confirmation (scripts); the check still runs.")]
AcceptWarnings = Annotated[bool, typer.Option("--accept-warnings", help="With --real: confirm although the templates break the providers' content rules (audited).")]


def can_ask_or_refuse(real: bool, yes: bool) -> None:
    """Before anything is written: a real schedule without --yes needs someone to type the count."""
    from console.errors import BadInput

    if real and not yes and not sys.stdin.isatty() and not _has_piped_input():
        raise BadInput("a real send needs the typed confirmation; scripts pass --yes")


def _has_piped_input() -> bool:
    # CliRunner and `echo 42 | winback …` give a non-tty stdin that still carries an answer.
    try:
        return not sys.stdin.closed and sys.stdin.readable()
    except (AttributeError, ValueError):
        return False


def confirm_real(db: sqlite_utils.Database, config: Config, name: str, when: int, *, yes: bool,
                 accept_warnings: bool, as_json: bool) -> Campaign:
    """The pre-launch check, the real plan, the typed count; then the campaign is scheduled real at `when`."""
    from console.campaigns import confirmation, prelaunch
    from console.errors import BadInput, WinbackError
    from console.timefmt import local_time

    data = prelaunch.prelaunch_check(db, config, name, connect=True)
    problems = data.get("problems") or []
    if problems:   # refuse before asking: nobody should type a count for a send that cannot happen
        raise WinbackError("the pre-launch check failed: " + "; ".join(problems))
    if not as_json:
        print_plan(data)
    warnings = data.get("warnings") or []
    if warnings and not accept_warnings:
        raise prelaunch.ContentWarnings(f"{len(warnings)} content warning(s): fix the template, or confirm with "
                                        "--accept-warnings")
    at = local_time(when, config.timezone)
    # the whole run's count: who quiet hours defer is sent by the same run when they end, and paid for
    total = confirmation.run_total(data)["total"]
    words = confirmation.total_words(data, lambda value: f"{value:,.2f} {data['currency']}", scheduled=True)
    say(f"a REAL send at {at}: {words} via {data['transport']}; run-due holds it if at that time the check fails or "
        f"the run would send more than {confirmation.GROWTH_MARGIN:.0%} more")
    if not yes:
        try:
            typed = typer.prompt(f"Type the number of messages to send at {at} ({total}), all this run sends, to "
                                 "confirm", default="", show_default=False, err=True)
        except typer.Abort:   # stdin ended (`< /dev/null`, a script without --yes): click said only "Aborted."
            raise BadInput("no answer to the typed confirmation: nothing was scheduled; type the count at a "
                           "terminal, or pass --yes in scripts") from None
        if typed.strip().replace(",", "") != str(total):
            raise BadInput(confirmation.count_mismatch(typed.strip(), data, scheduled=True))
    return confirmation.confirm_real(db, name, at=when, plan=data, how="yes" if yes else "typed",
                                     accept_warnings=accept_warnings)


def schedule(ctx: typer.Context, name: Name, at: At, real: Real = False, yes: Yes = False,
             accept_warnings: AcceptWarnings = False, as_json: JsonFlag = False) -> None:
    """Schedule (or move) a one-off launch: a dry run, or with --real a real send confirmed now."""
    from console.campaigns import confirmation
    from console.campaigns.schedule import parse_at

    ws = workspace_from(ctx)
    when = parse_at(at, ws.config.timezone)
    can_ask_or_refuse(real, yes)
    db = ws.open()
    if real:
        campaign = confirm_real(db, ws.config, name, when, yes=yes, accept_warnings=accept_warnings,
                                as_json=as_json)
    else:
        campaign = confirmation.schedule_dry(db, name, at=when)
    report_scheduled(db, campaign, ws.config.timezone, as_json)


def report_scheduled(db: sqlite_utils.Database, campaign: Campaign, tz: str | None, as_json: bool) -> None:
    from console.campaigns import confirmation

    state = confirmation.schedule_state(db, campaign, tz)
    if as_json:
        print_json({**campaign.as_dict(), "schedule": state})
        return
    words = state["text"] if state else campaign.status
    say(f"{campaign.name}: {words} — `winback campaign run-due` (cron) launches it then; "
        f"`winback campaign unschedule {campaign.name}` takes it back")


def unschedule(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """Take back a scheduled one-off launch (real or dry run): nothing is launched; the campaign is a draft again
    (or completed, after a dry run). Its real confirmation ends with it."""
    from console.campaigns import confirmation

    campaign = confirmation.unschedule(workspace_from(ctx).open(), name)
    if as_json:
        print_json(campaign.as_dict())
    else:
        say(f"unscheduled {campaign.name!r} ({campaign.status}): nothing will be launched")
