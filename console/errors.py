"""Errors the operator can act on. The CLI maps them to exit codes; the console shows them in a dialog."""


class WinbackError(Exception):
    """An operation failed (exit code 1)."""

    exit_code = 1


class BadInput(WinbackError):
    """Bad usage or bad input: a file, a rule, a flag (exit code 2). Nothing was changed."""

    exit_code = 2


class NotFound(BadInput):
    """A named thing (segment, template, campaign, user) does not exist."""
