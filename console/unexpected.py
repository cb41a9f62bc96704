"""Words for an error nobody planned for (a bug), where a loop must go on after it: cron's run-dues report one
campaign's or program's failure and still run the others. Such an error is never silent: its type and message
are said, and its traceback too when WINBACK_DEBUG is set (an operator or developer chasing it)."""

from __future__ import annotations

import os
import traceback


def unexpected_words(exc: BaseException) -> str:
    """"unexpected error (a bug in winback): KeyError: 'rank'" — the type, since a bare message may say nothing."""
    return f"unexpected error (a bug in winback): {type(exc).__name__}: {exc}"


def debug_traceback(exc: BaseException) -> str | None:
    """The full traceback when WINBACK_DEBUG is set (any value but empty or 0), else None."""
    if os.environ.get("WINBACK_DEBUG", "") in ("", "0"):
        return None
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
