"""What a send command says on Ctrl-C (typer itself exits 130 without a word): what stopped, and what continues it.

What the dispatcher guarantees on KeyboardInterrupt (console/campaigns/dispatch.py): the batch in hand is stopped
— nothing more of it is handed to the provider, what is on the wire is recorded as its answer says (a message whose
answer cannot come any more, e.g. a provider's Retry-After cut short, is `unknown`: never resent) — and the rows
not handed over are `planned` again (leftover claims are a gone dispatcher's, given back by the next one). The
campaign stays `running`, so `resume` (or the next run-due) continues the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from console.cli.output import say

EXIT_INTERRUPTED = 130   # 128 + SIGINT, what shells and cron expect of a command stopped by Ctrl-C


@contextmanager
def campaign_send(db: Any, name: str) -> Iterator[None]:
    """Around a launch or resume of campaign *name*: on Ctrl-C, say which run stopped and how far it got."""
    before = _latest_run(db, name)
    try:
        yield
    except KeyboardInterrupt:
        say(_campaign_words(db, name, before))
        raise typer.Exit(EXIT_INTERRUPTED) from None


@contextmanager
def run_due(command: str) -> Iterator[None]:
    """Around `winback campaign run-due` / `winback program run-due` (*command*), which send for many campaigns."""
    try:
        yield
    except KeyboardInterrupt:
        say("interrupted: the send in progress stopped — what the provider had answered is recorded, messages not "
            "handed over yet are planned again (nobody is sent twice); the next "
            f"`winback {command}` continues")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _latest_run(db: Any, name: str) -> int | None:
    try:
        from console.campaigns import tallies

        return tallies.tally(db, name)["run"]
    except Exception:   # a campaign that does not exist: the command itself says so
        return None


def _campaign_words(db: Any, name: str, before: int | None) -> str:
    try:
        from console.campaigns import tallies

        tally: Any = tallies.tally(db, name)
    except Exception:   # the database itself is the trouble: say the least that is certainly true
        return f"interrupted: `winback campaign show {name}` says how far {name!r} got"
    run = tally["run"]
    if run is None or (run == before and tally["status"] != "running"):
        return f"interrupted before the send started: nothing was sent ({name!r} is {tally['status']})"
    left = tally["waiting"] + tally["claimed"] + tally["deferred"]
    if tally["dry_run"]:
        done = f"{tally['sent']:,} rendered, {left:,} still to render; a dry run sends nothing"
    else:
        done = f"{tally['sent'] + tally['delivered']:,} sent, {left:,} still to send (nobody is sent twice)"
        if tally["unknown"]:
            done += (f", {tally['unknown']:,} unknown (the answer never came: never resent; "
                     f"`winback campaign failures {name}`)")
    return (f"interrupted: run {run} of {name!r} stopped — {done}; `winback campaign resume {name}` continues it "
            "(or the next `winback campaign run-due`)")
