"""The rule language's words (console/segments/rules.py): its operators and keywords, the limits that keep a
rule small enough to stay data (see rules.py), the error that points at a column, and the tokenizer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from console.errors import BadInput
from console.ime_text import QUOTES, fold_width

OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in")
KEYWORDS = {"and", "or", "not", "in", "all"}

# Why these numbers: a real rule has a handful of conditions; the limits sit far above that and far below what
# breaks Python's recursion (about 1,000 frames), SQLite's expression depth (1,000: a chain of `or`s is that
# deep, and each value of `days_since_* in (...)` adds two levels), its parser stack (about 30 nested
# `(a OR (b ...))`, and callers wrap a segment's WHERE in subqueries of their own) and its bound-parameter limit
# (32,766: a day-count value binds two parameters and a segment query binds its rule twice).
MAX_RULE_CHARS = 50_000
MAX_DEPTH = 32
MAX_NESTING = 8
MAX_CONDITIONS = 200
MAX_VALUES = 5_000
MAX_DAY_VALUES = 100
MAX_NUMBER = 10**15          # 15 digits: beyond that a float cannot even hold the number exactly
MAX_DAYS = 100_000           # about 270 years


class RuleError(BadInput):
    """A rule that does not parse or names an unknown field/value; carries the 1-based column."""

    def __init__(self, text: str, column: int, message: str) -> None:
        self.text = text
        self.column = column
        self.message = message
        shown, before = _excerpt(text, column)
        caret = " " * _display_width(before) + "^"
        super().__init__(f"rule, column {column}: {message}\n  {shown}\n  {caret}")


_EXCERPT = 60


def _excerpt(text: str, column: int) -> tuple[str, str]:
    """(the part of the rule to show, the shown text before the column): a long rule is shown as the 60
    characters either side of the mistake, so the caret stays on screen."""
    start = max(0, column - 1 - _EXCERPT)
    end = column - 1 + _EXCERPT
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    return head + text[start:end] + tail, head + text[start: column - 1]


def _display_width(text: str) -> int:
    """Terminal columns: CJK and other wide characters take two, so the caret lands under the right place."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@dataclass
class Token:
    kind: str       # word | string | op | ( | ) | , | end
    text: str
    col: int        # 1-based
    value: Any = None


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.|"")*"|'(?:[^'\\]|\\.|'')*'
                  |＂(?:[^＂\\]|\\.|＂＂)*＂|＇(?:[^＇\\]|\\.|＇＇)*＇|“(?:[^”\\]|\\.)*”|‘(?:[^’\\]|\\.)*’)
      | (?P<op>!=|<>|<=|>=|==|=|<|>|≥|≤|≠)
      | (?P<punct>[(),])
      | (?P<word>[^\s(),=<>!"'＂＇“‘≥≤≠]+)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)

# A Chinese input method types quotes as ＂ ＇ or “ ” ‘ ’: each opens a quoted value closed by its partner; the folding
# of what it types (console/ime_text.py) is shared with the import mappings' `where` and the console's `/` filter.
_OPS = {"<>": "!=", "==": "=", "≥": ">=", "≤": "<=", "≠": "!="}


def _unquote(raw: str) -> str:
    quote = raw[0]
    body = raw[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
            continue
        if ch == quote and i + 1 < len(body) and body[i + 1] == quote:
            out.append(quote)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def wide_punctuation_hint(text: str) -> str:
    """For an error at *text*: which character a Chinese input method typed that the rule language has no use
    for (。、【】《》…: fold_width already read ＝ （ ， and the like as ASCII), and what to type instead."""
    for ch in text:
        if unicodedata.category(ch)[0] in "PS" and unicodedata.east_asian_width(ch) in ("W", "F"):
            return (f" — {ch!r} (U+{ord(ch):04X}) is a Chinese punctuation mark the rule language does not use: "
                    "switch the input method to English to type the rule's punctuation (`,` between values, "
                    "\"…\" around a value with spaces), or put the value in quotes")
    return ""


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    typed, text = text, fold_width(text)   # the same length: columns are the typed text's, as errors show it
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the pattern matches any non-space character
            raise RuleError(typed, pos + 1, "cannot read this")
        kind = m.lastgroup or "bad"
        start = m.start(kind) + 1
        raw = m.group(kind)
        if kind == "bad":
            if raw in QUOTES:
                raise RuleError(typed, start, "this quote is never closed")
            raise RuleError(typed, start, f"unexpected {raw!r}")
        if kind == "string":
            tokens.append(Token("string", raw, start, _unquote(raw)))
        elif kind == "op":
            tokens.append(Token("op", _OPS.get(raw, raw), start))
        elif kind == "punct":
            tokens.append(Token(raw, raw, start))
        else:
            tokens.append(Token("word", raw, start, raw))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens
