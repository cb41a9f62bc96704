"""Text typed with a Chinese input method read as if typed in ASCII: ＝ ＞ （ ） ， ［ ］, fullwidth letters and digits
and the ideographic space (NFKC), 、 as a comma, and “…” ‘…’ ＂…＂ ＇…＇ as quotes — outside quoted values only: a
value in quotes stays exactly as typed.

One folding for every place an operator types a small language or a search: segment rules
(console/segments/rule_tokens.py), the `where` of saved import mappings (console/importing/mappings.py) and the
console's `/` filter on tables (screens/tables.py). Kept out of console.segments so that the import reader and the
table filter need not load the segment services.
"""

from __future__ import annotations

import unicodedata

# Each opening quote and its partner. A closing ” or ’ alone opens nothing: it stays part of a word (O’Brien).
QUOTES = {'"': '"', "'": "'", "＂": "＂", "＇": "＇", "“": "”", "‘": "’"}
_IME_COMMA = {"、": ","}   # the enumeration comma, what a list's `,` becomes in Chinese: (华东、华南)


def quoted_end(text: str, start: int) -> int:
    """Where the quoted value opened at *start* ends (one past its closing quote; the text's end if unclosed), read
    as the rule tokenizer reads it: a backslash escapes the next character, a doubled quote is one quote."""
    close = QUOTES[text[start]]
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == close:
            if close == text[start] and text[i + 1: i + 2] == close:
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def fold_width(text: str) -> str:
    """The text with what a Chinese input method types in place of ASCII read as ASCII — ＝ ＞ （ ） ， fullwidth
    letters and digits, the ideographic space by NFKC, 、 as a comma — outside quoted values only: a value in
    quotes stays as typed. Character by character, and only where NFKC gives one character, so every column stays
    where the operator typed it (errors point at it)."""
    if text.isascii():
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in QUOTES:
            end = quoted_end(text, i)
            out.append(text[i:end])
            i = end
            continue
        folded = _IME_COMMA.get(ch) or unicodedata.normalize("NFKC", ch)
        out.append(folded if len(folded) == 1 else ch)
        i += 1
    return "".join(out)


def search_needle(text: str) -> str:
    """What a `/` search typed as *text* looks for, lower case: folded as a rule is (`ｉＰｈｏｎｅ` finds iPhone,
    `１３８` finds 138), and a search that is one quoted value (“ＡＢ（１）”, "x y") looks for what is inside the
    quotes exactly as typed — as a quoted value of a rule is kept."""
    typed = text.strip()
    if typed and typed[0] in QUOTES and quoted_end(typed, 0) == len(typed) and len(typed) > 1 \
            and typed[-1] == QUOTES[typed[0]]:
        return typed[1:-1].strip().lower()   # stripped as the services' searches strip it (console.search)
    return fold_width(typed).strip().lower()
