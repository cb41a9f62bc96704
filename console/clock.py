"""The current time, in one place, so tests, snapshots and demos can freeze it.

Set WINBACK_NOW to an ISO 8601 time (e.g. 2026-11-25T09:00:00+08:00) to freeze the clock.

This is the *business* clock: every "now" that decides or records something reads it — quiet hours, caps
and budgets' windows, dormancy and as-of dates, audit and ledger timestamps, offer expiry, claim leases and
dispatcher heartbeats (stored times other processes compare with theirs; a dispatcher that died on this host is
recognised by its pid, so a frozen clock does not strand its claims; a lease expires by moving WINBACK_NOW).
Durations measured on the machine stay on time.monotonic()/time.time() and are never frozen: timeouts, busy
retries, rate pacing between processes, screen refresh intervals, "took 1.4 s" reports.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import overload


def now_ts() -> int:
    """Seconds since the epoch, UTC."""
    frozen = os.environ.get("WINBACK_NOW")
    if frozen:
        return int(parse_iso(frozen).timestamp())
    return int(time.time())


def now() -> datetime:
    return datetime.fromtimestamp(now_ts(), UTC)


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


@overload
def ts_to_iso(ts: int) -> str: ...
@overload
def ts_to_iso(ts: None) -> None: ...
@overload
def ts_to_iso(ts: int | None) -> str | None: ...


def ts_to_iso(ts: int | None) -> str | None:
    """An epoch time as ISO 8601 UTC ("…Z"); None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
