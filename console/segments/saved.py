"""Saved segments: named rules (checked when saved), listed, read and removed, audited.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, TypedDict, cast
from zoneinfo import ZoneInfo

import sqlite_utils

from console import audit
from console.clock import now_ts
from console.errors import BadInput, NotFound
from console.profiles import profiles_as_of
from console.segments.compile import Context, compile_rule
from console.segments.rule_types import Rule
from console.segments.rules import parse, to_text
from storage.tx import immediate


class SegmentDict(TypedDict):
    """Segment.as_dict: `winback segments create|show --json`, and what the console's rule editor saved."""
    id: int
    name: str
    rule: Rule                 # the parsed rule (console.segments.rule_types)
    rule_text: str
    description: str | None
    preset: bool
    created_at: int
    created_by: str
    updated_at: int


@dataclass
class Segment:
    id: int
    name: str
    rule: Rule                 # as stored: membership.saved_rule checks it again before it is used
    rule_text: str
    description: str | None
    preset: bool
    created_at: int
    created_by: str
    updated_at: int

    def as_dict(self) -> SegmentDict:
        return cast(SegmentDict, asdict(self))   # asdict: the fields above, in their order


def row_to_segment(row: dict[str, Any]) -> Segment:
    return Segment(id=row["id"], name=row["name"], rule=json.loads(row["rule"]), rule_text=row["rule_text"],
                   description=row["description"], preset=bool(row["preset"]), created_at=row["created_at"],
                   created_by=row["created_by"], updated_at=row["updated_at"])


def get(db: sqlite_utils.Database, name: str) -> Segment:
    """The segment called `name`; NotFound (exit 2) names the command that lists them."""
    rows = list(db.query("SELECT * FROM segments WHERE name = ?", [name]))
    if not rows:
        raise NotFound(f"no segment named {name!r} (see `winback segments list`)")
    return row_to_segment(rows[0])


def list_segments(db: sqlite_utils.Database) -> list[Segment]:
    """All segments: presets first in their own order (dormancy states, then layers), then the rest by name."""
    return [row_to_segment(r) for r in db.query(
        "SELECT * FROM segments ORDER BY preset DESC, CASE WHEN preset = 1 THEN id END, name")]


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 80 or any(ord(c) < 32 for c in name):
        raise BadInput(f"segment name {name!r}: give 1-80 printable characters")
    return name


def create(db: sqlite_utils.Database, name: str, rule_text: str, description: str | None = None, *,
           preset: bool = False, replace: bool = False) -> Segment:
    """Save a segment; the rule is parsed and checked first (RuleError points at the column). Audited.

    An existing name is an error unless `replace` (then its rule and description change, its id stays, so
    campaigns that use it follow).
    """
    name = _check_name(name)
    rule = parse(rule_text)
    compile_rule(rule, rule_context(db))  # every field compiles before anything is written
    now = now_ts()
    with immediate(db):
        existing = db.execute("SELECT id FROM segments WHERE name = ?", [name]).fetchone()
        if existing and not replace:
            raise BadInput(f"a segment named {name!r} exists; pick another name or pass --replace")
        if existing:
            db.execute("UPDATE segments SET rule = ?, rule_text = ?, description = coalesce(?, description), "
                       "updated_at = ? WHERE id = ?",
                       [json.dumps(rule, ensure_ascii=False), rule_text.strip(), description, now, existing[0]])
        else:
            db.execute("INSERT INTO segments (name, rule, rule_text, description, preset, created_at, created_by, "
                       "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [name, json.dumps(rule, ensure_ascii=False), rule_text.strip(), description, int(preset),
                        now, audit.current_operator(), now])
        audit.record(db, "segment.replace" if existing else "segment.create", segment=name, rule=to_text(rule))
    return get(db, name)


def remove(db: sqlite_utils.Database, name: str) -> None:
    """Delete a segment no campaign uses. Audited."""
    seg = get(db, name)
    with immediate(db):
        if db["campaigns"].exists():
            used = db.execute("SELECT name FROM campaigns WHERE segment_id = ? LIMIT 1", [seg.id]).fetchone()
            if used:
                raise BadInput(f"segment {name!r} is used by campaign {used[0]!r}; it stays")
        db.execute("DELETE FROM segments WHERE id = ?", [seg.id])
        audit.record(db, "segment.remove", segment=name, rule=seg.rule_text)


def rule_context(db: sqlite_utils.Database) -> Context:
    as_of, tz = profiles_as_of(db)
    return Context(as_of=as_of, tz=ZoneInfo(tz or "UTC"))
