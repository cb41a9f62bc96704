"""Which failures are the operator's to fix (or the machine's) and which are winback's own bugs.

A half-typed template, a bad value in winback.toml, a database another process holds locked, a file that cannot
be read: these are shown where they happened (the preview pane, a notification), in words. Only an exception
nobody expected is "a bug in winback".
"""

from __future__ import annotations

import sqlite3

from console.errors import SQLITE_BUSY as _BUSY
from console.errors import SQLITE_ENVIRONMENT as _ENVIRONMENT


def operator_message(error: BaseException) -> str | None:
    """The words to show for an input or environment error; None when the error is a bug in winback."""
    from jinja2 import TemplateError, TemplateSyntaxError

    from console.config import ConfigError
    from console.errors import WinbackError

    if isinstance(error, ConfigError):   # the value the console read at start: fixing the file alone changes nothing
        return (f"{error} — fix winback.toml, then quit and start winback again: the console reads winback.toml "
                "when it starts")
    if isinstance(error, WinbackError):
        return str(error)
    if isinstance(error, TemplateSyntaxError):
        where = f"line {error.lineno}: " if error.lineno else ""
        return f"template {where}{error.message or error}"
    if isinstance(error, TemplateError):
        return f"template: {error.message or error}"
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        if any(phrase in text for phrase in _BUSY):
            return ("the database is busy: another winback process is writing to it. Try again in a moment; "
                    "nothing was changed by this step.")
        if any(phrase in text for phrase in _ENVIRONMENT):
            return f"the database file cannot be used: {error}"
        return None
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return None
