"""How a person reads a time: in the workspace's zone (winback.toml `timezone`), with that zone said.

One place for the CLI and the console, so a table, a sentence and a screen never switch between UTC
(`…T21:00:00Z`) and local time. Scripts get `iso()`: ISO 8601 with its UTC offset.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from console.errors import BadInput

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


# ---- --as-of: the one reading of "history as of" for every command that takes it ----------------------------

def end_of_local_day(day: date, tz: tzinfo) -> int:
    """The last second of a local calendar day, as a UTC timestamp."""
    return int(datetime.combine(day + timedelta(days=1), time(0), tz).timestamp()) - 1


def parse_as_of(text: str, tz: tzinfo | str | None) -> int:
    """`--as-of`: a date (the end of that local day) or an ISO 8601 time (naive = workspace zone)."""
    zone_ = tz if isinstance(tz, tzinfo) else zone(tz)
    text = text.strip()
    try:
        if len(text) == 10:
            return end_of_local_day(date.fromisoformat(text), zone_)
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"--as-of {text!r}: give a date like 2026-11-25 or a time like 2026-11-25T09:00") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone_)
    return int(value.astimezone(UTC).timestamp())


def cli_as_of(text: str, tz: tzinfo | str | None, now: int) -> int:
    """`--as-of` as every command takes it: parse_as_of, refusing a time after today. History "as of" next year
    would mark today's customers dormant (refresh) or gone (a model fit), and campaigns would target them.
    Today itself (up to the end of today) is fine."""
    zone_ = tz if isinstance(tz, tzinfo) else zone(tz)
    as_of = parse_as_of(text, zone_)
    today_ends = end_of_local_day(datetime.fromtimestamp(now, zone_).date(), zone_)
    if as_of > max(now, today_ends):
        raise BadInput(f"--as-of {text.strip()!r} is in the future; give today or an earlier date")
    return as_of


# ---- a time the operator types for something to happen (a one-off campaign's launch) --------------------------

def parse_time(text: str, tz: tzinfo | str | None, option: str) -> int:
    """'2026-12-08 09:00' (or ISO 8601, 'T' and seconds allowed) in the workspace's zone, unless it carries its own
    offset; `option` names the field in the error. A bare date is refused: which hour of it would be a guess."""
    zone_ = tz if isinstance(tz, tzinfo) else zone(tz)
    text = text.strip()
    typed = unicodedata.normalize("NFKC", text)   # '09：00', full-width digits and space from a Chinese input method
    try:
        if len(typed) == 10:
            raise ValueError("a date without a time")
        value = datetime.fromisoformat(typed)
    except ValueError as exc:
        raise BadInput(f"{option} {text!r}: give a date and time like 2026-12-08 09:00 (in the workspace's zone, "
                       f"{zone_})") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone_)
    return int(value.astimezone(UTC).timestamp())
