"""Dormancy: which metric counts as "still with us", and the day thresholds of at risk, dormant and lost.

Days are calendar days in the workspace's time zone: an order placed at 23:30 in Shanghai on 27 August is
90 days old on 25 November, whatever the UTC clock says. Every threshold becomes a *cutoff*, the UTC second at
which that local day starts, so "at least N days since" is `at < cutoff(N)`: exact across daylight-saving
changes, and a plain comparison SQLite can answer from an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from console.config import Config
from console.errors import BadInput

DAY = 86_400

# Stored values, in funnel order, and the words the console shows for them.
STATES = ("active", "at_risk", "dormant", "lost", "never_active")
STATE_LABELS = {
    "active": "active",
    "at_risk": "at risk",
    "dormant": "dormant",
    "lost": "lost",
    "never_active": "never active",
}

# The profile column each metric reads (never taken from input: chosen from this map).
METRICS = ("order", "visit", "login", "any")


@dataclass(frozen=True)
class DormancySettings:
    metric: str = "order"
    at_risk_days: int = 30
    dormant_days: int = 90
    lost_days: int = 365

    def as_dict(self) -> dict[str, object]:
        return {"metric": self.metric, "at_risk_days": self.at_risk_days,
                "dormant_days": self.dormant_days, "lost_days": self.lost_days}


def settings(config: Config) -> DormancySettings:
    """Dormancy settings from `[dormancy]`, checked: a known metric and 0 < at risk < dormant < lost."""
    raw = dict(config.dormancy or {})
    metric = str(raw.get("metric", "order")).strip().lower()
    if metric == "activity":
        metric = "any"
    if metric not in METRICS:
        raise BadInput(f"[dormancy] metric = {metric!r}; choose one of {', '.join(METRICS)}")
    days = {}
    for key, default in (("at_risk_days", 30), ("dormant_days", 90), ("lost_days", 365)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise BadInput(f"[dormancy] {key} = {value!r}; give a whole number of days above 0")
        days[key] = value
    if not days["at_risk_days"] < days["dormant_days"] < days["lost_days"]:
        raise BadInput(
            "[dormancy] thresholds must grow: at_risk_days < dormant_days < lost_days "
            f"(got {days['at_risk_days']}, {days['dormant_days']}, {days['lost_days']})"
        )
    return DormancySettings(metric=metric, **days)


def zone(config: Config) -> ZoneInfo:
    return ZoneInfo(config.timezone)


def local_date(ts: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()


def cutoff(as_of: int, days: int, tz: ZoneInfo) -> int:
    """The first UTC second of the local day `days - 1` days before as_of's local date.

    An event at `at` is at least `days` calendar days old on as_of's date exactly when `at < cutoff`.
    """
    day = local_date(as_of, tz) - timedelta(days=days - 1)
    return int(datetime.combine(day, time(0), tz).timestamp())


def days_since(ts: int | None, as_of: int, tz: ZoneInfo) -> int | None:
    """Whole calendar days from ts's local date to as_of's local date (None for None)."""
    if ts is None:
        return None
    return (local_date(as_of, tz) - local_date(ts, tz)).days


def end_of_local_day(day: date, tz: ZoneInfo) -> int:
    """The last second of a local calendar day, as a UTC timestamp."""
    return int(datetime.combine(day + timedelta(days=1), time(0), tz).timestamp()) - 1


def parse_as_of(text: str, tz: ZoneInfo) -> int:
    """`--as-of`: a date (the end of that local day) or an ISO 8601 time (naive = workspace zone)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return end_of_local_day(date.fromisoformat(text), tz)
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"--as-of {text!r}: give a date like 2026-11-25 or a time like 2026-11-25T09:00") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return int(value.astimezone(UTC).timestamp())


def refuse_future(as_of: int, text: str, tz: ZoneInfo, now: int) -> int:
    """An --as-of later than today is refused: profiles "as of" next year would mark today's customers dormant
    and campaigns would target them. Today itself (the end of today) is fine."""
    today_ends = end_of_local_day(datetime.fromtimestamp(now, tz).date(), tz)
    if as_of > max(now, today_ends):
        raise BadInput(f"--as-of {text.strip()!r} is in the future; give today or an earlier date")
    return as_of


def state_of(metric_at: int | None, as_of: int, s: DormancySettings, tz: ZoneInfo) -> str:
    """The state of one user (used by `why` and tests; refresh computes the same thing in SQL)."""
    if metric_at is None:
        return "never_active"
    days = days_since(metric_at, as_of, tz)
    assert days is not None
    if days >= s.lost_days:
        return "lost"
    if days >= s.dormant_days:
        return "dormant"
    if days >= s.at_risk_days:
        return "at_risk"
    return "active"
