"""Searching a long list in SQL by what the operator sees in its rows (the console's `/` on paged lists).

A list the console shows a page of (a segment's members, a campaign's recipients, the audit log) is searched here,
over every row, not only the page on screen. The needle is matched case-insensitively against the text the row
shows: contact details as masked (a search must not find someone by the digits the mask hides — that would
unmask by guessing, unaudited), audit details as the `key=value · …` line. The match folds like Python's
str.lower(), as the in-memory filter does.

The callers name what a row shows with SQL over their tables and the wb_* functions below (`wb_mask_phone(u.phone)`,
`wb_details(details)`). `where()` writes those in plain SQL (console/search_sql.py) and matches with LIKE — no
Python called per row, which at 1,000,000 users made a search several times slower (tests/bench/bench_tui.py
`--search`). LIKE folds ASCII only; that is Python's folding exactly for a needle whose characters are ASCII or have
no case (Chinese, digits, `*`, `@`), once the only two other characters whose lower case holds an ASCII letter
(İ, the Kelvin sign K) are replaced. A needle with other cased letters (`é`, `Σ`) is matched by the Python functions,
per row, as before. (An audit entry's details call Python only for a number with a fraction, a list or an object.)
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from console.privacy import mask_address, mask_email, mask_name, mask_phone
from console.search_sql import like, matches

# Every character that is the lower case (or part of it) of another character is in one of these categories
# (checked over all of Unicode by tests/test_console_leftovers_search.py): a needle without them, ASCII aside, is
# matched exactly by SQLite's ASCII-only lower().
_CASED = frozenset({"Ll", "So", "Nl", "Mn"})


def _contains(needle: str, *values: Any) -> int:
    return int(any(value is not None and needle in str(value).lower() for value in values))


def details_line(details: str | dict | None) -> str:
    """An audit entry's details as the console shows them: key=value · key=value."""
    if isinstance(details, str):
        details = json.loads(details) if details else {}
    return " · ".join(f"{k}={v}" for k, v in (details or {}).items())


def _optional(mask: Any) -> Any:
    return lambda value: mask(value) if value is not None else None


def register(db: sqlite_utils.Database) -> None:
    """Give this connection the SQL functions the Python match uses (once per connection; repeating is harmless).
    Also what the plain SQL of an audit entry's details falls back on for a list or an object in them."""
    conn = db.conn
    conn.create_function("wb_contains", -1, _contains, deterministic=True)
    conn.create_function("wb_mask_phone", 1, _optional(mask_phone), deterministic=True)
    conn.create_function("wb_mask_email", 1, _optional(mask_email), deterministic=True)
    conn.create_function("wb_mask_name", 1, _optional(mask_name), deterministic=True)
    conn.create_function("wb_mask_address", 2, mask_address, deterministic=True)
    conn.create_function("wb_details", 1, details_line, deterministic=True)
    conn.create_function("wb_str", 1, _python_str, deterministic=True)


def _python_str(value: str | float) -> str:
    """A JSON value as Python's str() writes it once decoded: a number with a fraction (SQLite's own text has 15
    digits: 0.333333333333333), a list or an object (JSON text: ['a', 1], {'k': True})."""
    return str(value) if isinstance(value, float) else str(json.loads(value))


def needle_of(search: str | None) -> str:
    """The needle as matched: stripped, lower case; '' for no search."""
    return (search or "").strip().lower()


def in_plain_sql(needle: str) -> bool:
    """Whether SQLite's ASCII lower() matches `needle` (already lower case) as Python's str.lower() would."""
    return all(ch.isascii() or unicodedata.category(ch) not in _CASED for ch in needle)


def where(db: sqlite_utils.Database, expressions: Sequence[str], search: str | None) -> tuple[str, list[Any]]:
    """(SQL condition, params): true for rows where any of `expressions` (SQL, over the query's tables; use the
    wb_mask_* functions for what the screen masks) contains the needle. ('1', []) when there is no search."""
    needle = needle_of(search)
    if not needle:
        return "1", []
    register(db)
    if not in_plain_sql(needle):
        return f"wb_contains(?, {', '.join(expressions)})", [needle]
    # LIKE folds ASCII case itself (no lower() to allocate a copy of every value: 10 times quicker per column)
    tests = [matches(e, needle) for e in expressions]
    return "(" + " OR ".join(sql for sql, _ in tests) + ")", [like(needle)] * sum(n for _, n in tests)
