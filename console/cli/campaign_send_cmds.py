"""`winback campaign launch|pause|resume|cancel|run-due`: sending and stopping.

Launch is a dry run unless `--real`; a real launch runs the pre-launch check, shows the plan and asks the operator
to type the number of messages the run will send in all — now and, for who quiet hours defer, when they end
(`--yes` for scripts). Progress goes to stderr, data (with `--json`)
to stdout.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.markup import escape

from console.cli import interrupted
from console.cli.campaign_output import Name, print_plan, print_warnings, report
from console.cli.output import JsonFlag, err_console, print_json, progress_bar, say, workspace_from

if TYPE_CHECKING:
    from collections.abc import Callable

    import sqlite_utils

    from console.campaigns.control import DueFailed, DueHeld, DueSkipped
    from console.campaigns.finished import Plan
    from console.campaigns.summary import SummaryDict
    from console.config import Config


def launch(
    ctx: typer.Context,
    name: Name,
    real: Annotated[bool, typer.Option("--real", help="Send for real: you type the number of messages the run sends "
                                                      "(default: a dry run, nothing leaves).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Skip the typed count (scripts); the pre-launch check still "
                                                    "runs.")] = False,
    batch: Annotated[int | None, typer.Option("--batch", help="Messages claimed per batch (the in-flight window).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Dispatcher processes (default: 2 for large dry runs, else 1).")] = None,
    accept_warnings: Annotated[bool, typer.Option("--accept-warnings", help="Launch for real although the templates break the providers' content rules (shown by plan; audited).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send a campaign to its audience, fixed as it is now (a dry run unless --real: renders and records, nothing
    leaves).

    A real send runs the pre-launch check, then asks you to type the number of messages the run sends in all: those
    that go now and those quiet hours defer (sent after quiet hours, by the same run, at real cost); --yes skips
    the question, not the plan's warnings.

    Exit 1 when a message of a real run failed or ended unknown (`winback campaign failures NAME` says why), or
    winback paused the run (a brake, an unreachable provider); 0 when everything went out, was skipped or
    deferred as the policy says."""
    from console.campaigns import confirmation, control
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
        print_plan(data)
        if data["warnings"] and not accept_warnings:
            raise control.ContentWarnings(f"{len(data['warnings'])} content warning(s) above: nothing was sent; "
                                          "fix the template or launch with --accept-warnings")
        if not sys.stdin.isatty() and not _has_piped_input():
            raise BadInput("a real launch needs the typed confirmation; scripts pass --yes")
        # the count typed is the whole run's: who quiet hours defer is sent by this run too (resume, run-due)
        run = confirmation.run_total(data)
        say(f"a REAL send now: {confirmation.total_words(data, _cli_money(data))} via {data['transport']}")
        try:
            typed = typer.prompt(f"Type the number of messages this run sends in all ({run['total']}) to confirm",
                                 default="", show_default=False, err=True)
        except typer.Abort:   # stdin ended (`< /dev/null`, a script without --yes): click said only "Aborted."
            raise BadInput("no answer to the typed confirmation: nothing was sent; type the count at a terminal, "
                           "or pass --yes in scripts") from None
        if typed.strip().replace(",", "") != str(run["total"]):
            raise BadInput(f"{confirmation.count_mismatch(typed.strip(), data)}: nothing was sent")
    elif real:
        # --yes skips the typed count, not what the plan warns of: the same warnings, before anything is sent
        _warn_before_launch(db, ws.config, name, accept_warnings)
    with interrupted.campaign_send(db, name), progress_bar(f"{'sending' if real else 'dry run'} {name}") as advance:
        summary = control.launch(db, ws.config, name, real=real, progress=advance, batch_size=batch,
                                 workers=workers, notice=say, accept_warnings=accept_warnings)
    figures = _run_tally(db, name, summary.run)
    report(summary, as_json, cost=figures["cost"], tz=ws.config.timezone, deferred_now=figures["deferred"])
    _exit_if_stopped(summary)


def _warn_before_launch(db: sqlite_utils.Database, config: Config, name: str, accept_warnings: bool) -> None:
    """`launch --real --yes`: the warnings the interactive launch shows above its plan (numbers a mainland
    provider does not reach, the providers' content rules accepted with --accept-warnings), without the plan's
    figures or the confirmation. A launch that will be refused (settings, secrets, status, content warnings not
    accepted) is left to `control.launch`, which says why in its own words before anything is sent."""
    from console.campaigns import control
    from console.campaigns.prelaunch import real_launch_warnings

    if control.launch_problems(db, config, name, real=True, connect=False):
        return
    warnings, reach = real_launch_warnings(db, config, name)
    if warnings and not accept_warnings:
        return
    print_warnings(warnings)
    for note in reach:
        say(f"warning: {note}")


def _cli_money(data: Plan) -> Callable[[float], str]:
    """Money as the CLI's plan prints it: 0.40 CNY."""
    return lambda value: f"{value:,.2f} {data['currency']}"


def _run_tally(db: Any, name: str, run: int) -> Any:
    """The run's tally after the dispatch: what it spent, and how many of its messages are deferred now."""
    from console.campaigns import tallies

    return tallies.tally(db, name, run=run)


def _has_piped_input() -> bool:
    # CliRunner and `echo 42 | winback …` give a non-tty stdin that still carries an answer.
    try:
        return not sys.stdin.closed and sys.stdin.readable()
    except (AttributeError, ValueError):
        return False


def _exit_if_stopped(summary: Any) -> None:
    """Exit 1 when winback itself paused the run (a brake tripped, the provider stayed unreachable), or when a
    message of a real run failed or ended unknown: for cron and scripts the send did not (surely) reach everyone,
    although nothing went wrong in the command. Skipped (caps, consent) and deferred (quiet hours) are no failure."""
    from console.campaigns.summary import not_sent_line

    line = not_sent_line(summary.as_dict())
    if line:
        say(f"[bold red]{escape(line)}[/]")
    if summary.stopped_by or line:
        raise typer.Exit(1)


def pause(ctx: typer.Context, name: Name,
          reason: Annotated[str | None, typer.Option("--reason", help="Why (shown in tallies and audit).")] = None
          ) -> None:
    """Stop claiming new batches (takes effect within one batch, from any process)."""
    from console.campaigns import control

    campaign = control.pause(workspace_from(ctx).open(), name, reason)
    say(f"paused {campaign.name!r}: `winback campaign resume {campaign.name}` continues")


def resume(ctx: typer.Context, name: Name,
           batch: Annotated[int | None, typer.Option("--batch", help="Messages claimed per batch.")] = None,
           as_json: JsonFlag = False) -> None:
    """Continue a paused or interrupted campaign from the ledger (nobody is sent twice).

    Exit 1, as launch, when a message failed or ended unknown (`winback campaign failures NAME` says why)."""
    from console.campaigns import control, model

    ws = workspace_from(ctx)
    db = ws.open()
    with interrupted.campaign_send(db, name), progress_bar(f"resuming {name}") as advance:
        summary = control.resume(db, ws.config, name, progress=advance, batch_size=batch, notice=say)
    report(summary, as_json, channel=model.get(db, name).channel, tz=ws.config.timezone,
           deferred_now=_run_tally(db, name, summary.run)["deferred"])
    _exit_if_stopped(summary)


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


def run_due(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """For cron: start recurring runs that are due and continue campaigns whose deferred messages are due.

    A campaign another process is already running is skipped with a line saying so (exit 0); a campaign that
    failed (a missing secret …) exits 1, so cron mails the operator.
    """
    from console.campaigns import control
    from console.campaigns.summary import not_sent_line
    from console.programs import runner
    from console.programs.report import not_sent_lines, report_lines

    ws = workspace_from(ctx)
    # one cron line for everything: running recall programs advance here too (issue #14) — first, so that users
    # who returned since the last run leave before their deferred step messages could be sent
    with interrupted.run_due("campaign run-due"):   # Ctrl-C: say what stopped (typer exits 130 without a word)
        programs = runner.run_due(ws.open(), ws.config, notice=say)
        results = control.run_due(ws.open(), ws.config)
    if as_json:
        print_json(results + programs)
    elif not results and not programs:
        say("nothing due")
    for line in report_lines(programs) if not as_json else []:
        say(line)
    db = ws.open()
    for r in results if not as_json else []:
        # `outcome` tells the three apart (a run's outcome is not a Literal, so mypy cannot narrow on it)
        if r["outcome"] == "error":
            failed = cast("DueFailed", r)
            say(f"[bold red]{escape(r['campaign'])}: {escape(failed['error'])}[/]")
            if "traceback" in failed:   # an unexpected error's, under WINBACK_DEBUG
                err_console.print(failed["traceback"], markup=False, highlight=False, soft_wrap=True, end="")
        elif r["outcome"] == "held":   # a scheduled real send NOT launched (console.campaigns.confirmation)
            say(f"[bold red]{r['campaign']}: HELD, nothing sent — {cast('DueHeld', r)['reason']}. Confirm again: "
                f"`winback campaign schedule {r['campaign']} --at WHEN --real`, or `unschedule` it[/]")
        elif r["outcome"] == "skipped":   # another process runs it (or an operator paused it): not a failure
            say(f"{r['campaign']}: skipped — {cast('DueSkipped', r)['reason']}")
        else:
            ran = cast("SummaryDict", r)
            # the run's messages deferred now (not only those this dispatch deferred), as launch and resume say
            deferred = _run_tally(db, r["campaign"], ran["run"])["deferred"]
            say(f"{r['campaign']} run {ran['run']}: {r['outcome']}, sent {ran['sent']:,}, "
                + (f"failed {ran['failed']:,}, " if ran.get("failed") else "")
                + (f"unknown {ran['unknown']:,}, " if ran.get("unknown") else "")
                + f"deferred {deferred:,}")
            if ran.get("stopped_by") and ran.get("pause_reason"):   # a brake or the channel paused it just now
                say(f"[bold red]{escape(r['campaign'])}: paused: {escape(str(ran['pause_reason']))} — "
                    f"`winback campaign resume {escape(r['campaign'])}` continues it once that is dealt with[/]")
            short = not_sent_line(ran)   # some failed or are unknown: what to do next
            if short:
                say(f"[bold red]{escape(short)}[/]")
    ran_runs = [cast("SummaryDict", r) for r in results if r["outcome"] not in ("error", "held", "skipped")]
    paused = [r for r in ran_runs if r["outcome"] == "paused" and r.get("stopped_by")]
    # as launch and resume: a real run of which a message failed or ended unknown is no success for cron either
    not_sent = [r for r in ran_runs if not_sent_line(r)]
    # a real program step's messages that failed or ended unknown too (report_lines says which step, and how)
    if (paused or not_sent or not_sent_lines(programs)
            or any(r["outcome"] in ("error", "held") for r in results + programs)):
        raise typer.Exit(1)   # cron mails the operator
