"""The root of the errors an operator can act on. It lives here, at the bottom of the layers, so that storage can
raise one (the database is busy, too new) without importing the console services above it; `console.errors`
re-exports it as `WinbackError` with its subclasses."""

from __future__ import annotations


class WinbackError(Exception):
    """An operation failed (exit code 1)."""

    exit_code = 1
