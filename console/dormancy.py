"""Dormancy: which metric counts as "still with us", and the day thresholds of at risk, dormant and lost.

Days are calendar days in the workspace's time zone: an order placed at 23:30 in Shanghai on 27 August is
90 days old on 25 November, whatever the UTC clock says. Every threshold becomes a *cutoff*, the UTC second at
which that local day starts, so "at least N days since" is `at < cutoff(N)`: exact across daylight-saving
changes, and a plain comparison SQLite can answer from an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from console.config import Config, setting_error, setting_place

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
        raise setting_error(config, "dormancy", "metric", f"{metric!r} is not a metric; choose one of "
                                                          f"{', '.join(METRICS)}")
    days = {}
    for key, default in (("at_risk_days", 30), ("dormant_days", 90), ("lost_days", 365)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise setting_error(config, "dormancy", key, f"{value!r} is not a number of days: give a whole "
                                                         "number above 0, e.g. 30")
        days[key] = value
    _check_growing(config, days)
    return DormancySettings(metric=metric, **days)


_ORDER = ("at_risk_days", "dormant_days", "lost_days")


def _check_growing(config: Config, days: dict[str, int]) -> None:
    """at_risk_days < dormant_days < lost_days, else a ConfigError at the line of the value that breaks it.

    The first pair out of order is said at its later key when the file writes it (at_risk 30, dormant 20: dormant
    is the one to fix), else at the earlier one (it was written against a preset's or default value), with the
    other value and where it comes from — its line, or the preset/default.
    """
    written = (getattr(config, "raw", None) or {}).get("dormancy", {})
    for low, high in zip(_ORDER, _ORDER[1:], strict=False):
        if days[low] < days[high]:
            continue
        if high in written or low not in written:
            key, other, relation = high, low, "more"
        else:
            key, other, relation = low, high, "less"
        if other in written:
            origin = setting_place(config, "dormancy", other).rpartition(" line ")[2]
            origin = f"line {origin}" if origin.isdigit() else "in the file"
        else:
            origin = f"preset {written['preset']!r}" if "preset" in written else "the default"
        raise setting_error(config, "dormancy", key if key in written else None,
                            f"{days[key]} must be {relation} than {other} ({days[other]}, {origin}): the "
                            "thresholds grow, at_risk_days < dormant_days < lost_days")


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
