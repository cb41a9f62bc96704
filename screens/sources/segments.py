"""The Segments screen's and the segment editor's data and actions (console.segments, console.layers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NotRequired, TypedDict

import sqlite_utils

from console.config import Config
from screens.sources.overview import profiled

if TYPE_CHECKING:   # the segment services load in the worker that calls them
    from console.segments.breakdowns import BreakdownRow
    from console.segments.counts import LayerMatrix
    from console.segments.member_list import Member
    from console.segments.saved import SegmentDict


class SegmentItem(TypedDict):
    name: str
    rule: str
    description: str | None
    preset: bool


class SegmentDetail(TypedDict):
    name: str
    rule: str
    count: int
    layers: LayerMatrix | None     # None before the first refresh
    dimension: str
    breakdown: list[BreakdownRow]


class MembersPage(TypedDict):
    page: int
    unmask: bool
    order_by: str
    search: str
    rows: list[Member]
    matches: int | None            # members matching `search` in all; None without a search
    total: int | None              # members of the segment; None without a search


class RuleCount(TypedDict):
    count: int | None              # None: the rule does not parse or cannot be used
    error: str | None
    column: NotRequired[int | None]   # where the parser stopped, when it says


def segment_list(db: sqlite_utils.Database) -> list[SegmentItem]:
    """Every segment: name, rule text, description, preset (counts come separately: they take longer)."""
    from console import segments

    return [{"name": s.name, "rule": s.rule_text, "description": s.description, "preset": s.preset}
            for s in segments.list_segments(db)]


def segment_counts(db: sqlite_utils.Database, names: list[str]) -> dict[str, int | None]:
    """Members per segment, now; None (shown "—") for a saved rule winback can no longer use, so one such
    segment does not blank every count (`winback segments list` says what is wrong with it)."""
    from console import segments
    from console.errors import BadInput

    counts: dict[str, int | None] = {}
    for name in names:
        try:
            counts[name] = segments.count(db, name)
        except BadInput:
            counts[name] = None
    return counts


def segment_detail(db: sqlite_utils.Database, config: Config, name: str, dimension: str) -> SegmentDetail:
    """One segment's count, layer matrix and one profile breakdown against the whole base."""
    from console import segments
    from console.segments import counts

    segment = segments.get(db, name)
    matrix = counts.layer_matrix(db, segment, config=config) if profiled(db) else None
    return {
        "name": name,
        "rule": segment.rule_text,
        "count": segments.count(db, segment),
        "layers": matrix,
        "dimension": dimension,
        "breakdown": segments.breakdown(db, segment, dimension, config=config, limit=8),
    }


def segment_members(db: sqlite_utils.Database, name: str, page: int, unmask: bool = False,
                    order_by: str = "id", search: str = "") -> MembersPage:
    """One page of 50 members in `order_by` (as `segments members --order-by`); unmasked only on request, and then
    the segments service audits it. With `search`, pages of the members whose shown text contains it (`matches`:
    how many in all, `total`: members of the segment; both None without a search)."""
    from console import segments

    rows = segments.members(db, name, page=page, page_size=50, unmask=unmask, order_by=order_by,
                            search=search or None)
    matches = segments.member_count(db, name, search=search, unmask=unmask) if search else None
    total = segments.member_count(db, name) if search else None
    return {"page": page, "unmask": unmask, "order_by": order_by, "search": search, "rows": rows,
            "matches": matches, "total": total}


def rule_count(db: sqlite_utils.Database, rule_text: str) -> RuleCount:
    """How many users a rule being typed matches, or where it fails to parse (column and message)."""
    from console import segments
    from console.errors import BadInput

    try:
        return {"count": segments.count(db, rule_text), "error": None}
    except segments.RuleError as exc:
        return {"count": None, "error": exc.message, "column": exc.column}
    except BadInput as exc:
        return {"count": None, "error": str(exc), "column": None}


def rule_fields() -> list[tuple[str, str]]:
    """(field, what it holds) for the rule editor's help line."""
    from console.segments import fields

    return [(f.name, f.kind_label()) for f in fields.all_fields()]


def save_segment(db: sqlite_utils.Database, name: str, rule_text: str, replace: bool) -> SegmentDict:
    """`winback segments create NAME --rule ...` (replace when editing). Audited by the service."""
    from console import segments

    return segments.create(db, name, rule_text, replace=replace).as_dict()
