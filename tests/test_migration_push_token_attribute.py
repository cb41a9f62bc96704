"""m021: push tokens that an older users import kept as an attribute move into users.push_token."""

from __future__ import annotations

import json

import sqlite_utils

from storage.migrations import MIGRATIONS

AT = 1764036000


def _old_database(path) -> sqlite_utils.Database:
    """A database as the winback before m021 left it, with users as its import wrote them: the push_token column of
    the file stored among the extra columns (attributes: compact JSON, keys sorted, the header as written)."""
    db = sqlite_utils.Database(path)
    MIGRATIONS.apply(db, stop_before="m021_push_token_attribute")
    users = [
        ("u1", None, {"push_token": "fcm:AAA-111", "vip": "yes"}),    # moves; vip stays
        ("u2", None, {"Push_Token": "  apns-BBB  "}),                 # header as written, spaces around: moves
        ("u3", "tok-new", {"push_token": "tok-old"}),                 # has one already: left alone
        ("u4", "", {"push_token": "fcm:CCC"}),                        # empty column counts as none
        ("u5", None, {"push_token": "two tokens"}),                   # the import would refuse it: left
        ("u6", None, {"push_token": ""}),                             # empty cell: nothing to move
        ("u7", None, {"note": "push_token in a note"}),               # the word, not the key
        ("u8", None, None),
    ]
    for external_id, token, attributes in users:
        text = json.dumps(attributes, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if attributes else None
        db.execute("INSERT INTO users (external_id, push_token, attributes, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?)", [external_id, token, text, AT, AT])
    db.conn.commit()
    return db


def test_push_tokens_kept_as_attributes_move_into_the_column(tmp_path):
    db = _old_database(tmp_path / "old.db")
    MIGRATIONS.apply(db)
    rows = {r[0]: (r[1], json.loads(r[2]) if r[2] else None)
            for r in db.execute("SELECT external_id, push_token, attributes FROM users")}
    assert rows == {
        "u1": ("fcm:AAA-111", {"vip": "yes"}),
        "u2": ("apns-BBB", None),
        "u3": ("tok-new", {"push_token": "tok-old"}),
        "u4": ("fcm:CCC", None),
        "u5": (None, {"push_token": "two tokens"}),
        "u6": (None, {"push_token": ""}),
        "u7": (None, {"note": "push_token in a note"}),
        "u8": (None, None),
    }
