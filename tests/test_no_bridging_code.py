"""Issue 16: the bridging code between capabilities is gone — each area calls the other's real function."""

from __future__ import annotations

import ast
from pathlib import Path

from console import message_context, messages, segments
from console.config import Config
from console.segments import fields
from tests import segments_support as hand

ROOT = Path(__file__).resolve().parent.parent


def test_no_import_is_guarded_by_except_import_error():
    guarded = []
    for pkg in ("console", "screens", "storage", "fixtures"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name) \
                        and node.type.id in ("ImportError", "ModuleNotFoundError"):
                    guarded.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert guarded == []


def test_profile_variables_read_the_real_profile_columns(db):
    assert not hasattr(message_context, "PROFILE_SOURCES")
    real = {c.name for c in db["profiles"].columns}
    assert {c for c in message_context.PROFILE_COLUMNS.values() if c} <= real
    select, join = message_context.profile_select()
    assert "COALESCE(p.last_event_at, " in select and "p.last_object AS p_last_item" in select
    assert join == "LEFT JOIN profiles p ON p.user_id = u.id"


def test_a_preview_lists_the_users_segments_from_segments_itself(db):
    assert not hasattr(messages, "user_segments")
    hand.add_user(db, "s-1", name="Wu", phone="+8613800000002", region="华东")
    segments.create(db, "east", "region = 华东")
    from console import templates

    templates.save(db, templates.parse_toml('name = "hi"\nchannel = "sms"\nbody = "hi {{ user.name }}"\n', "t.toml"),
                   Config())
    _, info = messages.preview(db, Config(), "hi", "s-1")
    assert info["segments"] == segments.segments_of_user(db, 1) == ["east"]


def test_segment_field_extensions_are_named_not_guessed():
    assert not hasattr(fields, "EXTENSION_AREAS")
    assert fields.lookup("p_alive") is not None   # console.propensity.segment_fields, loaded on first need
