"""The sandbox templates render in: Jinja2's ImmutableSandboxedEnvironment with StrictUndefined, no globals,
only allow-listed filters (money, date, track …), and a per-render budget of work and time (RenderLimit).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    StrictUndefined,
    Undefined,
    pass_context,
    pass_eval_context,
)
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from console.config import Config
from console.links import add_tracking
from console.templates.allowed import (
    ALLOWED_FILTERS,
    MAX_INT_BITS,
    MAX_OUTPUT,
    MAX_WORK,
    RENDER_SECONDS,
    RenderLimit,
)


class RenderBudget:
    """What one render has built so far, and when it must stop (see MAX_WORK, RENDER_SECONDS)."""

    def __init__(self) -> None:
        self.work = 0
        self.deadline = time.monotonic() + RENDER_SECONDS

    def charge(self, amount: int) -> None:
        self.work += amount
        if self.work > MAX_WORK:
            raise RenderLimit(f"this message builds over {MAX_WORK:,} characters on the way; the render limit is "
                              f"{MAX_WORK:,} (rendered output is capped at {MAX_OUTPUT:,})")
        if time.monotonic() > self.deadline:
            raise RenderLimit(f"rendering took longer than the limit of {RENDER_SECONDS:g} seconds")


# The budget of the render running in this thread (None outside one: the per-operation limits still hold).
RENDER_BUDGET: ContextVar[RenderBudget | None] = ContextVar("winback_render_budget", default=None)


def charge(amount: int) -> None:
    budget = RENDER_BUDGET.get()
    if budget is not None:
        budget.charge(amount)


def _text_size(value: Any, depth: int = 0) -> int:
    """About how many characters *value* prints as: a list repeated from one long string counts every copy."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, list | tuple | set | frozenset | dict):
        if depth > 20:  # a literal nested this deep is not copy; count it as already too large
            return MAX_OUTPUT + 1
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 2
        for item in items:
            total += _text_size(item, depth + 1) + 2
            if total > MAX_OUTPUT:
                break
        return total
    return 24


def _too_big_int(bits: int) -> RenderLimit:
    return RenderLimit(f"a number of about {bits * 3 // 10:,} digits is too large for a message template "
                       f"(the limit is {MAX_INT_BITS * 3 // 10:,})")


class WinbackSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus limits on operators that can build huge values from a short template."""

    intercepted_binops = frozenset(["*", "**", "%", "+", "//"])

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        size = 1
        if operator == "*":
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                size = _text_size(seq) * max(times, 0)
                if size > MAX_OUTPUT:
                    raise RenderLimit(
                        f"repeating a value {times:,} times would make {size:,} characters; "
                        f"rendered output is capped at {MAX_OUTPUT:,}"
                    )
            elif _is_int(left) and _is_int(right):
                bits = left.bit_length() + right.bit_length()
                if bits > MAX_INT_BITS:
                    raise _too_big_int(bits)
                size = bits // 8
        elif operator == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise RenderLimit(f"exponent {right} is too large for a message template")
            if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
                bits = left.bit_length() * right
                if bits > MAX_INT_BITS:
                    raise _too_big_int(bits)
                size = bits // 8
        elif operator == "%" and isinstance(left, str):
            raise SecurityError("'%' string formatting is not allowed in templates; use filters")
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            size = _text_size(left) + _text_size(right)
            if size > MAX_OUTPUT:
                raise RenderLimit(f"rendered output is capped at {MAX_OUTPUT:,} characters")
        charge(size)
        return super().call_binop(context, operator, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # str.format / format_map are wrapped by the sandbox already; refuse them outright anyway.
        if attr in ("format", "format_map", "mro"):
            return False
        return super().is_safe_attribute(obj, attr, value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


SLOT_BASE = 0x10FF00  # private-use code points mark expressions that rendered empty (see _slot)
MAX_SLOTS = 250


def _slot(value: Any, index: int) -> Any:
    """Wraps every ``{{ expression }}``: an empty value becomes a marker so lint can say which one was empty."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, naming the variable
    if value is None or (isinstance(value, str) and value == ""):
        return chr(SLOT_BASE + index)
    return value


_CURRENCY_SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


@dataclass(frozen=True)
class Locale:
    locale: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"


def _make_filters(loc: Locale) -> dict[str, Callable[..., Any]]:
    tz = ZoneInfo(loc.timezone)
    chinese = loc.locale.lower().startswith("zh")

    def money(value: Any, symbol: bool = False) -> str:
        """20 → "20", 19.9 → "19.90", 12000 → "12,000"; ``money(true)`` adds the currency sign (¥20)."""
        if value is None or value == "":
            return ""
        amount = float(value)
        text = f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"
        if symbol:
            text = _CURRENCY_SYMBOLS.get(loc.currency, loc.currency + " ") + text
        return text

    def date(value: Any, fmt: str | None = None) -> str:
        """A timestamp as a date in the workspace time zone: 12月2日 (zh) / Dec 2 (en), or ``date('%Y-%m-%d')``."""
        if value is None or value == "":
            return ""
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(int(value), tz)
        moment = moment.astimezone(tz)
        if fmt:
            if len(fmt) > 40:
                raise RenderLimit("a date format is at most 40 characters")
            return moment.strftime(fmt)
        if chinese:
            return f"{moment.month}月{moment.day}日"
        return f"{moment:%b} {moment.day}"

    def default(value: Any, fallback: Any = "", boolean: bool = True) -> Any:
        """Missing, None or empty → *fallback* (unlike Jinja's, empty counts as missing by default)."""
        if isinstance(value, Undefined):
            return fallback
        if boolean and (value is None or value == ""):
            return fallback
        return value

    def replace(value: Any, old: str, new: str, count: int | None = None) -> str:
        text = str(value)
        grows = text.count(str(old)) * max(len(str(new)) - len(str(old)), 0) if old else len(text) * len(new)
        if len(text) + grows > MAX_OUTPUT:
            raise RenderLimit(f"replace would make over {MAX_OUTPUT:,} characters")
        return text.replace(str(old), str(new), -1 if count is None else count)

    @pass_eval_context
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        """Jinja's join, refusing a result over the cap: a long separator between many items multiplies."""
        items = list(value)
        size = sum(_text_size(item) for item in items) + len(str(d)) * max(len(items) - 1, 0)
        if size > MAX_OUTPUT:
            raise RenderLimit(f"join would make {size:,} characters; rendered output is capped at {MAX_OUTPUT:,}")
        charge(size)
        return do_join(eval_ctx, items, d, attribute)

    @pass_context
    def track(context: Any, url: Any) -> str:
        """Add the campaign's tracking parameters (utm_source/medium/campaign) to a link."""
        return add_tracking(str(url), context.get("campaign_tracking") or {})

    return {"money": money, "date": date, "default": default, "d": default, "replace": replace, "join": join,
            "track": track, "_slot": _slot}


@lru_cache(maxsize=16)
def environment(loc: Locale = Locale(), html: bool = False) -> WinbackSandbox:
    """The sandbox for one locale: no globals, strict undefined, only allow-listed filters."""
    env = WinbackSandbox(undefined=StrictUndefined, autoescape=html, keep_trailing_newline=False)
    env.globals.clear()
    builtin = dict(env.filters)
    env.filters.clear()
    for name in ALLOWED_FILTERS:
        if name in builtin:
            env.filters[name] = builtin[name]
    env.filters.update(_make_filters(loc))
    return env


def locale_of(config: Config | None) -> Locale:
    return Locale(getattr(config, "locale", "zh_CN"), getattr(config, "timezone", "Asia/Shanghai"),
                  getattr(config, "currency", "CNY"))
