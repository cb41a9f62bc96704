"""One runner per program: a program run holds `program.runner.ID` in settings (`host:pid:token@time`) while it
runs, so two overlapping run-dues (cron, or the console's workers in one process) never dispatch the same step run
side by side; a runner that died (kill -9, or one of this process that is no longer registered) or went stale is
taken over by the next run.

Each runner has an id of its own (console.campaigns.holders.new_holder), registered in this process while it runs
(`hold`/`release`, see `runner`): two runners in one process are told apart, which the process's `host:pid` alone
could not. Alive or gone follows the holders module's rules, as for a campaign's dispatcher: one of this process
is alive exactly while registered; another process on this host while its pid exists and it is not stale; another
host's until HEARTBEAT_STALE seconds without a renewal. Values written by earlier versions (`host:pid@time`) are
read the same way (one with our pid was written by an earlier process that had it: gone).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

from console.campaigns import holders
from console.campaigns.runs import HEARTBEAT_STALE
from console.clock import now_ts
from console.errors import BadInput
from console.programs import store
from storage.tx import immediate


class BeingRun(BadInput):
    """Another runner — in another process or this one — is running this program right now (two cron run-dues
    overlapping): not an error."""


# a third of the stale window: a renewal may be missed twice (a batch in hand) before the lock looks abandoned
RENEW_EVERY = HEARTBEAT_STALE // 3


def lock_key(program: store.Program) -> str:
    return f"program.runner.{program.id}"


@contextmanager
def runner_id() -> Iterator[str]:
    """A fresh runner id, registered as alive in this process until the block ends (however it ends)."""
    me = holders.new_holder()
    holders.hold(me)
    try:
        yield me
    finally:
        holders.release(me)


def take(db: sqlite_utils.Database, program: store.Program, me: str) -> str | None:
    """Become (or stay: a renewal) the program's runner as `me`, unless another live runner is (its id then).
    One runner per program keeps two overlapping run-dues from dispatching the same step run side by side."""
    now = now_ts()
    with immediate(db):
        row = db.execute("SELECT value FROM settings WHERE key = ?", [lock_key(program)]).fetchone()
        if row:
            holder, _, since = str(row[0]).rpartition("@")
            if holder != me and alive(holder, int(since) if since.isdigit() else None, now):
                return holder
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [lock_key(program), f"{me}@{now}"])
    return None


def alive(holder: str, since: int | None, now: int) -> bool:
    """Is the runner that wrote `holder@since` still running? One registered in this process is, whatever its time
    (a frozen clock must not make it look stale); another while its time is under HEARTBEAT_STALE old and it is
    not certainly gone (holders.is_dead: an unregistered token of this process, a pid on this host that is gone)."""
    if holders.held_here(holder):
        return True
    return since is not None and since >= now - HEARTBEAT_STALE and not holders.is_dead(holder)


def leave(db: sqlite_utils.Database, program: store.Program, me: str) -> None:
    """Free the lock if it is still ours (a runner taken over as stale must not free its successor's)."""
    mine = f"{me}@"
    with immediate(db):
        db.execute("DELETE FROM settings WHERE key = ? AND substr(value, 1, ?) = ?",
                   [lock_key(program), len(mine), mine])


class Hold:
    """One runner's hold on the program while it dispatches: `still_ours()` (before each batch) renews the lock once
    it is RENEW_EVERY seconds old — one step run's send can outlast HEARTBEAT_STALE, and a live runner must not look
    abandoned to another process's run-due — and answers False (for good) once another runner took it over, after
    a single batch outlasted the window: this runner then stops dispatching beside it (`taken_by` says who)."""

    def __init__(self, db: sqlite_utils.Database, program: store.Program, me: str, taken_at: int):
        self.db, self.program, self.me = db, program, me
        self.renewed_at = taken_at
        self.taken_by: str | None = None

    def still_ours(self) -> bool:
        if self.taken_by is not None:
            return False
        now = now_ts()
        if 0 <= now - self.renewed_at < RENEW_EVERY:
            return True
        self.taken_by = take(self.db, self.program, self.me)
        if self.taken_by is None:
            self.renewed_at = now
        return self.taken_by is None


__all__ = ["BeingRun", "Hold", "alive", "leave", "lock_key", "runner_id", "take"]
