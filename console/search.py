"""Searching a long list in SQL by what the operator sees in its rows (the console's `/` on paged lists).

A list the console shows a page of (a segment's members, a campaign's recipients, the audit log) is searched here,
over every row, not only the page on screen. The needle is matched case-insensitively against the text the row
shows: contact details as masked (a search must not find someone by the digits the mask hides — that would
unmask by guessing, unaudited), audit details as the `key=value · …` line. SQLite's own lower() folds ASCII only;
the match here folds like Python's str.lower(), as the in-memory filter does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from console.privacy import mask_address, mask_email, mask_name, mask_phone


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
    """Give this connection the SQL functions `where()` uses (once per connection; repeating is harmless)."""
    conn = db.conn
    conn.create_function("wb_contains", -1, _contains, deterministic=True)
    conn.create_function("wb_mask_phone", 1, _optional(mask_phone), deterministic=True)
    conn.create_function("wb_mask_email", 1, _optional(mask_email), deterministic=True)
    conn.create_function("wb_mask_name", 1, _optional(mask_name), deterministic=True)
    conn.create_function("wb_mask_address", 2, mask_address, deterministic=True)
    conn.create_function("wb_details", 1, details_line, deterministic=True)


def needle_of(search: str | None) -> str:
    """The needle as matched: stripped, lower case; '' for no search."""
    return (search or "").strip().lower()


def where(db: sqlite_utils.Database, expressions: Sequence[str], search: str | None) -> tuple[str, list[Any]]:
    """(SQL condition, params): true for rows where any of `expressions` (SQL, over the query's tables; use the
    wb_mask_* functions for what the screen masks) contains the needle. ('1', []) when there is no search."""
    needle = needle_of(search)
    if not needle:
        return "1", []
    register(db)
    return f"wb_contains(?, {', '.join(expressions)})", [needle]
