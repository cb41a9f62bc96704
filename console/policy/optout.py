"""Is an inbound reply an opt-out? One function, used by the inbound server and by imports of replies."""

from __future__ import annotations

import unicodedata

# Exact keywords (after trimming and case folding). Single letters are what Chinese SMS footers ask for
# ("拒收请回复R", "回T退订"); HELP is deliberately absent: it asks for information, not for silence.
OPT_OUT_KEYWORDS: frozenset[str] = frozenset(
    {"stop", "unsubscribe", "cancel", "end", "quit", "revoke", "opt out", "退订", "td", "t", "n", "r"}
)


def is_opt_out(text: str | None) -> bool:
    """True when *text*, trimmed and case-insensitive, is exactly one of the opt-out keywords.

    Full-width letters and spaces (ＳＴＯＰ, "ＯＰＴ　ＯＵＴ") count as their ASCII forms, and runs of inner
    whitespace as one space; "stop please" or "R2" are not opt-outs (exact match only).
    """
    if not text:
        return False
    normal = unicodedata.normalize("NFKC", text)
    normal = " ".join(normal.split()).casefold()
    return normal in OPT_OUT_KEYWORDS
