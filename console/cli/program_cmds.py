"""`winback program add|start|pause|resume|budget|stop|list|show|run-due` (issue #14): recall programs.

`start` runs dry unless `--real`; a real start asks the operator to type the program's name (`--yes` for
scripts). Each start, `program run-due` and `campaign run-due` advance running programs once. See docs/programs.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from console.cli import interrupted
from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from

if TYPE_CHECKING:   # the program services load when a command runs
    from console.programs.budget import ProgramBudget
    from console.programs.curve import Lift, Side
    from console.programs.funnel import Funnel
    from console.programs.runner import ProgramResult

program_app = typer.Typer(help="Recall programs: a stepped win-back ladder (add, start, run-due, show).",
                          no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Program name.")]


def register(app: typer.Typer) -> None:
    app.add_typer(program_app, name="program")


@program_app.command("add")
def add(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The program's TOML file.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace a program of that name never started.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check a program file and store it (draft). Mistakes are named FILE:LINE: field (exit 2, nothing stored)."""
    from console.programs import spec, store

    text, origin = spec.load_file(file)
    db = workspace_from(ctx).open()
    program = store.add(db, spec.parse(text, origin, db), replace=replace)
    if as_json:
        print_json(program.as_dict())
    else:
        say(f"added program {escape(program.name)!r} (draft, {len(program.steps)} step{'' if len(program.steps) == 1 else 's'}): "
            f"`winback program start {escape(program.name)}` runs it (dry run unless --real)")


@program_app.command("start")
def start(
    ctx: typer.Context,
    name: Name,
    real: Annotated[bool, typer.Option("--real", help="Send for real (default: dry run, nothing leaves).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Skip the typed confirmation (scripts).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Start a program (dry run unless --real) and run it once: entrants, due steps, dispatch."""
    from console.errors import BadInput
    from console.programs import runner, store
    from console.programs.report import not_sent_lines

    ws = workspace_from(ctx)
    db = ws.open()
    program = store.get(db, name)
    if real:   # refuse before asking (and before changing anything) when a step's channel cannot send
        runner.check_channels(db, ws.config, name, real=True)
    if real and not yes:
        if not sys.stdin.isatty() and not _has_piped_input():
            raise BadInput("a real start needs the typed confirmation; scripts pass --yes")
        try:
            typed = typer.prompt(f"Type the program's name ({program.name}) to start it for real", default="",
                                 show_default=False, err=True)
        except typer.Abort:   # stdin ended (`< /dev/null`, a script without --yes): click said only "Aborted."
            raise BadInput("no answer to the typed confirmation: nothing was started; type the program's name at a "
                           "terminal, or pass --yes in scripts") from None
        if typed.strip() != program.name:
            raise BadInput(f"confirmation {typed.strip()!r} does not match {program.name!r}: nothing was started")
    store.start(db, name, real=real)
    report = runner.run(db, ws.config, name, notice=say)
    _report([report.as_dict()], as_json)
    if not_sent_lines([report.as_dict()]):   # as a real launch: a step's messages failed or ended unknown
        raise typer.Exit(1)


def _has_piped_input() -> bool:
    try:
        return not sys.stdin.closed and sys.stdin.readable()
    except (AttributeError, ValueError):
        return False


@program_app.command("pause")
def pause(ctx: typer.Context, name: Name) -> None:
    """Stop advancing a program (and sending its steps) until `resume`."""
    from console.programs import store

    store.pause(workspace_from(ctx).open(), name)
    say(f"program {escape(name)!r} paused: `winback program resume {escape(name)}` continues")


@program_app.command("resume")
def resume(ctx: typer.Context, name: Name) -> None:
    """Continue a paused program; steps due meanwhile are taken at the next run."""
    from console.programs import store

    store.resume(workspace_from(ctx).open(), name)
    say(f"program {escape(name)!r} running again: the next `winback program run-due` advances it")


@program_app.command("budget")
def budget(
    ctx: typer.Context,
    name: Name,
    amount: Annotated[str, typer.Argument(help="What the program may spend over all its steps and runs, in the "
                                                 "workspace's currency; 'none': no ceiling.")],
    as_json: JsonFlag = False,
) -> None:
    """Set a program's budget (raise it, then `resume` a program paused for its budget). What was recorded
    over_budget is never sent later."""
    from console.programs import budget as program_budget

    value = program_budget.parse_amount(amount)   # the console's budget input reads it the same way
    db = workspace_from(ctx).open()
    program = program_budget.set_budget(db, name, value)
    state = program_budget.state(db, program)
    if as_json:
        print_json(state)
    else:
        say(f"program {escape(name)!r}: {_budget_words(state)}"
            + (f"; `winback program resume {escape(name)}` continues it" if program.status == "paused" else ""))


def _budget_words(b: ProgramBudget) -> str:
    if b["budget"] is None:
        return f"no budget (spent {b['spent']:,.2f})"
    return f"budget {b['budget']:,.2f}, spent {b['spent']:,.2f}, remaining {b['remaining']:,.2f}"


@program_app.command("stop")
def stop(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """Stop a program for good: active entries close, step messages not yet handed over are cancelled."""
    from console.programs import store

    result = store.stop(workspace_from(ctx).open(), name)
    if as_json:
        print_json(result)
    else:
        say(f"program {escape(name)!r} stopped: {result['entries_closed']:,} entries closed, "
            f"{result['messages_cancelled']:,} messages cancelled")


@program_app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every program with its status and a small funnel."""
    from console.programs import store
    from console.programs.funnel import mode_of

    rows = store.list_programs(workspace_from(ctx).open())
    shown = rows if as_json else [{**r, "mode": mode_of(r["dry_run"], r["simulated"])} for r in rows]
    emit_rows(shown, as_json=as_json, columns=["name", "status", "mode", "steps", "entered", "active", "returned"],
              empty="no programs yet: `winback program add FILE`")


@program_app.command("show")
def show(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """A program's funnel: entered, control, each step (reached, held out, skipped), returned, waiting, exited;
    returned rate treated vs control with its interval."""
    from console.programs import funnel

    ws = workspace_from(ctx)
    data = funnel.funnel(ws.open(), name)
    if as_json:
        print_json(data)
        return
    _show_text(data, ws.config.currency)


def _show_text(data: Funnel, currency: str) -> None:
    from console.programs.funnel import SIMULATED_NOTE, mode_of, skip_words
    from console.programs.modes import mode_words, parts_words

    parts = data.get("modes")
    mode = mode_words(parts) if parts else mode_of(data["dry_run"], data["simulated"])
    say(f"program {escape(data['program'])} ({data['status']}, {mode}): entered {data['entered']:,} "
        f"(control {data['control']:,}), still waiting {data['still_waiting']:,}, left on returning "
        f"{data['returned']:,}")
    if data["simulated"]:   # the demo's made-up weeks: nothing simulated is shown as real
        say(f"[yellow]{escape(SIMULATED_NOTE)}[/]")
    if parts and len(parts["parts"]) > 1:   # … nor the operator's own dry run after them as made up
        say(f"[yellow]{escape(parts_words(parts))}[/]")
    # a dry run (the demo's simulated weeks too) sent nothing: its money is what it would cost (cost_words)
    cost = "would cost" if data["dry_run"] else "cost"
    if data["dry_run"] and data["budget"]["budget"] is None:
        say(f"no budget (dry run: would cost {data['budget']['spent']:,.2f} {currency} so far)")
    else:
        say(_budget_words(data["budget"]) + (" (dry run: measured apart from the real one)"
                                             if data["dry_run"] and data["budget"]["budget"] is not None else ""))
    if data["pause_reason"]:
        say(f"[yellow]paused by winback: {escape(data['pause_reason'])}[/]")
    # fits 80 columns: each step's channels and its returns by arm follow, one line per step
    reached = "would send" if data["dry_run"] else "reached"   # a dry run reached nobody (as the console's page)
    emit_rows([{"step": s["step"], "taken": s["taken"], reached: s["reached"], "control": s["holdout"],
                "skipped": sum(s["skipped"].values()), "returned": s["returned_before_next"],
                "waiting": s["waiting"], cost: s["cost"]}
               for s in data["steps"]], as_json=False,
              title=f"{data['program']} steps (returned: before the next step was due; {cost} in {currency})",
              drop=[cost, "control", "skipped", "waiting"])   # as the console's program page, when counts are big
    for s in data["steps"]:
        if s["skipped"]:
            say(f"skipped at {escape(s['step'])}: {escape(skip_words(s['skipped']))}")
    exited = ", ".join(f"{k} {v:,}" for k, v in sorted(data["exited"].items())) or "nobody yet"
    say(f"exited: {exited}")
    c = data["comparison"]
    line = (f"returned: treated {_pct(c['treated']['rate'])} of {c['treated']['users']:,}, control "
            f"{_pct(c['control']['rate'])} of {c['control']['users']:,}")
    lift, low, high, per_extra = c.get("lift"), c.get("ci_low"), c.get("ci_high"), c.get("cost_per_extra_returned")
    if lift is not None:
        line += f"; lift {lift * 100:+.1f} pp"
        if low is not None and high is not None:
            line += f" (95% interval {low * 100:+.1f} to {high * 100:+.1f} pp)"
        if per_extra is not None:
            line += f", {per_extra:,.2f} {currency} per extra returned user"
    say(line + f"; {cost} {c['cost']:,.2f} {currency}")
    if data["returned_by_days"]:
        emit_rows([{"days": r["days"], "treated": _share(r["treated"]), "control": _share(r["control"]),
                    "lift": _pp(r["lift"]), "95% interval": _interval(r)} for r in data["returned_by_days"]],
                  as_json=False, title="returned within N days since entry (entries in at least N days)")
    say("returned before the next step was due (of those who took the step and went on):")
    for s in data["steps"]:
        r = s["returns"]
        window = f"{r['window_days']}d to the next" if r["window_days"] is not None else "last: since taken"
        say(f"  {escape(s['step'])} ({escape(','.join(s['channels']))}, {window}): treated "
            f"{_share(r['treated'])}, control {_share(r['control'])}")


def _share(arm: Side) -> str:
    return f"{_pct(arm['rate'])} of {arm['users']:,}" if arm["users"] else "—"


def _pp(lift: float | None) -> str:
    return "—" if lift is None else f"{lift * 100:+.1f} pp"


def _interval(row: Lift) -> str:
    low, high = row["ci_low"], row["ci_high"]
    if low is None or high is None:   # both or neither
        return "—"
    return f"{low * 100:+.1f} to {high * 100:+.1f} pp"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


@program_app.command("run-due")
def run_due(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """For cron: advance every running program once (`winback campaign run-due` does this too)."""
    from console.programs import runner
    from console.programs.report import not_sent_lines

    ws = workspace_from(ctx)
    with interrupted.run_due("program run-due"):   # Ctrl-C: say what stopped (typer exits 130 without a word)
        results = runner.run_due(ws.open(), ws.config, notice=say)
    _report(results, as_json)
    # a real step whose messages failed or ended unknown is no success for cron (report_lines names the step)
    if any(r["outcome"] == "error" for r in results) or not_sent_lines(results):
        raise typer.Exit(1)


def _report(results: list[ProgramResult], as_json: bool) -> None:
    from console.programs.report import report_lines

    if as_json:
        print_json(results)
        return
    if not results:
        say("no program is running")
    for line in report_lines(results):
        say(line)


@program_app.command("why")
def why(ctx: typer.Context, name: Name,
        user: Annotated[str, typer.Argument(help="The user's external id (or #internal-id).")],
        as_json: JsonFlag = False) -> None:
    """Where a person is in a program and why: steps taken or skipped, the ledger's verdict, what comes next."""
    show_program_why(ctx, name, user, as_json=as_json)


SKIP_WORDS = {
    "only": "its rule `{rule}` did not match them when the step fell due; went on to the next",
    "ranked_out": "below the step's budget cut-off (rank_by {rank_by}); went on to the next",
    "opted_out": "opted out on every channel of the step; left the program",
    "no_consent": "no consent on record for any channel of the step; left the program",
    "no_address": "no address for any channel of the step; left the program",
}


def _verdict(move: dict[str, Any], *, dry_run: bool, budget: float | None = None, simulated: bool = False) -> str:
    """One step of one person, in words: why it was skipped, or what the ledger says of its message (a message of
    the demo's simulated weeks is said to be made up, never shown as sent or as an operator's dry run)."""
    if move["outcome"] == "skipped":
        words = SKIP_WORDS.get(str(move["reason"]))
        return f"{move['reason']} — " + words.format(**move) if words else str(move["reason"])
    status = move["ledger_status"]
    if move["ledger_reason"] == "over_budget":   # the dispatcher's budget brake, the program's budget
        of = f" ({budget:,.2f})" if budget is not None else ""
        return (f"{move['channel']}: not sent (over_budget) — the program's budget{of} could not pay for it when "
                "it was due; never sent later; they went on in the program")
    if dry_run and status == "sent":   # the operator's own dry run after the demo's weeks is not made up
        made_up = simulated and move.get("mode", "simulated") == "simulated"
        status = "would send (simulated: made up by the demo, nothing was sent)" if made_up else "would send (dry run)"
    return f"{move['channel']}: {status}" + (f" ({move['ledger_reason']})" if move["ledger_reason"] else "")


def show_program_why(ctx: typer.Context, name: str, user: str, *, as_json: bool) -> None:
    """`program why NAME USER` and `winback why USER --program NAME` (one explanation, two ways in)."""
    from console.programs import funnel
    from console.timefmt import local_time

    ws = workspace_from(ctx)
    data = funnel.where_is(ws.open(), name, user)
    if as_json:
        print_json(data)
        return
    tz = ws.config.timezone
    who = f"{escape(data['user'])} in program {escape(data['program'])}"
    if data["simulated"]:   # the demo's made-up weeks: nothing simulated is shown as real
        say(f"[yellow]{escape(funnel.SIMULATED_NOTE)}[/]")
    if not data["entries"]:
        say(f"{who}: never entered (the entry rule did not match them at any run, or the program has not run)")
        return
    for e in data["entries"]:
        group = "control group (never messaged; rows recorded holdout)" if e["control"] else "treated"
        say(f"{who}: entered {local_time(e['entered_at'], tz)}, {group}, {e['state']}")
        for m in e["moves"]:
            verdict = _verdict(m, dry_run=data["dry_run"], budget=data["budget"]["budget"], simulated=data["simulated"])
            say(f"  step {escape(m['step_name'])} ({m['outcome']}, {local_time(m['at'], tz)}): {escape(verdict)}")
        if e["state"] == "active" and e["next_step"]:
            say(f"  next: step {escape(e['next_step'])}, due {local_time(e['next_due_at'], tz)}")
            if data["pause_reason"]:
                say(f"  waits: the program is paused — {escape(data['pause_reason'])}")
        elif e["state"] != "active":
            say(f"  left {local_time(e['left_at'], tz)}: {escape(str(e['left_reason']))}")
