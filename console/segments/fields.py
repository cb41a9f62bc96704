"""The field registry: every name a segment rule may use, the SQL expression behind it, its type and meaning.

Expressions are over `users u` and `profiles p` (LEFT JOIN: a user without a profile has NULLs there; `null_as`
says what such a NULL means, e.g. 0 orders, or "never_active"). Other areas add their own fields:

    from console.segments.fields import register_field
    register_field("p_alive", "(SELECT s.p_alive FROM scores s WHERE s.user_id = u.id)", "number",
                   "probability the customer is still alive (BG/NBD)")

A module listed in EXTENSION_MODULES (console/propensity/segment_fields.py) that registers fields at import is loaded
the first time a rule names a field the registry does not know yet.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from console.channel_names import CHANNELS
from console.dormancy import STATES
from console.layers import GRID_NAMES

KINDS = ("text", "enum", "number", "days", "attr")
# Areas that register segment fields, imported by name on first need (they import this module to register).
EXTENSION_MODULES = ("console.propensity.segment_fields",)
CONSENT_CHANNELS = CHANNELS


@dataclass(frozen=True)
class Field:
    name: str
    sql: str                          # SQL expression over u / p; for `days`, the timestamp it counts from
    kind: str                         # text | enum | number | days | attr
    description: str
    values: tuple[str, ...] = ()      # allowed values of an enum
    null_as: Any = None               # what a NULL (no profile, no row) means in comparisons
    params: tuple[Any, ...] = ()      # parameters bound wherever `sql` appears
    aliases: dict[str, str] = field(default_factory=dict)  # other spellings of enum values

    def ops(self) -> tuple[str, ...]:
        if self.kind in ("text", "enum"):
            return ("=", "!=", "in", "not in")
        return ("=", "!=", "<", "<=", ">", ">=", "in", "not in")

    def kind_label(self) -> str:
        return {"text": "text", "enum": "one of " + ", ".join(self.values), "number": "a number",
                "days": "a number of days", "attr": "an attribute"}[self.kind]

    def check_value(self, raw: Any, *, quoted: bool = False) -> Any:
        """The value as compared (enum spellings normalised, numbers parsed); ValueError says what is wrong."""
        if self.kind in ("number", "days"):
            number = _number(raw) if not isinstance(raw, bool) else None
            if number is None:
                raise ValueError(f"{self.name} is {self.kind_label()}; {raw!r} is not a number")
            if self.kind == "days" and (not isinstance(number, int) or number < 0):
                raise ValueError(f"{self.name} counts whole days; give 0 or more, not {raw!r}")
            return number
        if self.kind == "enum":
            key = str(raw).strip()
            for candidate in (key, key.lower(), key.lower().replace(" ", "_"), key.lower().replace("-", "_")):
                if candidate in self.aliases:
                    return self.aliases[candidate]
                for value in self.values:
                    if candidate == value or candidate == value.lower():
                        return value
            raise ValueError(f"{self.name} has no value {key!r}; choose one of {', '.join(self.values)}")
        if self.kind == "attr" and not quoted:
            number = _number(raw)
            if number is not None:
                return number
        if isinstance(raw, list | dict) or raw is None:
            raise ValueError(f"{self.name}: {raw!r} is not a value")
        return str(raw)


def _number(raw: Any) -> int | float | None:
    if isinstance(raw, int | float):
        return raw
    text = str(raw).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


_REGISTRY: dict[str, Field] = {}
_FIELD_ALIASES: dict[str, str] = {}
_extensions_loaded = False


def register_field(name: str, sql: str, kind: str, description: str, *, values: tuple[str, ...] = (),
                   null_as: Any = None, params: tuple[Any, ...] = (), aliases: dict[str, str] | None = None,
                   replace: bool = True) -> Field:
    """Add (or replace) a rule field. `sql` must be a fixed expression written by the programmer, over u and p;
    anything that comes from an operator belongs in `params`."""
    if kind not in KINDS:
        raise ValueError(f"field kind {kind!r}: one of {', '.join(KINDS)}")
    key = name.lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
        raise ValueError(f"field name {name!r}: lower-case letters, digits and _")
    if key in _REGISTRY and not replace:
        return _REGISTRY[key]
    _REGISTRY[key] = Field(key, sql, kind, description, tuple(values), null_as, tuple(params), dict(aliases or {}))
    return _REGISTRY[key]


def alias_field(alias: str, name: str) -> None:
    _FIELD_ALIASES[alias.lower()] = name.lower()


_ATTR = re.compile(r"^(?:attr|attributes)\.([\w-]+)$", re.UNICODE)


def lookup(name: str) -> Field | None:
    """The field called `name` (case-insensitive; aliases and `attr.KEY` included), or None."""
    global _extensions_loaded
    key = name.lower()
    key = _FIELD_ALIASES.get(key, key)
    if key in _REGISTRY:
        return _REGISTRY[key]
    m = _ATTR.match(name)
    if m:
        attr = m.group(1)
        # The JSON path is a bound parameter; the key can hold neither quotes nor dots (checked above).
        return Field(f"attr.{attr}", "json_extract(u.attributes, ?)", "attr",
                     f"the imported column {attr!r}", params=(f'$."{attr}"',))
    if not _extensions_loaded:
        _extensions_loaded = True
        for module in EXTENSION_MODULES:
            importlib.import_module(module)
        return lookup(name)
    return None


def names() -> list[str]:
    return sorted(_REGISTRY) + sorted(_FIELD_ALIASES)


def all_fields() -> list[Field]:
    lookup("\0")  # loads extension areas once
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


# ---- the built-in fields -------------------------------------------------------------------------------------

def _builtin() -> None:
    reg = register_field
    reg("dormancy", "p.dormancy", "enum", "active, at_risk, dormant, lost or never_active, as of the last refresh",
        values=STATES, null_as="never_active",
        aliases={"at risk": "at_risk", "at-risk": "at_risk", "never active": "never_active",
                 "never": "never_active"})
    reg("layer", "p.layer", "text", "named layer: temperature and loyalty, e.g. \"cold light\"")
    reg("grid", "p.rf_cell", "enum", "R×F grid name (Champions, Loyal, ..., Hibernating)", values=GRID_NAMES)
    reg("r_score", "p.rf_r", "number", "R×F recency score 1-5 (5 = ordered most recently)")
    reg("f_score", "p.rf_f", "number", "R×F frequency score 1-5 (5 = most orders)")
    reg("orders", "p.orders", "number", "lifetime orders", null_as=0)
    reg("spend", "p.spend", "number", "lifetime spend", null_as=0)
    reg("aov", "p.aov", "number", "average order value")
    reg("visits_7d", "p.visits_7d", "number", "visits in the 7 days up to the last visit", null_as=0)
    reg("orders_30d", "p.orders_30d", "number", "orders in the 30 days up to the last order", null_as=0)
    reg("days_since_last_order", "p.last_order_at", "days", "calendar days since the last order")
    reg("days_since_last_visit", "p.last_visit_at", "days", "calendar days since the last visit")
    reg("days_since_last_seen", "p.last_event_at", "days", "calendar days since the last event of any kind")
    reg("days_inactive", "p.dormancy_at", "days", "calendar days since the last event of the dormancy metric")
    reg("days_since_first_seen", "p.first_seen_at", "days", "calendar days since the first event")
    reg("days_since_signup", "u.signup_at", "days", "calendar days since sign-up")
    reg("top_category", "p.top_category", "text", "the category ordered most")
    reg("last_action", "p.last_action", "text", "kind of the last event (visit, order, ...)")
    reg("last_object", "p.last_object", "text", "object of the last event (item, page, ...)")
    reg("last_category", "p.last_category", "text", "category of the last event")
    reg("access_channel", "p.access_channel", "text", "source of the last event (app, web, mini-program, ...)")
    for column, text in (("region", "region"), ("gender", "gender"), ("age_band", "age band"),
                         ("occupation", "occupation"), ("locale", "locale"), ("timezone", "time zone")):
        reg(column, f"u.{column}", "text", f"the user's {text}")
    reg("user", "u.external_id", "text", "the user's external id")
    for channel, column in (("sms", "phone"), ("email", "email"), ("push", "push_token")):
        reg(f"has_{column if channel != 'push' else 'push'}",
            f"CASE WHEN u.{column} IS NULL OR u.{column} = '' THEN 'no' ELSE 'yes' END", "enum",
            f"whether the user has a{'n' if column == 'email' else ''} {column.replace('_', ' ')}",
            values=("yes", "no"), aliases={"true": "yes", "false": "no", "1": "yes", "0": "no"})
    for channel in CONSENT_CHANNELS:
        # The latest consent row wins; ties on time go to the later row. Channel names are constants.
        reg(f"consent_{channel}",
            f"(SELECT c.status FROM consents c WHERE c.user_id = u.id AND c.channel = '{channel}' "
            "ORDER BY c.at DESC, c.id DESC LIMIT 1)",
            "enum", f"{channel} consent: granted, withdrawn, or unknown (never asked)",
            values=("granted", "withdrawn", "unknown"), null_as="unknown",
            aliases={"yes": "granted", "no": "withdrawn"})
    alias_field("category", "top_category")
    alias_field("state", "dormancy")
    alias_field("rf", "grid")
    alias_field("days_since_last_event", "days_since_last_seen")


_builtin()
