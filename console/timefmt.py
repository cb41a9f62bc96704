"""How a person reads a time: in the workspace's zone (winback.toml `timezone`), with that zone said.

One place for the CLI and the console, so a table, a sentence and a screen never switch between UTC
(`…T21:00:00Z`) and local time. Scripts get `iso()`: ISO 8601 with its UTC offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

DEFAULT_FORMAT = "%Y-%m-%d %H:%M"


def zone(tz_name: str | None) -> tzinfo:
    """The named IANA zone; UTC for none or a bad name (a bad zone in config must not break a listing)."""
    if not tz_name:
        return UTC
    try:
        return ZoneInfo(tz_name)
    except (KeyError, ValueError):
        return UTC


def zone_label(ts: int, tz_name: str | None) -> str:
    """'UTC+8', 'UTC-4', 'UTC+5:30' or 'UTC': the offset in force at `ts` (it changes with summer time)."""
    offset = datetime.fromtimestamp(ts, zone(tz_name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    if not minutes:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def local_time(ts: int | None, tz_name: str | None, fmt: str = DEFAULT_FORMAT, *, label: bool = True) -> str:
    """'2026-11-25 16:00 UTC+8': a time as the operator reads it; '—' for none. `label=False` leaves the zone out
    (a table whose heading says the zone once)."""
    if ts is None:
        return "—"
    text = datetime.fromtimestamp(ts, zone(tz_name)).strftime(fmt)
    return f"{text} {zone_label(ts, tz_name)}" if label else text


def local_date(ts: int | None, tz_name: str | None) -> str:
    """'2026-11-25': the day in the workspace's zone; '' for none."""
    return "" if ts is None else datetime.fromtimestamp(ts, zone(tz_name)).strftime("%Y-%m-%d")


def iso(ts: int | None, tz_name: str | None = None) -> str | None:
    """ISO 8601 with the offset: '2026-11-25T16:00:00+08:00' in the workspace's zone ('…Z' for UTC)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, zone(tz_name)).isoformat().replace("+00:00", "Z")
