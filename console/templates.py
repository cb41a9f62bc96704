"""Message templates: the TOML format, the sandbox they render in, the checks made on save, and storage.

Templates are Jinja2 (≥ 3.1.6) rendered in an ``ImmutableSandboxedEnvironment`` with ``StrictUndefined`` and
no globals (DOMAIN.md "Messages"). On top of the sandbox, a template is checked when it is saved:

- every variable must be on the allow-list (:data:`VARIABLES`) — ``user.nmae`` is refused with its line and column;
- no calls (``x.y()``), no names starting with ``_``, only allow-listed filters, no ``set``/``macro``/``include``;
- ``for`` loops iterate over variables only, at most two deep;
- a sample render must succeed within the output cap (``{{ 'x' * 10000000 }}`` is refused).

At render time the sandbox still refuses unsafe attributes, repetition and formatting that would blow up
(:meth:`WinbackSandbox.call_binop`), and output is cut off at :data:`MAX_OUTPUT` characters with an error.

Every render is bounded (issue 12.5), so a template bomb is a render error for its recipient, never a hang, a
MemoryError or a traceback:

- ``*`` and ``+`` refuse a result whose *text* would pass :data:`MAX_OUTPUT` (``['x' * 99999] * 99999`` is one
  list item repeated, yet 10^10 characters once printed); ``*`` and ``**`` refuse integers over
  :data:`MAX_INT_BITS` (``9**9**9**9`` is computed left to right: 9^729, each exponent small);
- every value the operators and ``join`` build is charged to a budget of :data:`MAX_WORK` characters per
  render, and a render past :data:`RENDER_SECONDS` stops at the next operator or output chunk;
- on save, every constant expression is evaluated under the same limits, even inside a branch the sample
  recipient does not take (``{% if user.attributes.vip %}{{ bomb }}{% endif %}``).
"""

from __future__ import annotations

import json
import re
import time
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from jinja2 import (
    StrictUndefined,
    TemplateSyntaxError,
    Undefined,
    meta,
    nodes,
    pass_context,
    pass_eval_context,
)
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.filters import do_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from console import approved_templates, audit
from console.channel_names import CHANNELS
from console.clock import now_ts
from console.errors import BadInput, NotFound
from console.links import add_tracking
from console.message_context import sample_context
from storage.tx import immediate

# Longest rendered text of one part (subject, body, html ...). An SMS is at most 500 characters; an HTML email
# body is rarely over 100 KB. Anything larger is a template bug or an attack, not copy.
MAX_OUTPUT = 100_000
MAX_SOURCE = 50_000
MAX_LOOP_DEPTH = 2
# What one render may build on the way (characters made by operators and join) and how long it may take: far
# above any real message (microseconds, a few KB), far below what stalls a campaign or exhausts memory.
MAX_WORK = 10 * MAX_OUTPUT
MAX_INT_BITS = 1024        # about 300 digits: money and counts need 20
RENDER_SECONDS = 5.0

OPEN = "*"  # a mapping whose keys are not known in advance (user.attributes)

# The allow-list: every variable a template may use. console/message_context.py builds exactly these.
VARIABLES: dict[str, Any] = {
    "user": {
        "name": None, "first_name": None, "external_id": None, "region": None, "gender": None,
        "age_band": None, "occupation": None, "locale": None, "timezone": None, "attributes": OPEN,
    },
    "profile": {
        "days_dormant": None, "days_since_order": None, "last_seen": None, "last_order_at": None,
        "last_action": None, "last_category": None, "last_item": None, "top_category": None,
        "orders": None, "spend": None, "aov": None, "layer": None, "dormancy": None,
    },
    "offer": {
        "name": None, "kind": None, "amount": None, "threshold": None, "currency": None, "expires": None,
        "validity_days": None, "code": None, "multiplier": None, "trial_days": None, "description": None,
    },
    "brand": None,
    "links": {"unsubscribe": None, "home": None, "deep_link": None},
    "recommendations": {
        "last_item": None, "last_item_kind": None, "top_category": None, "best_sellers": None,
        "also_bought": None,
    },
    "campaign": {"name": None},
}

# Which parts each channel has, which it requires, and which file keys it accepts.
PARTS = {
    "sms": ("body",),
    "email": ("subject", "preheader", "body", "html"),
    "push": ("title", "body", "link"),
    "call": ("body",),
    "gift": ("body",),
}
REQUIRED = {
    "sms": ("body",), "email": ("subject", "body"), "push": ("title", "body"), "call": ("body", "fields"),
    "gift": ("fields",),
}
META_KEYS = ("name", "channel", "group", "variant", "style", "language", "description", "fields")
ALL_KEYS = META_KEYS + ("subject", "preheader", "body", "html", "title", "link")

ALLOWED_FILTERS = (
    "default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "replace", "round", "int",
    "float", "abs", "length", "count", "first", "last", "join", "string", "e", "escape", "striptags",
    "wordcount", "urlencode", "money", "date", "track",
)


class RenderLimit(SecurityError):
    """A render would produce more text, larger numbers or more work than the caps allow."""


# ---------------------------------------------------------------------------------------------------------
# The sandbox


class _Budget:
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
_BUDGET: ContextVar[_Budget | None] = ContextVar("winback_render_budget", default=None)


def _charge(amount: int) -> None:
    budget = _BUDGET.get()
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
        _charge(size)
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


def _make_filters(loc: Locale) -> dict[str, Any]:
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
        _charge(size)
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


def locale_of(config: Any) -> Locale:
    return Locale(getattr(config, "locale", "zh_CN"), getattr(config, "timezone", "Asia/Shanghai"),
                  getattr(config, "currency", "CNY"))


# ---------------------------------------------------------------------------------------------------------
# Templates and the TOML format


@dataclass
class Template:
    name: str
    channel: str
    body: str = ""
    subject: str | None = None
    preheader: str | None = None
    html: str | None = None
    title: str | None = None
    link: str | None = None
    fields: list[str] = field(default_factory=list)
    group: str | None = None
    variant: str | None = None
    style: str | None = None
    language: str | None = None
    description: str | None = None
    version: int = 0
    id: int | None = None
    source: str | None = None   # the TOML it was read from
    # An approved SMS template (provider renders the text; console/approved_templates.py), else None.
    approved: approved_templates.Approved | None = None

    def parts(self) -> dict[str, str]:
        """The text parts this template renders, by name (only those it has)."""
        out = {}
        for part in PARTS[self.channel]:
            value = getattr(self, part)
            if value:
                out[part] = value
        return out


@dataclass
class Problem:
    part: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.part
        if self.line is not None:
            where += f" line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
        return f"{where}: {self.message}"


def parse_toml(text: str, origin: str = "template") -> Template:
    """Read one template from its TOML text; BadInput names the file and what is wrong."""
    if len(text) > MAX_SOURCE:
        raise BadInput(f"{origin}: {len(text):,} characters; a template file is at most {MAX_SOURCE:,}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{origin}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(ALL_KEYS) - set(approved_templates.KEYS))
    if unknown:
        raise BadInput(f"{origin}: unknown key {unknown[0]!r}; a template has: {', '.join(ALL_KEYS)}")
    for key in ALL_KEYS:
        if key in data and key != "fields" and not isinstance(data[key], str):
            raise BadInput(f"{origin}: {key} must be a string")
    name = data.get("name") or data.get("group")
    if not name:
        raise BadInput(f"{origin}: a template needs name = \"...\"")
    approved = approved_templates.parse(data, origin) if approved_templates.is_approved(data) else None
    if approved is not None:
        data["body"] = approved.body()   # the text the provider renders, as a template (see approved_templates)
    channel = data.get("channel", "")
    if channel not in CHANNELS:
        raise BadInput(f"{origin}: channel = {channel!r}; choose one of {', '.join(CHANNELS)}")
    extra = [k for k in ("subject", "preheader", "html", "title", "link") if k in data and k not in PARTS[channel]]
    if extra:
        raise BadInput(f"{origin}: a {channel} template has no {extra[0]!r} (it has: {', '.join(PARTS[channel])})")
    fields = data.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadInput(f"{origin}: fields must be a list of variable names, e.g. [\"user.name\", \"offer.code\"]")
    for key in REQUIRED[channel]:
        if not data.get(key):
            raise BadInput(f"{origin}: {_a(channel)} {channel} template needs {key} = \"...\"")
    return Template(
        name=name, channel=channel, body=data.get("body", ""), subject=data.get("subject"),
        preheader=data.get("preheader"), html=data.get("html"), title=data.get("title"), link=data.get("link"),
        fields=fields, group=data.get("group"), variant=data.get("variant"), style=data.get("style"),
        language=data.get("language"), description=data.get("description"), source=text, approved=approved,
    )


def to_toml(t: Template) -> str:
    """The TOML text of a template (its saved source when it has one)."""
    if t.source:
        return t.source
    lines = []
    for key in ALL_KEYS:
        value = t.fields if key == "fields" else getattr(t, key, None)
        if value:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Checks made on save


def _column(source: str, line: int | None, needle: str | None) -> int | None:
    if line is None:
        return None
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    for candidate in (needle, needle.rsplit(".", 1)[-1]) if needle else ():
        idx = text.find(candidate)
        if idx >= 0:
            return idx + 1
    idx = min((i for i in (text.find("{{"), text.find("{%")) if i >= 0), default=-1)
    return idx + 1 if idx >= 0 else 1


def _syntax_problem(part: str, source: str, exc: TemplateSyntaxError) -> Problem:
    message = exc.message or str(exc)
    line = exc.lineno
    m = re.search(r"unexpected char '(.)' at (\d+)", message)
    if m:
        pos = int(m.group(2))
        before = source[:pos]
        line = before.count("\n") + 1
        return Problem(part, line, pos - (before.rfind("\n") + 1) + 1, message)
    if "end of template" in message:
        lines = source.splitlines() or [""]
        return Problem(part, len(lines), len(lines[-1]) + 1, message)
    needle = None
    for pattern in (r"got '([^']+)'", r"unexpected '([^']+)'", r"unknown tag '([^']+)'", r"tag name '([^']+)'"):
        m = re.search(pattern, message)
        if m:
            needle = m.group(1)
            break
    return Problem(part, line, _column(source, line, needle), message)


def _expr_text(node: nodes.Node) -> str:
    """A short rendering of an expression for messages: user.name, offer.amount|money."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_expr_text(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        key = node.arg.value if isinstance(node.arg, nodes.Const) else "…"
        return f"{_expr_text(node.node)}[{key!r}]"
    if isinstance(node, nodes.Filter):
        return f"{_expr_text(node.node)}|{node.name}" if node.node is not None else node.name
    if isinstance(node, nodes.Const):
        return repr(node.value)
    return type(node).__name__.lower()


def _path(node: nodes.Node) -> list[str] | None:
    """['user', 'name'] for user.name / user['name']; None if the expression is not a plain variable path."""
    if isinstance(node, nodes.Name):
        return [node.name]
    if isinstance(node, nodes.Getattr):
        base = _path(node.node)
        return None if base is None else [*base, node.attr]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        base = _path(node.node)
        return None if base is None else [*base, node.arg.value]
    return None


def _check_path(path: list[str]) -> str | None:
    """None if *path* is on the allow-list, else the reason with what is available there."""
    spec: Any = VARIABLES
    for i, key in enumerate(path):
        if spec is OPEN:
            return None
        if not isinstance(spec, dict):
            return f"{'.'.join(path[:i])} has no field {key!r}"
        if key not in spec:
            if i == 0:
                return f"unknown variable {key!r}; variables: {', '.join(VARIABLES)}"
            return f"unknown variable {'.'.join(path[: i + 1])}; {'.'.join(path[:i])} has: {', '.join(spec)}"
        spec = spec[key]
    return None


_FORBIDDEN_STATEMENTS = {
    nodes.Extends: "{% extends %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}", nodes.Macro: "{% macro %}", nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}", nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}", nodes.Block: "{% block %}",
}


class _Checker:
    def __init__(self, part: str, source: str) -> None:
        self.part = part
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, node: nodes.Node, message: str, needle: str | None = None) -> None:
        line = getattr(node, "lineno", None)
        self.problems.append(Problem(self.part, line, _column(self.source, line, needle), message))

    def walk(self, node: nodes.Node, local: frozenset[str] = frozenset(), depth: int = 0) -> None:
        for kind, label in _FORBIDDEN_STATEMENTS.items():
            if isinstance(node, kind):
                self.fail(node, f"{label} is not allowed in message templates", label.split()[1])
                return
        if isinstance(node, nodes.For):
            if depth >= MAX_LOOP_DEPTH:
                self.fail(node, f"loops nest at most {MAX_LOOP_DEPTH} deep", "for")
            if _path(node.iter) is None:
                self.fail(node, "a for loop must go over a variable, e.g. recommendations.best_sellers", "for")
            else:
                self.expression(node.iter, local)
            names = [node.target, *node.target.find_all(nodes.Name)]
            targets = frozenset(n.name for n in names if isinstance(n, nodes.Name)) | {"loop"}
            for child in node.body:
                self.walk(child, local | targets, depth + 1)
            for child in node.else_:
                self.walk(child, local, depth)
            if node.test is not None:
                self.expression(node.test, local | targets)
            return
        if isinstance(node, nodes.Expr):
            self.expression(node, local)
            return
        for child in node.iter_child_nodes():
            self.walk(child, local, depth)

    def expression(self, node: nodes.Node, local: frozenset[str]) -> None:
        if isinstance(node, nodes.Call):
            self.fail(node, f"calls such as {_expr_text(node.node)}(…) are not allowed; use a filter",
                      getattr(node.node, "attr", None) or getattr(node.node, "name", None))
            return
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            name = node.attr if isinstance(node, nodes.Getattr) else (
                node.arg.value if isinstance(node.arg, nodes.Const) else None)
            if isinstance(name, str) and (name.startswith("_") or name in ("format", "format_map", "mro")):
                self.fail(node, f"{name!r} is not allowed in templates", name)
                return
        if isinstance(node, nodes.Filter) and (node.name not in ALLOWED_FILTERS or node.name.startswith("_")):
            self.fail(node, f"unknown filter {node.name!r}; filters: {', '.join(ALLOWED_FILTERS)}", node.name)
            return
        path = _path(node) if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem) else None
        if path is not None:
            if path[0] in local:
                return
            reason = _check_path(path)
            if reason:
                self.fail(node, reason, ".".join(path))
            return
        if isinstance(node, nodes.Name):
            if node.name not in local:
                self.fail(node, f"unknown variable {node.name!r}; variables: {', '.join(VARIABLES)}", node.name)
            return
        for child in node.iter_child_nodes():
            self.expression(child, local)


def _uses(ast: nodes.Template, path: tuple[str, ...]) -> bool:
    return any(tuple(_path(node) or ()) == path for node in ast.find_all((nodes.Getattr, nodes.Getitem)))


def check_part(part: str, source: str, env: WinbackSandbox) -> tuple[nodes.Template | None, list[Problem]]:
    """Parse one part and check it against the rules above; returns the AST (None on a syntax error)."""
    try:
        ast = env.parse(source)
        checker = _Checker(part, source)
        checker.walk(ast)
    except TemplateSyntaxError as exc:
        return None, [_syntax_problem(part, source, exc)]
    except RecursionError:
        # jinja's parser recurses once per bracket: `{{ ((((…1)))) }}` thousands deep is not a message.
        return None, [Problem(part, None, None, "expressions are nested too deeply to read")]
    # Cross-check with Jinja's own view of the free names, so no node type the walker skips can hide one.
    # (It compiles the template, so only once the walker found nothing: an unknown filter fails compilation.)
    if not checker.problems:
        try:
            free = meta.find_undeclared_variables(ast)
        except TemplateError as exc:
            return ast, [Problem(part, getattr(exc, "lineno", None), None, str(exc))]
        for name in sorted(free - set(VARIABLES)):
            checker.problems.append(
                Problem(part, None, None, f"unknown variable {name!r}; variables: {', '.join(VARIABLES)}"))
    return ast, checker.problems


def check(template: Template, config: Any = None) -> list[Problem]:
    """Every problem that stops *template* from being saved (an empty list means it can be saved)."""
    loc = locale_of(config) if config is not None else Locale()
    problems: list[Problem] = []
    asts: dict[str, nodes.Template] = {}
    for part, source in _sources(template).items():
        env = environment(loc, html=(part == "html"))
        ast, found = check_part(part, source, env)
        problems.extend(found)
        if ast is not None:
            asts[part] = ast
    if template.channel == "email":
        for part in ("body", "html"):
            if part in asts and not _uses(asts[part], ("links", "unsubscribe")):
                problems.append(Problem(part, None, None,
                                        "an email must carry an unsubscribe link: add {{ links.unsubscribe }}"))
    if not problems:
        for part, ast in asts.items():
            problems.extend(_constant_problems(part, _sources(template)[part], ast,
                                               environment(loc, html=(part == "html"))))
    if not problems:
        problems.extend(_sample_render(template, loc))
    return problems


def _constant_problems(part: str, source: str, ast: nodes.Template, env: WinbackSandbox) -> list[Problem]:
    """Evaluate, under the render limits, every expression that reads no variable: a bomb behind a condition
    the sample recipient does not meet (`{% if user.attributes.vip %}{{ 9 ** 64 ** 64 ** 64 }}{% endif %}`)
    is refused on save, not found later by the first VIP."""
    problems: list[Problem] = []

    def visit(node: nodes.Node) -> None:
        if (isinstance(node, nodes.Expr) and not isinstance(node, nodes.Const | nodes.TemplateData | nodes.Name)
                and node.find(nodes.Name) is None):
            problem = _evaluate_constant(part, source, node, env)
            if problem is not None:
                problems.append(problem)
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(ast)
    return problems


def _evaluate_constant(part: str, source: str, node: nodes.Expr, env: WinbackSandbox) -> Problem | None:
    import copy

    lineno = getattr(node, "lineno", None)
    token = _BUDGET.set(_Budget())
    try:
        tmpl = env.from_string(nodes.Template([nodes.Output([copy.deepcopy(node)], lineno=lineno or 1)],
                                              lineno=lineno or 1))
        size = 0
        for chunk in tmpl.generate():
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderLimit(f"this expression prints over {MAX_OUTPUT:,} characters; rendered output is "
                                  "capped")
    except (TemplateError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        return Problem(part, lineno, _column(source, lineno, None), f"{type(exc).__name__}: {exc}"
                       if not isinstance(exc, RenderLimit) else str(exc))
    finally:
        _BUDGET.reset(token)
    return None


def _sources(template: Template) -> dict[str, str]:
    sources = dict(template.parts())
    for i, f in enumerate(template.fields):
        sources[f"fields[{i}]"] = "{{ " + f + " }}"
    if template.approved is not None:
        sources.update(template.approved.sources())   # params.<placeholder>: each value the provider gets
    return sources


def _sample_render(template: Template, loc: Locale) -> list[Problem]:
    """Render with a made-up recipient so that runtime-only failures are caught on save."""
    compiled = compile_template(template, loc)
    try:
        compiled.render(sample_context())
    except UndefinedError:
        return []  # user.attributes.* may legitimately be missing for the sample
    except RenderLimit as exc:
        return [Problem("sample render", None, None, str(exc))]
    except (TemplateError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        return [Problem("sample render", None, None, f"{type(exc).__name__}: {exc}")]
    return []


# ---------------------------------------------------------------------------------------------------------
# Compiled templates


class _SlotWrapper:
    """Rewrites every {{ expression }} into {{ expression | _slot(i) }} so empties are traceable."""

    def __init__(self) -> None:
        self.slots: list[str] = []

    def apply(self, ast: nodes.Template) -> nodes.Template:
        for output in ast.find_all(nodes.Output):
            new = []
            for child in output.nodes:
                if isinstance(child, nodes.TemplateData) or len(self.slots) >= MAX_SLOTS:
                    new.append(child)
                    continue
                index = len(self.slots)
                self.slots.append(_expr_text(child))
                new.append(nodes.Filter(child, "_slot", [nodes.Const(index)], [], None, None,
                                        lineno=child.lineno))
            output.nodes = new
        return ast


_MARKS = re.compile(f"[{chr(SLOT_BASE)}-{chr(SLOT_BASE + MAX_SLOTS)}]")


@dataclass
class Empty:
    part: str
    expression: str
    snippet: str


@dataclass
class CompiledTemplate:
    template: Template
    parts: dict[str, Any]                  # part → jinja Template
    slots: dict[str, list[str]]            # part → expression text per slot
    # The top-level variables the template reads (user, profile, offer, links …): a renderer builds only those.
    variables: frozenset[str] = frozenset(VARIABLES)
    _globals: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def render(self, context: dict[str, Any]) -> tuple[dict[str, str], list[Empty]]:
        """Render every part for one recipient: (texts by part, expressions that came out empty).

        Raises the render error (UndefinedError, SecurityError, RenderLimit, TypeError …) for the caller to file.
        """
        token = _BUDGET.set(_Budget())
        try:
            return self._render(context)
        finally:
            _BUDGET.reset(token)

    def _render(self, context: dict[str, Any]) -> tuple[dict[str, str], list[Empty]]:
        texts: dict[str, str] = {}
        empties: list[Empty] = []
        for part, tmpl in self.parts.items():
            # What jinja's Template.new_context does, with the template's globals (a ChainMap that jinja would
            # flatten twice per call) flattened once per compiled part: a tenth of the render time at scale.
            flat = self._globals.get(part)
            if flat is None:
                flat = self._globals[part] = dict(tmpl.globals)
            jinja_context = tmpl.environment.context_class(tmpl.environment, {**flat, **context}, tmpl.name,
                                                           tmpl.blocks, globals=flat)
            out: list[str] = []
            size = 0
            for chunk in tmpl.root_render_func(jinja_context):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise RenderLimit(f"{part} is over {MAX_OUTPUT:,} characters; rendered output is capped")
                _charge(0)  # the clock: a long loop over data stops at the next chunk
                out.append(chunk)
            text = "".join(out)
            if _MARKS.search(text):
                text = self._strip(part, text, empties)
            texts[part] = text
        return texts, empties

    def _strip(self, part: str, text: str, empties: list[Empty]) -> str:
        found = list(_MARKS.finditer(text))
        if not found:
            return text
        clean = _MARKS.sub("", text)
        for m in found:
            index = ord(m.group()) - SLOT_BASE
            before = _MARKS.sub("", text[: m.start()]).rsplit("\n", 1)[-1]
            after = _MARKS.sub("", text[m.end():]).split("\n", 1)[0]
            left, right = before[-12:], after[:12]
            # Cut at a word boundary where there are words ("Hi , welcome"), keep CJK as is.
            if len(after) > 12 and after[12:13].isalnum() and " " in right.strip():
                right = right[: right.rstrip().rfind(" ")]
            if len(before) > 12 and before[-13:-12].isalnum() and " " in left.strip():
                left = left[left.find(" ", 1) + 1:]
            empties.append(Empty(part, self.slots[part][index], left + right))
        return clean


def compile_template(template: Template, loc: Locale = Locale()) -> CompiledTemplate:
    """Compile every part once (instrumented for empty values); render many times."""
    parts: dict[str, Any] = {}
    slots: dict[str, list[str]] = {}
    variables: set[str] = set()
    for part, source in _sources(template).items():
        env = environment(loc, html=(part == "html"))
        wrapper = _SlotWrapper()
        ast = env.parse(source)
        variables |= meta.find_undeclared_variables(ast)
        ast = wrapper.apply(ast)
        parts[part] = env.from_string(ast)
        slots[part] = wrapper.slots
    return CompiledTemplate(template, parts, slots, frozenset(variables))


# ---------------------------------------------------------------------------------------------------------
# Storage

_COLUMNS = ("id", "name", "channel", "group_name", "variant", "style", "language", "description", "subject",
            "preheader", "body", "html", "title", "link", "fields", "version")


def _from_row(row: dict[str, Any], source: str | None = None) -> Template:
    return Template(
        id=row["id"], name=row["name"], channel=row["channel"], group=row["group_name"], variant=row["variant"],
        style=row["style"], language=row["language"], description=row["description"], subject=row["subject"],
        preheader=row["preheader"], body=row["body"] or "", html=row["html"], title=row["title"],
        link=row["link"], fields=json.loads(row["fields"]) if row["fields"] else [], version=row["version"],
        source=source, approved=approved_templates.from_source(source),
    )


def save(db: sqlite_utils.Database, template: Template, config: Any = None) -> Template:
    """Check and save a template; saving an existing name makes a new version. BadInput lists every problem."""
    problems = check(template, config)
    if problems:
        raise BadInput(f"template {template.name!r} not saved:\n  " + "\n  ".join(str(p) for p in problems))
    now = now_ts()
    operator = audit.current_operator()
    source = to_toml(template)
    values = {
        "channel": template.channel, "group_name": template.group, "variant": template.variant,
        "style": template.style, "language": template.language, "description": template.description,
        "subject": template.subject, "preheader": template.preheader, "body": template.body or "",
        "html": template.html, "title": template.title, "link": template.link,
        "fields": json.dumps(template.fields, ensure_ascii=False) if template.fields else None,
    }
    with immediate(db):
        row = db.execute("SELECT id, version, channel FROM templates WHERE name = ?", [template.name]).fetchone()
        if row:
            template_id, version = row[0], row[1] + 1
            if row[2] != template.channel:
                raise BadInput(f"template {template.name!r} is {_a(row[2])} {row[2]} template; "
                               f"save {_a(template.channel)} {template.channel} one under another name")
            sets = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE templates SET {sets}, version = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                       [*values.values(), version, now, operator, template_id])
        else:
            version = 1
            cols = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cur = db.execute(
                f"INSERT INTO templates (name, {cols}, version, created_at, updated_at, updated_by) "
                f"VALUES (?, {marks}, 1, ?, ?, ?)", [template.name, *values.values(), now, now, operator])
            template_id = cur.lastrowid
        db.execute("INSERT INTO template_versions (template_id, version, source, saved_at, saved_by) "
                   "VALUES (?, ?, ?, ?, ?)", [template_id, version, source, now, operator])
        audit.record(db, "template.save", template=template.name, channel=template.channel, version=version)
    template.id, template.version, template.source = template_id, version, source
    return template


def save_all(db: sqlite_utils.Database, parsed: list[Template], config: Any = None) -> list[dict[str, Any]]:
    """Save several templates in one write transaction (`winback templates import`): all or none.
    One row per template saved: name, channel, version, id."""
    saved = []
    with immediate(db):
        for t in parsed:
            save(db, t, config)
            saved.append({"name": t.name, "channel": t.channel, "version": t.version, "id": t.id})
    return saved


def _a(channel: str) -> str:
    """The article as channel names are read aloud: an SMS, an email, a push, a call, a gift."""
    return "an" if channel in ("sms", "email") else "a"


def get(db: sqlite_utils.Database, name: str) -> Template:
    """The template called *name* (NotFound otherwise)."""
    rows = list(db.query(f"SELECT {', '.join(_COLUMNS)} FROM templates WHERE name = ?", [name]))
    if not rows:
        import difflib

        names = [r["name"] for r in db.query("SELECT name FROM templates ORDER BY name")]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        if close:
            hint = f"; did you mean {' or '.join(close)}? (`winback templates list` has them all)"
        elif names:
            hint = (f"; known: {', '.join(names[:12])}" + (f" and {len(names) - 12} more (`winback templates list`)"
                                                          if len(names) > 12 else ""))
        else:
            hint = "; add one with `winback templates add FILE`"
        raise NotFound(f"no template named {name!r}{hint}")
    return _with_source(db, rows[0])


def get_by_id(db: sqlite_utils.Database, template_id: int) -> Template:
    rows = list(db.query(f"SELECT {', '.join(_COLUMNS)} FROM templates WHERE id = ?", [template_id]))
    if not rows:
        raise NotFound(f"no template with id {template_id}")
    return _with_source(db, rows[0])


def _with_source(db: sqlite_utils.Database, row: dict[str, Any]) -> Template:
    src = db.execute("SELECT source FROM template_versions WHERE template_id = ? AND version = ?",
                     [row["id"], row["version"]]).fetchone()
    return _from_row(row, src[0] if src else None)


def variants(db: sqlite_utils.Database, group: str) -> list[Template]:
    """The A/B variants of one message (templates sharing *group*), by variant label."""
    rows = db.query(f"SELECT {', '.join(_COLUMNS)} FROM templates WHERE group_name = ? "
                    "ORDER BY variant, name", [group])
    return [_from_row(r) for r in rows]


def list_templates(db: sqlite_utils.Database, channel: str | None = None) -> list[dict[str, Any]]:
    """One row per template for `winback templates list`."""
    sql = ("SELECT id, name, channel, group_name AS \"group\", variant, style, language, version, updated_at, "
           "substr(coalesce(subject, title, body), 1, 40) AS preview FROM templates")
    params: list[Any] = []
    if channel:
        sql += " WHERE channel = ?"
        params.append(channel)
    return list(db.query(sql + " ORDER BY coalesce(group_name, name), variant, name", params))


def approval_problems(db: sqlite_utils.Database, template_names: list[str], transport: str, channel: str) -> list[str]:
    """Why a real launch of these templates on a channel with this transport would fail every message: a provider
    transport sends only templates approved at that provider (checked before anything is written)."""
    if transport not in approved_templates.PROVIDERS:
        return []
    problems = []
    for name in dict.fromkeys(template_names):
        try:
            template = get(db, name)
        except NotFound:
            continue   # reported elsewhere
        if template.approved is None:
            problems.append(f"template {name!r} is not an approved {transport} template, and channel {channel} "
                            f"sends through {transport}, which sends only approved templates: give it "
                            "provider_template, approved_text and [params] (see docs/channels.md)")
        elif template.approved.provider != transport:
            problems.append(f"template {name!r} is approved at {template.approved.provider}, but channel {channel} "
                            f"sends through {transport}")
    return problems
