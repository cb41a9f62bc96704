"""Checking a structured rule (console/segments/rules.py): the size limits on values and nesting, unknown
fields, and `validate` for a rule read back from the database or given as JSON."""

from __future__ import annotations

import difflib
from typing import Any

from console.errors import BadInput
from console.segments import fields as registry
from console.segments.rule_tokens import (
    MAX_CONDITIONS,
    MAX_DAY_VALUES,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_NESTING,
    MAX_NUMBER,
    MAX_VALUES,
)
from console.segments.rule_types import Rule, group_of, is_not, make_group


def nesting(rule: Rule) -> int:
    """How deep `and`/`or` groups nest (a condition is 0; `not` adds nothing: compiling pushes it down)."""
    if is_not(rule):
        return nesting(rule["not"])
    group = group_of(rule)
    return 1 + max(nesting(part) for part in group[1]) if group else 0


def check_size(field: registry.Field, value: Any) -> Any:
    """`value` if SQLite and the calendar can hold it; ValueError says the limit (a 25-digit number would be
    saved and then overflow SQLite's integers in every count)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if field.kind == "days" and value > MAX_DAYS:
        raise ValueError(f"{field.name} counts days; give at most {MAX_DAYS:,}, not {value!r}")
    if abs(value) >= MAX_NUMBER:
        hint = " (quote it to compare it as text)" if field.kind == "attr" else ""
        raise ValueError(f"{field.name}: {value!r} is too large; numbers in rules stay below 10^15{hint}")
    return value


def unknown_field_message(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), registry.names(), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; `winback segments fields` lists them"
    return f"no field {name!r}{hint}"


def validate(rule: Any) -> Rule:
    """Check a structured rule (e.g. read back from the database or given as JSON) and normalise its values.

    The limits of the rule language apply here too: a rule saved by an older winback, or written into the
    database by hand, is refused with BadInput (exit 2) instead of breaking the query it would become."""
    counts = {"conditions": 0, "values": 0}
    checked = _validate(rule, 0, counts)
    if nesting(checked) > MAX_NESTING:
        raise BadInput(f"the rule's `and`/`or` groups nest more than {MAX_NESTING} deep")
    return checked


def _validate(rule: Any, depth: int, counts: dict[str, int]) -> Rule:
    if depth > MAX_DEPTH + MAX_NESTING:     # before recursing: a stored rule may be nested arbitrarily deep
        raise BadInput(f"the rule nests deeper than {MAX_DEPTH + MAX_NESTING} levels")
    if not isinstance(rule, dict) or (len(rule) != 1 and "field" not in rule):
        raise BadInput(f"not a rule: {rule!r}")
    if "all" in rule:
        return {"all": True}
    for key in ("and", "or"):
        if key in rule:
            parts = rule[key]
            if not isinstance(parts, list) or not parts:
                raise BadInput(f"rule {key!r} needs a non-empty list")
            return make_group(key, [_validate(p, depth + 1, counts) for p in parts])
    if "not" in rule:
        return {"not": _validate(rule["not"], depth + 1, counts)}
    counts["conditions"] += 1
    if counts["conditions"] > MAX_CONDITIONS:
        raise BadInput(f"the rule has more than {MAX_CONDITIONS} conditions")
    field = registry.lookup(str(rule.get("field")))
    if field is None:
        raise BadInput(unknown_field_message(str(rule.get("field"))))
    op = rule.get("op")
    if op not in field.ops():
        raise BadInput(f"{field.name}: operator {op!r} is not allowed; use {', '.join(field.ops())}")
    value = rule.get("value")
    try:
        if op in ("in", "not in"):
            if not isinstance(value, list) or not value:
                raise BadInput(f"{field.name} {op}: give a non-empty list of values")
            counts["values"] += len(value)
            if counts["values"] > MAX_VALUES:
                raise BadInput(f"the rule holds more than {MAX_VALUES:,} values")
            if field.kind == "days" and len(value) > MAX_DAY_VALUES:
                raise BadInput(f"{field.name} {op} (...) takes at most {MAX_DAY_VALUES} day counts")
            value = [check_size(field, field.check_value(v, quoted=isinstance(v, str))) for v in value]
        else:
            counts["values"] += 1
            value = check_size(field, field.check_value(value, quoted=isinstance(value, str)))
    except ValueError as exc:
        raise BadInput(f"{field.name}: {exc}") from None
    return {"field": field.name, "op": op, "value": value}
