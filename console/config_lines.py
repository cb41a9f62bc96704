"""Where a setting is written in winback.toml: the line of `[table] key`, for error messages.

tomllib gives positions only for syntax errors, never for values, so a bad value would otherwise be said without
its line. This reads the text line by line — table headers ([a.b], [[a.b]], quoted parts), dotted keys
(`sms.price = 1` under [channels], `quiet_hours.start = …` at the top) and one-line inline tables
(`sms = { price = "x" }`) — and answers the first line whose full key path is the one asked for, or None. It is
a finder for messages, not a parser: a shape it does not follow gives None, and the message then names the file
and the field without a line. `syntax_hint` names a full-width character where tomllib's own syntax error stopped.
"""

from __future__ import annotations

import re

_BARE = r"[A-Za-z0-9_-]+"
_PART = rf"""(?:{_BARE}|"(?:[^"\\]|\\.)*"|'[^']*')"""
_PATH = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"\s*\[\[?\s*(?P<path>{_PATH})\s*\]\]?\s*(?:#.*)?")
_KEY = re.compile(rf"\s*(?P<path>{_PATH})\s*=(?P<rest>.*)")
_PARTS = re.compile(_PART)


def split_path(text: str) -> list[str]:
    """'channels."my sms".price' → ['channels', 'my sms', 'price'] (quotes taken off)."""
    parts = []
    for match in _PARTS.finditer(text):
        part = match.group(0)
        if part[:1] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return parts


def find_line(text: str, table: str, key: str | None = None) -> int | None:
    """The 1-based line of *key* in *table* ('quiet_hours', 'import.mappings.shop') — or of the table's header
    (or the key that opens it) when *key* is None — in winback.toml's *text*; None when it cannot be found."""
    want = split_path(table) + ([key] if key is not None else [])
    current: list[str] = []
    open_string: str | None = None   # inside a multi-line string: ''' or """
    depth = 0                        # inside a multi-line array or inline table
    for number, line in enumerate(text.splitlines(), start=1):
        if open_string is not None:
            if open_string in line:
                open_string = None
            continue
        if depth > 0:
            depth = max(0, depth + _depth_change(line))
            continue
        header = _HEADER.fullmatch(line)
        if header is not None:
            current = split_path(header["path"])
            if key is None and current[:len(want)] == want:   # the table, or the first of its sub-tables
                return number
            continue
        match = _KEY.match(line)
        if match is None:
            continue
        path = current + split_path(match["path"])
        rest = match["rest"]
        if path == want or (key is None and path[:len(want)] == want):
            return number
        if path == want[:len(path)] and _inline_has(rest, want[len(path):]):
            return number
        for quote in ('"""', "'''"):
            if rest.count(quote) % 2 == 1:
                open_string = quote
        depth = max(0, _depth_change(rest))
    return None


def _inline_has(rest: str, keys: list[str]) -> bool:
    """Whether a one-line inline table (`{ a = 1, b = { c = 2 } }`) sets the dotted *keys* (the simple cases)."""
    if not keys or not rest.lstrip().startswith("{"):
        return False
    pattern = r"[{,]\s*" + r"\s*=\s*\{[^}]*?".join(re.escape(k) for k in keys) + r"\s*="
    quoted = r"[{,]\s*" + r"\s*=\s*\{[^}]*?".join(f'"{re.escape(k)}"' for k in keys) + r"\s*="
    return re.search(pattern, rest) is not None or re.search(quoted, rest) is not None


def _depth_change(text: str) -> int:
    """Opened minus closed brackets and braces outside strings and comments."""
    depth = 0
    quote: str | None = None
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth


# Punctuation a Chinese input method types in place of TOML's: curly quotes have no ASCII form under NFKC.
_QUOTES = {"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"}
_AT = re.compile(r"\(at line (?P<line>\d+), column (?P<column>\d+)\)")


def syntax_hint(text: str, message: str) -> str:
    """For tomllib's syntax error *message* on *text*: when the character at its line and column is a full-width or
    curly form of TOML punctuation ('，', '＝', '“'), what it is and what to write instead; else ''."""
    import unicodedata

    at = _AT.search(message)
    if at is None:
        return ""
    lines = text.splitlines()
    line, column = int(at["line"]), int(at["column"])
    if not 0 < line <= len(lines) or not 0 < column <= len(lines[line - 1]):
        return ""
    char = lines[line - 1][column - 1]
    ascii_ = _QUOTES.get(char) or unicodedata.normalize("NFKC", char)
    if char.isascii() or not (len(ascii_) == 1 and ascii_.isascii() and not ascii_.isalnum()):
        return ""
    name = unicodedata.name(char, f"U+{ord(char):04X}")
    return f"'{char}' ({name}): write '{ascii_}' — TOML's punctuation is ASCII (a Chinese input method types the " \
           "full-width form)"
