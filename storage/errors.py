"""The root of the errors an operator can act on. It lives here, at the bottom of the layers, so that storage can
raise one (the database is busy, too new) without importing the console services above it; `console.errors`
re-exports it as `WinbackError` with its subclasses."""

from __future__ import annotations


class WinbackError(Exception):
    """An operation failed (exit code 1)."""

    exit_code = 1


# sqlite3 texts that describe the machine — a busy, full, unreadable or unwritable file — not a mistake in winback's
# SQL: the CLI (console/cli) and the console (screens/failures.py) say these in words instead of a traceback.
SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
SQLITE_ENVIRONMENT = ("disk i/o error", "database or disk is full", "unable to open database file",
                      "attempt to write a readonly database", "file is not a database",
                      "database disk image is malformed")
