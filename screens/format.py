"""How numbers, money, times and bars look on screen: one place, so every screen agrees."""

from __future__ import annotations

from rich.text import Text

from console import timefmt

CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}

# Eighth blocks give a bar eight steps per cell: a 12-cell bar shows 96 levels.
_EIGHTHS = " ▏▎▍▌▋▊▉"


def count(value: int | float | None) -> str:
    """A count with thousands separators; '—' when there is none."""
    if value is None:
        return "—"
    return f"{int(value):,}"


def sent_cell(sent: int | None, mode: str | None) -> Text:
    """A campaign's sent count as its tables show it. A dry run sends nothing, nor does the demo's simulated
    campaign: their count is what they would send ("would 10,056"), never shown as sent."""
    return Text(count(sent) if mode in (None, "real") else f"would {count(sent)}", justify="right")


def percent(part: int | float, whole: int | float) -> str:
    if not whole:
        return "—"
    return f"{100 * part / whole:.0f}%"


def money(value: float | None, currency: str = "CNY", *, places: int = 2) -> str:
    """Money in the workspace currency: ¥128.40."""
    if value is None:
        return "—"
    sign = CURRENCY_SIGNS.get(currency, currency + " ")
    return f"{sign}{value:,.{places}f}"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells filled to `fraction` (0..1), in eighth-cell steps."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[rest] if rest else "")
    return text.ljust(width)


def progress(done: int, total: int, width: int = 12) -> str:
    """A progress bar with its percentage: ████████░░░  71%."""
    fraction = done / total if total else 0.0
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled) + f" {100 * fraction:3.0f}%"


_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int | None = None) -> str:
    """A one-line sparkline of the last `width` values."""
    if width is not None:
        values = values[-width:]
    if not values:
        return ""
    top = max(values) or 1
    return "".join(_SPARKS[min(7, int(7 * v / top + 0.5))] if v > 0 else " " for v in values)


def local_time(ts: int | None, tz: str, fmt: str = "%Y-%m-%d %H:%M", *, label: bool = False) -> str:
    """A UTC timestamp shown in the workspace time zone (console.timefmt, the one formatter the CLI uses too).

    Cells leave the zone out (`label=False`): the header says it once, "as of … UTC+8"."""
    return timefmt.local_time(ts, tz, fmt, label=label)


def details_line(details: dict | None, width: int = 60) -> str:
    """An audit entry's details as one short line: key=value · key=value."""
    if not details:
        return ""
    text = " · ".join(f"{k}={v}" for k, v in details.items())
    return text if len(text) <= width else text[: width - 1] + "…"
