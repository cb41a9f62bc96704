"""The columns each import reads, by its name (users, events): what a saved mapping's `columns` may name.

Its own module: the checks modules import mappings (for Rewrite), so mappings cannot import them back."""

from __future__ import annotations

from collections.abc import Sequence


def winback_columns(what: str) -> Sequence[str]:
    """The columns a users or an events import reads (the targets a saved mapping may name)."""
    if what == "users":
        from console.importing.user_checks import USER_COLUMNS

        return USER_COLUMNS
    from console.importing.event_checks import EVENT_COLUMNS

    return EVENT_COLUMNS
