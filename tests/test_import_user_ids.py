"""The events import's map of external ids to users: compact for a large base, the same answers as a dict."""

from __future__ import annotations

import sqlite3

from console.importing import user_ids
from console.importing.user_ids import UserIds

EXTERNAL_IDS = ["u1", "u2", "U1", "u1 ", "会员-0001", "会员-0002", "a" * 200, "x,y", "🙂"]
ASKED = [*EXTERNAL_IDS, "u3", "", " u1", "会员-0003", "a" * 199, "a" * 201]


def _users(tmp_path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "users.db")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE)")
    conn.executemany("INSERT INTO users (id, external_id) VALUES (?, ?)",
                     [(10 + i * 7, ext) for i, ext in enumerate(EXTERNAL_IDS)])
    return conn


def test_compact_map_answers_as_the_exact_one(tmp_path):
    conn = _users(tmp_path)
    exact = dict(conn.execute("SELECT external_id, id FROM users"))
    compact = UserIds.load(conn, compact_min=0)
    assert compact.hashes is not None  # the compact form, not a dict
    assert compact.get_many(ASKED) == [exact.get(ext) for ext in ASKED]
    assert [ext in compact for ext in ASKED] == [ext in exact for ext in ASKED]
    assert compact["会员-0002"] == exact["会员-0002"]
    assert compact.get_many([]) == []
    small = UserIds.load(conn)  # below COMPACT_MIN_USERS: a dict
    assert small.hashes is None and small.get_many(ASKED) == [exact.get(ext) for ext in ASKED]


def test_users_whose_hashes_collide_are_still_told_apart(tmp_path, monkeypatch):
    """Every id of the same length hashes alike here: those users are looked up by their exact id."""
    monkeypatch.setattr(user_ids, "hash", len, raising=False)  # shadows the builtin in that module only
    conn = _users(tmp_path)
    exact = dict(conn.execute("SELECT external_id, id FROM users"))
    compact = UserIds.load(conn, compact_min=0)
    assert compact.get_many(ASKED) == [exact.get(ext) for ext in ASKED]
    assert compact.exact  # the clashing users, kept exactly


def test_an_empty_users_table(tmp_path):
    conn = sqlite3.connect(tmp_path / "users.db")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE)")
    compact = UserIds.load(conn, compact_min=0)
    assert compact.get_many(["u1", "u2"]) == [None, None] and "u1" not in compact


def test_an_id_with_a_lone_surrogate_is_looked_up_too(tmp_path):
    conn = _users(tmp_path)
    compact = UserIds.load(conn, compact_min=0)
    assert compact.get_many(["u1", "u\udc80", "u2"]) == [10, None, 17]


def test_ids_read_as_joined_text_or_row_by_row_give_the_same_map(tmp_path, monkeypatch):
    """The ids come joined by SQLite, split a slice at a time; an id holding the separator, or a base too large to
    join, is read row by row."""
    monkeypatch.setattr(user_ids, "_SLICE_CHARS", 3)  # many slices, cut at every kind of place
    conn = _users(tmp_path)
    conn.execute("INSERT INTO users (id, external_id) VALUES (500, '')")  # an empty id, joined as ''
    exact = dict(conn.execute("SELECT external_id, id FROM users"))
    asked = [*ASKED, "a\x1fb"]
    sliced = UserIds.load(conn, compact_min=0)
    assert sliced.get_many(asked) == [exact.get(ext) for ext in asked]
    conn.execute("INSERT INTO users (id, external_id) VALUES (501, 'a\x1fb')")
    exact["a\x1fb"] = 501
    by_row = UserIds.load(conn, compact_min=0)
    assert by_row.get_many(asked) == [exact.get(ext) for ext in asked]
    monkeypatch.setattr(user_ids, "_JOINED_MAX_USERS", 3)  # a base too large to join: row by row as well
    conn.execute("DELETE FROM users WHERE id = 501")
    del exact["a\x1fb"]
    assert UserIds.load(conn, compact_min=0).get_many(asked) == [exact.get(ext) for ext in asked]
