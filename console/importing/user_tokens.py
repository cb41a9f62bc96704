"""Push tokens in a users file (the `push_token` column): the address a push or webhook campaign sends to.

A device token is opaque: it is kept exactly as written (its case matters to the push service, so it is never
lower-cased), only stripped of the spaces around it as every cell is. What cannot be a token is refused with the
record's other problems: whitespace or an invisible character inside (two tokens in one cell, a name in the wrong
column, a zero-width space pasted along), or an absurd length. Control characters never get this far: the reader
refuses them in every column winback reads (console.importing.cells).
"""

from __future__ import annotations

from console.importing.cells import codepoint, shown

# FCM's tokens are ~160 characters, APNs' 64, a web push subscription's endpoint a few hundred. Longer than this is
# a JSON document or a pasted page in the wrong column, not a token.
MAX_PUSH_TOKEN = 4096


def push_token_problem(token: str) -> str | None:
    """Why a stripped, non-empty push token cell is not a token, or None."""
    if len(token) > MAX_PUSH_TOKEN:
        return f"{len(token):,} characters long; a device token is at most {MAX_PUSH_TOKEN:,}"
    if " " in token or not token.isprintable():  # not printable: tabs, NBSP, zero-width and the other spaces
        bad = next(c for c in token if c == " " or not c.isprintable())
        return (f"contains whitespace or an invisible character ({codepoint(bad)}) in {shown(token)}; a device "
                "token is one unbroken string — is this the right column?")
    return None


def tokens(column: list[str], unsure: set[int]) -> list[str | None]:
    """A batch's stripped push token cells (None where empty), checked at once in C; any cell that may be refused
    is noted as unsure (RowValidator then decides, with push_token_problem)."""
    joined = "".join(column)
    if " " in joined or not joined.isprintable() or max(map(len, column)) > MAX_PUSH_TOKEN:
        unsure.update(j for j, token in enumerate(column) if token and push_token_problem(token))
    return [token or None for token in column]
