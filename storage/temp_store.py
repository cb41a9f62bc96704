"""Batch jobs (refresh, recommendations) put their temp tables and sorts in a temp file instead of memory.

Connections are opened with `temp_store = MEMORY` (storage/db.py), right for small sorts; over a million users a
refresh's temp tables and sorts held hundreds of MB there (issue 17). Changing temp_store drops every temp table
of the connection and is refused inside a transaction, so it is changed only when the connection has none of
either — otherwise the job keeps the memory setting (correct, just heavier).
"""

from __future__ import annotations

import sqlite3


def spill_to_disk(conn: sqlite3.Connection) -> int | None:
    """Set temp_store = FILE when harmless; the previous value to restore, or None if left as it was."""
    if conn.in_transaction or conn.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0]:
        return None
    saved = int(conn.execute("PRAGMA temp_store").fetchone()[0])
    conn.execute("PRAGMA temp_store = FILE")
    return saved


def restore(conn: sqlite3.Connection, saved: int | None) -> None:
    """Put back what spill_to_disk changed (only when no temp table is left, as it drops them)."""
    if saved is None or conn.in_transaction:
        return
    if conn.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0]:
        return
    conn.execute(f"PRAGMA temp_store = {int(saved)}")
