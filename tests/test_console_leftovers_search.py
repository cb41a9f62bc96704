"""`/` on a paged list matches in plain SQL (issue 18's leftovers): console/search.py no longer calls Python per row
for a needle that SQLite's ASCII lower() folds as Python's str.lower() does. These check that the SQL gives the same
text and the same matches as the Python it replaced: the masks and the audit details line on awkward values, and
the rule for which needles stay with Python over all of Unicode. (tests/test_search_services.py checks the
services' searches themselves: masked phones, last four digits, counts.)"""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest
import sqlite_utils

from console import search
from console.privacy import mask_address, mask_email, mask_name, mask_phone
from console.search_sql import DOTTED_I, KELVIN, details, plain_sql
from console.search_sql import mask_address as address_sql
from console.search_sql import mask_email as email_sql
from console.search_sql import mask_name as name_sql
from console.search_sql import mask_phone as phone_sql

PHONES = [None, "", "+8613812345678", "13812345678", "+861381234567", "+14155550123", "++8613812345678",
          "12345", "1", "1234567", "12345678", "+86", "+", "0086 138 1234 5678"]
EMAILS = [None, "", "a@example.com", "ab@x", "@example.com", "abc@", "noat", "a", "王小明@例子.中国", "x@y@z"]
NAMES = [None, "", "王", "王小明", "欧阳娜娜", "L", "Li", "Lee", "Leonardo", "Émile", "Zoë Ω", "a b"]
CHANNELS = ["sms", "call", "gift", "email", "push"]
ROOM = 40   # the most asterisks a needle has that the masks are written for


@pytest.fixture(scope="module")
def db():
    conn = sqlite_utils.Database(sqlite3.connect(":memory:"))
    search.register(conn)
    yield conn
    conn.close()


def _one(db, sql: str, *params):
    return db.execute(f"SELECT {sql}", list(params)).fetchone()[0]


def _optional(value):
    return None if value in (None, "") else value


def test_the_masks_in_sql_give_the_pythons_text(db):
    def sql(expression: str, value) -> object:
        return db.execute(f"SELECT {expression}", {"x": value}).fetchone()[0]

    for phone in PHONES:
        assert _optional(sql(phone_sql(":x", ROOM), phone)) == _optional(mask_phone(phone)), phone
    for email in EMAILS:
        assert _optional(sql(email_sql(":x", ROOM), email)) == _optional(mask_email(email)), email
    for name in NAMES:
        assert _optional(sql(name_sql(":x", ROOM), name)) == _optional(mask_name(name)), name
    assert sql(name_sql(":x", 2), "欧阳娜娜") == "欧**"   # asterisks only as many as the needle has
    assert sql(name_sql(":x", 0), "欧阳娜娜") == "欧" and sql(name_sql(":x", 2), "Leonardo") == "L**"
    for channel in CHANNELS:
        for address in [*PHONES, *EMAILS, "tok_abcdef123"]:
            got = db.execute(f"SELECT {address_sql(':c', ':a', ROOM)}", {"c": channel, "a": address}).fetchone()[0]
            assert got == mask_address(channel, address), (channel, address)


def test_the_details_line_in_sql_is_the_pythons(db):
    for value in ({}, {"campaign": "nov-sms", "to_send": 3}, {"real": False, "ok": True, "why": None},
                  {"est_cost": 0.12, "margin": "10%", "ratio": 1 / 3}, {"warnings": ["a", "b"], "by": {"k": 1}},
                  {"名字": "王小明", "at": 1796698800}, {"big": 1e16}):
        text = json.dumps(value, ensure_ascii=False)
        assert (_one(db, details("?", ROOM), text) or "") == search.details_line(text), value
    assert _one(db, details("?", ROOM), "") is None and _one(db, details("?", ROOM), None) is None


def test_plain_sql_rewrites_nested_calls_and_leaves_the_rest():
    sql = plain_sql("wb_mask_address((SELECT channel FROM campaigns c WHERE c.id = s.campaign_id), s.address)", 4)
    assert "wb_" not in sql and "(SELECT channel FROM campaigns c WHERE c.id = s.campaign_id)" in sql
    assert plain_sql("u.external_id", 4) == "u.external_id"
    assert "wb_" not in plain_sql("wb_details(details)", 4).replace("wb_str", "")


@pytest.mark.parametrize("needle", ["5678", "王", "王*", "王**", "王***", "欧***", "l**", "l***", "**", "dormant",
                                    "i", "k", "*@ex", "1381", "8613", "138****5678", "%", "_", "a_b", "\\",
                                    "tok_…", "_…", "plai", "émile", "ω", "σ"])
def test_sql_and_python_match_the_same_rows(db, needle):
    """Every awkward value, as masked, matched by where()'s SQL (or its Python fallback) and by Python."""
    db.execute("CREATE TABLE IF NOT EXISTS people (name TEXT, phone TEXT, email TEXT, note TEXT)")
    db.execute("DELETE FROM people")
    notes = [DOTTED_I + "stanbul", KELVIN + "ELVIN", "Kilo", "ΣΙΣΥΦΟΣ", "Émile", "plain", "100%", "a_b", "a\\b",
             "axb", "tok_abcdef"]
    for i in range(max(len(PHONES), len(EMAILS), len(NAMES), len(notes))):
        db.execute("INSERT INTO people VALUES (?, ?, ?, ?)", [NAMES[i % len(NAMES)], PHONES[i % len(PHONES)],
                                                              EMAILS[i % len(EMAILS)], notes[i % len(notes)]])
    clause, params = search.where(db, ("wb_mask_name(name)", "wb_mask_phone(phone)", "wb_mask_email(email)",
                                       "note", "wb_mask_address('push', note)"), needle)
    got = db.execute(f"SELECT rowid FROM people WHERE {clause} ORDER BY rowid", params).fetchall()
    want = [(rowid,) for rowid, name, phone, email, note in
            db.execute("SELECT rowid, name, phone, email, note FROM people ORDER BY rowid").fetchall()
            if any(needle in v.lower() for v in (mask_name(name), mask_phone(phone), mask_email(email), note,
                                                 mask_address("push", note)))]
    assert got == want, needle
    assert ("wb_contains" in clause) == (not search.in_plain_sql(needle))


def test_no_needle_that_stays_in_sql_has_a_character_another_folds_to():
    """Over all of Unicode: what str.lower() turns a non-ASCII character into is left to Python by in_plain_sql,
    or is ASCII only for the two characters search_sql.folded replaces."""
    for code in range(128, sys.maxunicode + 1):
        ch = chr(code)
        lower = ch.lower()
        if lower != ch:
            for c in lower:
                assert (ch in (DOTTED_I, KELVIN)) if c.isascii() else not search.in_plain_sql(c), (ch, c)


def test_a_plain_needle_is_matched_with_no_python_function(db):
    """The members' and recipients' searches run with the wb_* functions gone: nothing is called per row."""
    from console.campaigns.tallies import RECIPIENTS_SEARCHED
    from console.segments.member_list import _MASKED, _SEARCHED

    conn = sqlite_utils.Database(sqlite3.connect(":memory:"))
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, external_id TEXT, region TEXT, name TEXT, phone TEXT, "
                 "email TEXT)")
    conn.execute("CREATE TABLE profiles (user_id INTEGER, dormancy TEXT, layer TEXT)")
    conn.execute("CREATE TABLE campaigns (id INTEGER PRIMARY KEY, channel TEXT)")
    conn.execute("CREATE TABLE sends (campaign_id INTEGER, user_id INTEGER, address TEXT, arm TEXT, status TEXT, "
                 "reason TEXT, error TEXT)")
    conn.execute("INSERT INTO users VALUES (1, 'U1', '华东', '王小明', '+8613812345678', 'wang@example.com')")
    conn.execute("INSERT INTO campaigns VALUES (1, 'sms')")
    conn.execute("INSERT INTO sends VALUES (1, 1, '+8613812345678', 'A', 'sent', NULL, NULL)")
    members, more = search.where(conn, (*_SEARCHED, *_MASKED), "5678 ")
    recipients, params = search.where(conn, RECIPIENTS_SEARCHED, "王*")
    for name in ("wb_contains", "wb_mask_phone", "wb_mask_email", "wb_mask_name", "wb_mask_address", "wb_details",
                 "wb_str"):
        conn.conn.create_function(name, -1, None)
        conn.conn.create_function(name, 1, None)
        conn.conn.create_function(name, 2, None)
    assert conn.execute(f"SELECT u.id FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE {members}",
                        more).fetchall() == [(1,)]
    assert conn.execute(f"SELECT s.user_id FROM sends s JOIN users u ON u.id = s.user_id WHERE {recipients}",
                        params).fetchall() == [(1,)]
    assert search.where(conn, _MASKED, "1234")[1] and not conn.execute(   # the digits the mask hides find nobody
        "SELECT 1 FROM users u WHERE " + search.where(conn, _MASKED, "1234")[0],
        search.where(conn, _MASKED, "1234")[1]).fetchall()
    conn.close()
