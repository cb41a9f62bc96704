"""Segments: saved, named rules over user and profile fields, and who is in them.

    seg = create(db, "dormant-loyal", "dormancy = dormant and orders >= 3 and region in (华东, 华南)")
    count(db, seg); members(db, seg, page=1); sql, params = member_ids_query(db, seg)

Rules are structured JSON (console/segments/rules.py) compiled to a WHERE fragment with bound parameters
(console/segments/compile.py) over `users u LEFT JOIN profiles p`. Day counts are measured as of the last
refresh (`winback refresh`), like dormancy itself.

The package, in the operator's words: saved.py (the saved rules), membership.py (who is in: the SQL and the
count), member_list.py (the members as listed and exported), why.py (why a user is in or out), breakdowns.py
(a segment against the base), presets.py (the preset segments), counts.py (users per dormancy state and layer);
rules.py / compile.py / fields.py are the rule language. `console.segments.X` names every public name of them.
"""

from __future__ import annotations

from console.segments.breakdowns import BREAKDOWNS, breakdown
from console.segments.member_list import ORDERINGS, SCORE_ORDERINGS, export_rows, member_count, members
from console.segments.membership import (
    EVERYONE,
    count,
    member_ids_query,
    member_ids_query_by_name,
    profiled_source,
    where_clause,
)
from console.segments.presets import PRESET_STATE_NAMES, ensure_presets, preset_definitions
from console.segments.rules import RuleError, parse, to_text
from console.segments.saved import Segment, create, get, list_segments, remove
from console.segments.why import exclusion, explain, segments_of_user

__all__ = [
    "BREAKDOWNS",
    "EVERYONE",
    "ORDERINGS",
    "PRESET_STATE_NAMES",
    "RuleError",
    "SCORE_ORDERINGS",
    "Segment",
    "breakdown",
    "count",
    "create",
    "ensure_presets",
    "exclusion",
    "explain",
    "export_rows",
    "get",
    "list_segments",
    "member_count",
    "member_ids_query",
    "member_ids_query_by_name",
    "members",
    "parse",
    "preset_definitions",
    "profiled_source",
    "remove",
    "segments_of_user",
    "to_text",
    "where_clause",
]
