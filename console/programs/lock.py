"""One runner per program: a program run holds `program.runner.ID` in settings (host:pid@time) while it runs, so two
overlapping run-dues (cron) never dispatch the same step run side by side; a runner that died (kill -9) or went
stale is taken over by the next run."""

from __future__ import annotations

import os
import socket

import sqlite_utils

from console.campaigns.runs import HEARTBEAT_STALE, dispatcher_id
from console.clock import now_ts
from console.errors import BadInput
from console.programs import store
from storage.tx import immediate


class BeingRun(BadInput):
    """Another process is running this program right now (two cron run-dues overlapping): not an error."""


def lock_key(program: store.Program) -> str:
    return f"program.runner.{program.id}"


def take(db: sqlite_utils.Database, program: store.Program) -> str | None:
    """Become the program's runner unless a live process already is (its host:pid then). One runner per program
    keeps two overlapping run-dues from dispatching the same step run side by side (the channel's rate limit)."""
    me, now = dispatcher_id(), now_ts()
    with immediate(db):
        row = db.execute("SELECT value FROM settings WHERE key = ?", [lock_key(program)]).fetchone()
        if row:
            holder, _, since = str(row[0]).rpartition("@")
            live = holder != me and since.isdigit() and int(since) >= now - HEARTBEAT_STALE and alive(holder)
            if live:
                return holder
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [lock_key(program), f"{me}@{now}"])
    return None


def alive(holder: str) -> bool:
    """A runner on this host whose process still exists (another host's: presumed alive until stale)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leave(db: sqlite_utils.Database, program: store.Program) -> None:
    with immediate(db):
        db.execute("DELETE FROM settings WHERE key = ? AND value LIKE ?", [lock_key(program), f"{dispatcher_id()}@%"])
