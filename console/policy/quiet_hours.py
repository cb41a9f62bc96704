"""Quiet hours: marketing goes out only inside a sending window, in each recipient's own time zone.

The window (default 08:00–20:00) comes from `winback quiet-hours set` (stored in `settings` as the *quiet* span,
e.g. 20:00-08:00, or off), else from winback.toml [quiet_hours] start/end (the *sending* window), else the default.
A channel can opt out with `quiet_hours = false` in its [channels.X] table (e.g. a gift list export).

The recipient's zone: the user's own, else the one(s) their phone number belongs to, else the workspace's. When
several zones are possible (a +1 number without an area-code match, a Russian mobile), a moment is allowed only if
it is inside the window in every candidate: the strictest reading. The answer is always "now" or "defer until T".
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from console import audit
from console.config import Config, setting_error, setting_place
from console.errors import BadInput
from console.policy.quiet_hours_night import night_only, set_refusal
from storage.tx import immediate

SETTING_KEY = "quiet_hours"
DEFAULT_WINDOW = ("08:00", "20:00")
# How far ahead a deferral is searched. Any non-empty daily window recurs within two days, even across a
# daylight-saving jump; four leaves room for several candidate zones.
HORIZON_DAYS = 4


def parse_clock(text: str) -> int:
    """'08:00' → seconds after midnight. Accepts H:MM and HH:MM, 00:00–24:00 — also typed with a Chinese input
    method ('09：00', full-width digits), which looks the same to the operator (NFKC folds it to ASCII)."""
    try:
        hours, minutes = unicodedata.normalize("NFKC", text).strip().split(":")
        h, m = int(hours), int(minutes)
    except ValueError as exc:
        raise BadInput(f"time {text!r} is not understood; write it like 08:00") from exc
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise BadInput(f"time {text!r} is not a time of day")
    return (h * 60 + m) * 60 % 86400


def format_clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@dataclass(frozen=True)
class Window:
    """The daily sending window [start, end) in local seconds after midnight; it may wrap midnight."""

    start: int
    end: int

    @property
    def sending(self) -> str:
        return f"{format_clock(self.start)}-{format_clock(self.end)}"

    @property
    def quiet(self) -> str:
        return f"{format_clock(self.end)}-{format_clock(self.start)}"

    def allows_local(self, seconds: int) -> bool:
        if self.start < self.end:
            return self.start <= seconds < self.end
        return seconds >= self.start or seconds < self.end

    def allows(self, at: int, zone: ZoneInfo) -> bool:
        local = datetime.fromtimestamp(at, zone)
        return self.allows_local(local.hour * 3600 + local.minute * 60 + local.second)


def parse_quiet_span(text: str) -> Window | None:
    """'20:00-08:00' (the quiet span: no sends from 20:00 until 08:00) → the sending Window; 'off' → None."""
    text = unicodedata.normalize("NFKC", text).strip().lower()   # 20：00～08：00 from a Chinese input method
    if text in ("off", "none"):
        return None
    parts = text.replace("–", "-").replace("~", "-").split("-")
    if len(parts) != 2:
        raise BadInput(f"quiet hours {text!r} are not understood; write them like 20:00-08:00, or off")
    quiet_start, quiet_end = parse_clock(parts[0]), parse_clock(parts[1])
    if quiet_start == quiet_end:
        raise BadInput("quiet hours must start and end at different times (use `off` for none)")
    return Window(start=quiet_end, end=quiet_start)


def window_source(db: sqlite_utils.Database, config: Config) -> tuple[Window | None, str]:
    """The workspace's sending window and where it was set: 'winback quiet-hours set', 'winback.toml', 'default'."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
    if row is not None:
        value = json.loads(row[0])
        if value.get("off"):
            return None, "winback quiet-hours set"
        return parse_quiet_span(value["quiet"]), "winback quiet-hours set"
    if config.quiet_hours:
        return config_window(config), "winback.toml"
    return Window(parse_clock(DEFAULT_WINDOW[0]), parse_clock(DEFAULT_WINDOW[1])), "default"


# What start and end mean, said in every error about them: the table holds the *sending* window, the opposite of
# the quiet span `winback quiet-hours set` takes, and an operator who reads "start" as "quiet hours start" would
# send all night.
MEANING = {"start": "start is when sending may start each day, not when quiet hours start",
           "end": "end is when sending must stop each day, not when quiet hours end"}
ENABLED = {True: True, False: False, "on": True, "off": False}


def config_window(config: Config) -> Window | None:
    """The sending window of winback.toml's [quiet_hours] (start/end, enabled); a ConfigError naming the file, the
    line and the key for a bad value."""
    qh = config.quiet_hours
    enabled = qh.get("enabled", True)
    if isinstance(enabled, str):
        enabled = enabled.strip().lower()
    if enabled not in ENABLED:
        raise setting_error(config, "quiet_hours", "enabled", f"{qh['enabled']!r}: write true or false "
                                                                "(false: marketing may go out at any hour)")
    if not ENABLED[enabled]:
        return None
    start, end = (_config_clock(config, key, qh.get(key, default)) for key, default in zip(("start", "end"),
                                                                                        DEFAULT_WINDOW, strict=True))
    if start == end:   # a pair: said at end's line (else start's) with the other's line too
        key, other = ("end", "start") if "end" in qh else ("start", "end")
        line = setting_place(config, "quiet_hours", other).rpartition(" line ")[2] if other in qh else ""
        raise setting_error(config, "quiet_hours", key,
                            f"start and end are both {format_clock(start)}"
                            + (f" ({other} on line {line})" if line.isdigit() else "")
                            + ": the sending window would be empty "
                            "(start is when sending may start, end when it must stop; enabled = false for no "
                            "quiet hours)")
    return Window(start=start, end=end)


def _config_clock(config: Config, key: str, value: object) -> int:
    if isinstance(value, time):   # start = 08:00:00 unquoted is a TOML local time
        return (value.hour * 3600 + value.minute * 60) % 86400
    if isinstance(value, str):
        try:
            return parse_clock(value)
        except BadInput:
            pass
    raise setting_error(config, "quiet_hours", key, f"{value!r} is not a time of day (write \"HH:MM\", "
                                                      f"00:00–24:00); {MEANING[key]}")


def sending_window(db: sqlite_utils.Database, config: Config, channel: str | None = None) -> Window | None:
    """The window that applies to *channel* (None: no quiet hours)."""
    if channel is not None:
        flag = config.channel(channel).get("quiet_hours", True)
        if isinstance(flag, str):
            flag = flag.strip().lower()
        if flag not in ENABLED:   # "no" was read as on: the channel kept quiet hours its operator meant to drop
            raise setting_error(config, f"channels.{channel}", "quiet_hours",
                                f"{config.channel(channel)['quiet_hours']!r}: write true or false (false: this "
                                "channel ignores quiet hours)")
        if not ENABLED[flag]:
            return None
    return window_source(db, config)[0]


def set_quiet_hours(db: sqlite_utils.Database, span: str, *, at_night: bool = False) -> Window | None:
    """Store the quiet span ('20:00-08:00') or 'off' for the whole workspace. Audited. A span that leaves a
    night-time sending window ('08:00-20:00': the sending window typed as the quiet span) is refused (BadInput,
    nothing changed) unless *at_night* confirms it."""
    window = parse_quiet_span(span)
    if window is not None and not at_night and night_only(window.start, window.end):
        raise BadInput(set_refusal(window.start, window.end))
    value = {"off": True} if window is None else {"quiet": window.quiet}
    with immediate(db):
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [SETTING_KEY, json.dumps(value)],
        )
        audit.record(db, "quiet_hours.set", quiet="off" if window is None else window.quiet,
                     sending=None if window is None else window.sending, **({"at_night": True} if at_night else {}))
    return window


def reset_quiet_hours(db: sqlite_utils.Database) -> bool:
    """Remove `winback quiet-hours set`'s override, so winback.toml's [quiet_hours] (else the default) applies
    again. Audited when there was one; False when there was none (nothing changed)."""
    with immediate(db):
        row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
        if row is None:
            return False
        db.execute("DELETE FROM settings WHERE key = ?", [SETTING_KEY])
        removed = json.loads(row[0])
        audit.record(db, "quiet_hours.reset", removed="off" if removed.get("off") else removed.get("quiet"))
    return True


# --- time zones -----------------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None when it is not one."""
    if not name or name == "Etc/Unknown":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...] | None]:
    """Country calling code → its zones when every number of that code maps to them alone; None when the
    zone depends on the number (NANP, Russia, Australia, ...); missing when phonenumbers knows no zone."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.tzdata import TIMEZONE_DATA

    codes = {str(cc) for cc in COUNTRY_CODE_TO_REGION_CODE}
    seen: dict[str, set[tuple[str, ...]]] = {}
    for prefix, zones in TIMEZONE_DATA.items():
        cc = next((prefix[:n] for n in (1, 2, 3) if prefix[:n] in codes), None)
        if cc is not None:
            seen.setdefault(cc, set()).add(tuple(zones))
    out: dict[str, tuple[str, ...] | None] = {}
    for cc, variants in seen.items():
        only = next(iter(variants))
        single = len(variants) == 1 and len(only) == 1 and cc in TIMEZONE_DATA and zone(only[0]) is not None
        out[cc] = only if single else None
    return out


def calling_code(e164: str) -> str | None:
    """'+8613812345678' → '86' (country codes are prefix-free: the first of 1–3 digits that is one)."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    digits = e164.lstrip("+")
    for n in (1, 2, 3):
        if digits[:n].isdigit() and int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE:
            return digits[:n]
    return None


_PHONE_ZONES: dict[str, tuple[str, ...]] = {}


def zones_for_phone(phone: str | None) -> tuple[str, ...]:
    """The zones a phone number (E.164) can be in; () when unknown. Whole-country codes are answered from a
    table; others parse the number (phonenumbers.timezone), remembered per number in this process."""
    if not phone or not phone.startswith("+"):
        return ()
    cc = calling_code(phone)
    if cc is None:
        return ()
    table = _country_zones()
    if cc not in table:
        return ()
    zones = table[cc]
    if zones is not None:
        return zones
    found = _PHONE_ZONES.get(phone)
    if found is None:
        import phonenumbers
        from phonenumbers import timezone as pn_timezone

        try:
            names = pn_timezone.time_zones_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            names = ()
        found = tuple(sorted(n for n in names if zone(n) is not None))
        if len(_PHONE_ZONES) > 200_000:
            _PHONE_ZONES.clear()
        _PHONE_ZONES[phone] = found
    return found


def recipient_zones(timezone: str | None, phone: str | None, config: Config) -> tuple[tuple[str, ...], str]:
    """The candidate zones of one recipient and where they came from: 'user', 'phone' or 'workspace'."""
    if timezone and zone(timezone) is not None:
        return (timezone,), "user"
    from_phone = zones_for_phone(phone)
    if from_phone:
        return from_phone, "phone"
    return (config.timezone,), "workspace"


# --- deferral -------------------------------------------------------------------------------------------------

def _offset(at: int, tz: ZoneInfo) -> timedelta:
    return datetime.fromtimestamp(at, tz).utcoffset() or timedelta(0)


def _transitions(at: int, tz: ZoneInfo, horizon: int) -> list[int]:
    """Instants in (at, at + horizon] where the zone's UTC offset changes (to the second)."""
    out = []
    step = 3600  # no zone changes offset twice within an hour
    t, before = at, _offset(at, tz)
    while t < at + horizon:
        nxt = t + step
        after = _offset(nxt, tz)
        if after != before:
            lo, hi = t, nxt  # offset(lo) == before, offset(hi) == after
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(mid, tz) == before:
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
            before = after
        t = nxt
    return out


def _window_openings(at: int, tz: ZoneInfo, window: Window, horizon: int) -> list[int]:
    """Instants near (at, at + horizon] when the local clock reads the window's start (both folds)."""
    first = datetime.fromtimestamp(at, tz).date() - timedelta(days=1)
    h, m = divmod(window.start // 60, 60)
    out = []
    for k in range(horizon // 86400 + 3):
        d: date = first + timedelta(days=k)
        for fold in (0, 1):
            out.append(int(datetime(d.year, d.month, d.day, h, m, tzinfo=tz, fold=fold).timestamp()))
    return out


def next_allowed(at: int, zones: str | tuple[str, ...] | list[str], window: Window | None, *,
                 prefer: str | None = None) -> int:
    """The first moment ≥ *at* inside the sending window in every one of *zones*: *at* itself when sending is
    allowed now, else the deferral. The window can only be entered when a local clock reaches its start or when
    a clock jumps (daylight saving), so those instants are the only candidates. If the zones share no moment
    (a country spanning half the globe), the answer for *prefer* (or the first zone) alone is given: defer,
    never drop."""
    if window is None:
        return at
    if isinstance(zones, str):
        zones = (zones,)
    tzs = [z for z in (zone(n) for n in zones) if z is not None]
    if not tzs:
        raise BadInput(f"no known time zone among {', '.join(zones) or '(none)'}")
    if all(window.allows(at, tz) for tz in tzs):
        return at
    horizon = HORIZON_DAYS * 86400
    candidates: set[int] = set()
    for tz in tzs:
        candidates.update(_window_openings(at, tz, window, horizon))
        candidates.update(_transitions(at, tz, horizon))
    for t in sorted(c for c in candidates if at < c <= at + horizon):
        if all(window.allows(t, tz) for tz in tzs):
            return t
    fallback = prefer if prefer is not None and prefer in zones else zones[0]
    return next_allowed(at, (fallback,), window)


class QuietHoursNow(TypedDict):
    """One recipient's quiet-hours verdict (`quiet_hours_now`)."""

    window: dict[str, str] | None  # sending, quiet (as written); None: no quiet hours
    zones: list[str]           # the recipient's possible zones
    zone_source: str           # where the zones come from
    local_time: dict[str, str]     # zone → the time there now (up to five zones)
    allowed_now: bool
    defer_until: int | None
    defer_until_utc: str | None


def quiet_hours_now(
    at: int, timezone: str | None, phone: str | None, config: Config, window: Window | None
) -> QuietHoursNow:
    """One recipient's quiet-hours verdict at *at*, in words and numbers (for `winback why`)."""
    zones, source = recipient_zones(timezone, phone, config)
    local = {}
    for name in zones[:5]:
        tz = zone(name)
        if tz is not None:
            local[name] = datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M %Z")
    allowed_at = next_allowed(at, zones, window, prefer=config.timezone)
    return {
        "window": None if window is None else {"sending": window.sending, "quiet": window.quiet},
        "zones": list(zones),
        "zone_source": source,
        "local_time": local,
        "allowed_now": allowed_at == at,
        "defer_until": None if allowed_at == at else allowed_at,
        "defer_until_utc": None if allowed_at == at else datetime.fromtimestamp(allowed_at, UTC).isoformat(),
    }
