"""A rule's structure: what console/segments/rules.py parses rule text into, saved segments store as JSON, and
compile.py turns into SQL.

    {"all": true}                                       everyone
    {"field": "dormancy", "op": "=", "value": "dormant"}  a condition (`in` / `not in`: value is a list)
    {"not": RULE}    {"and": [RULE, …]}    {"or": [RULE, …]}

`not`, `and` and `or` are Python keywords, so those three shapes are declared in TypedDict's call form; such a
TypedDict cannot be @final, so mypy does not narrow a Rule by `"and" in rule`: the `is_…` functions below do
(TypeIs narrows both branches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:   # only for the checker (typing.TypeIs is Python 3.13)
    from typing_extensions import TypeIs


class AllRule(TypedDict):
    all: bool                   # always true


class Condition(TypedDict):
    field: str                  # a field of console/segments/fields.py, by its canonical name
    op: str                     # =, !=, <, <=, >, >=, in, not in (what the field allows)
    value: Any                  # the field's checked value; a list of them for `in` / `not in`


NotRule = TypedDict("NotRule", {"not": "Rule"})
AndRule = TypedDict("AndRule", {"and": "list[Rule]"})
OrRule = TypedDict("OrRule", {"or": "list[Rule]"})
Rule = AllRule | Condition | NotRule | AndRule | OrRule

GroupKey = Literal["and", "or"]


def is_all(rule: Rule) -> TypeIs[AllRule]:
    return "all" in rule


def is_condition(rule: Rule) -> TypeIs[Condition]:
    return "field" in rule


def is_not(rule: Rule) -> TypeIs[NotRule]:
    return "not" in rule


def is_and(rule: Rule) -> TypeIs[AndRule]:
    return "and" in rule


def is_or(rule: Rule) -> TypeIs[OrRule]:
    return "or" in rule


def split_group(rule: AndRule | OrRule) -> tuple[GroupKey, list[Rule]]:
    """(`and` | `or`, its parts)."""
    if is_and(rule):
        return "and", rule["and"]
    return "or", rule["or"]


def group_of(rule: Rule) -> tuple[GroupKey, list[Rule]] | None:
    """(`and` | `or`, its parts) for a group; None for anything else."""
    return split_group(rule) if is_and(rule) or is_or(rule) else None


def make_group(key: GroupKey, parts: list[Rule]) -> AndRule | OrRule:
    return {"and": parts} if key == "and" else {"or": parts}


__all__ = ["AllRule", "AndRule", "Condition", "GroupKey", "NotRule", "OrRule", "Rule", "group_of", "is_all",
           "is_and", "is_condition", "is_not", "is_or", "make_group", "split_group"]
