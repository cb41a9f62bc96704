"""The one write-transaction helper: take the write lock up front (BEGIN IMMEDIATE), nesting as a savepoint.

sqlite-utils' atomic() opens a deferred BEGIN; in WAL mode a deferred reader that later writes fails at once
with SQLITE_BUSY if another process committed meanwhile — busy_timeout cannot help. Taking the lock first means
we wait our turn instead (the TUI and a cron job side by side), and begin_immediate waits out a long writer (an
import) up to WINBACK_WRITE_WAIT seconds instead of failing after the busy timeout.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import sqlite_utils

from storage.db import begin_immediate


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run the block in one write transaction; inside an open transaction, in a savepoint of it."""
    conn = db.conn
    if conn.in_transaction:
        name = f"tx_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    begin_immediate(conn)
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
