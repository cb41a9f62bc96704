"""Errors the operator can act on. The CLI maps them to exit codes; the console shows them in a dialog.

console.config.ConfigError (a bad winback.toml: exit code 2) is one of them too; it lives beside the config it
describes. Catch WinbackError for "an operator-level error, in words" — but the send path must not record a
ConfigError against recipients (console/campaigns/claim.py)."""

from storage.errors import SQLITE_BUSY, SQLITE_ENVIRONMENT, WinbackError

__all__ = ["SQLITE_BUSY", "SQLITE_ENVIRONMENT", "BadInput", "ChannelError", "NotFound", "WinbackError"]


class BadInput(WinbackError):
    """Bad usage or bad input: a file, a rule, a flag (exit code 2). Nothing was changed."""

    exit_code = 2


class NotFound(BadInput):
    """A named thing (segment, template, campaign, user) does not exist."""


class ChannelError(WinbackError):
    """A channel cannot be used as configured (missing setting, missing secret, login refused). Raised before
    anything is sent; an operator error (exit 1, one line naming the setting), never a traceback."""
