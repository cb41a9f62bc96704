"""Who holds a run and its claimed rows: a dispatcher's id, whether it is still alive, and keeping its hold fresh.

A dispatcher's id is `host:pid:token`. The token tells apart two dispatchers in one process — the console sends from
thread workers, and a program step or a resume may start another — which `host:pid` alone could not: both would
pass each other's "is this row still mine?" check and send the same rows. Ids stored by earlier versions are
`host:pid`; both forms are read.

Alive or gone (claims of a gone dispatcher are recovered: console.campaigns.runs.recover_lost_claims):
- in this process, a dispatcher is alive exactly while it runs: it is registered here (`hold`) until it leaves
  (`release`). An id of this pid that is not registered — or has no token, so was written by an earlier process
  that had our pid — is gone;
- another process on this host is gone when its pid no longer exists;
- another host's dispatcher is never presumed dead here: its lease and heartbeat decide.

While a batch is with the provider the hand-off writer renews the batch's leases and the run's heartbeat (`renew`),
so a slow batch never looks abandoned while its dispatcher is alive.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
from collections import Counter

import sqlite_utils

from console.campaigns.ledger import SendState

# host:pid[:token] — a token starts with a letter, so it is never read as a pid
_ID = re.compile(r"^(?P<host>.*):(?P<pid>\d+)(?::(?P<token>[A-Za-z][A-Za-z0-9]*))?$")

_live: Counter[str] = Counter()   # ids of this process's dispatchers that have not left (held, not released)
_lock = threading.Lock()


def process_id() -> str:
    """This process, `host:pid` (a dispatcher or program runner holds under new_holder(): one per run)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_holder() -> str:
    """A fresh id for one dispatcher (or a run-due's hold on a run): `host:pid:token`, unique in this process."""
    return f"{process_id()}:d{secrets.token_hex(6)}"


def hold(holder: str) -> None:
    """`holder` is at work in this process: alive until as many `release` calls."""
    with _lock:
        _live[holder] += 1


def release(holder: str) -> None:
    with _lock:
        _live[holder] -= 1
        if _live[holder] <= 0:
            del _live[holder]


def held_here(holder: str | None) -> bool:
    """A dispatcher of this process that has not left."""
    with _lock:
        return bool(holder) and _live[holder or ""] > 0


def is_dead(holder: str | None) -> bool:
    """The holder of a claim is certainly gone (see the module's docstring); False when it may be alive."""
    if not holder:
        return True
    parsed = _ID.match(holder)
    if parsed is None or parsed["host"] != socket.gethostname():
        return False   # not an id we know how to check, or another host's: its lease decides
    pid = int(parsed["pid"])
    if pid == os.getpid():
        # our own pid: an id without a token was written by an earlier process that had this pid
        return parsed["token"] is None or not held_here(holder)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def renew(db: sqlite_utils.Database, campaign_id: int, run: int, holder: str, now: int, lease: int) -> None:
    """Extend the leases of the rows `holder` still has claimed in this run to now + lease, and say on the run that
    it is alive (heartbeat), unless another dispatcher took the run. Inside the caller's write transaction.

    Rows another dispatcher recovered or took (their lease lapsed before this) are not touched: their claimed_by
    or status is no longer ours."""
    db.execute("UPDATE sends SET lease_until = ? WHERE campaign_id = ? AND run = ? AND status = ? "
               "AND claimed_by = ? AND COALESCE(lease_until, 0) < ?",
               [now + lease, campaign_id, run, SendState.CLAIMED.value, holder, now + lease])
    db.execute("UPDATE campaign_runs SET heartbeat_at = ? WHERE campaign_id = ? AND run = ? AND dispatcher = ? "
               "AND COALESCE(heartbeat_at, 0) < ?", [now, campaign_id, run, holder, now])


__all__ = ["held_here", "hold", "is_dead", "new_holder", "process_id", "release", "renew"]
