"""Whole columns of phones, emails and attributes at once: one regular-expression scan per batch, in C.

An import's per-cell parsers (console.importing.values) cost a Python call per cell, most of a users import's
reading time. Here a batch's cells are joined with newlines and one multi-line pattern — the per-cell fast path's
conditions written as a single regular expression — finds every cell it accepts in one scan. When it accepts every
cell, the column is done; otherwise (None) the caller parses the column cell by cell as before, so the per-cell
path still decides every cell that is not the usual shape, and both give the same values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from json.encoder import encode_basestring

from console.importing.values import _LOCAL_ATOM, EmailParser, PhoneParser

NEWLINE = r"\n"  # a line break, as a regular expression says it


def _joined(cells: Sequence[str]) -> str | None:
    """The cells joined by newlines, or None when a cell holds a newline itself (then lines are not cells)."""
    text = "\n".join(cells)
    return text if text.count("\n") == len(cells) - 1 else None


class Phones:
    """Many phone cells at once, as PhoneParser's fast path reads them: a plain ASCII number, with or without the
    +CC/00CC prefix, of a mobile length, matching the mobile pattern and no special-rate one."""

    def __init__(self, parser: PhoneParser) -> None:
        self.prefix: str | None = None
        self.pattern: re.Pattern[str] | None = None
        fast = parser._fast
        if fast is None:
            return
        head, mobile, lengths, others, prefix = fast
        cc = prefix[1:]

        def conditions(end: str) -> str:
            """The number's conditions, each up to *end*: its length, no special-rate pattern, the mobile one."""
            # Digits only, of a mobile length (when the region says which: then all digits is implied).
            parts = ["(?=" + "|".join(rf"\d{{{n}}}{end}" for n in sorted(lengths)) + ")" if lengths else rf"(?=\d+{end})"]
            if others is not None:
                parts.append(f"(?!(?:{others.pattern}){end})")
            return "".join(parts)

        # The prefix is atomic, as in the per-cell fullmatch: once '+86' or '0086' is read it is never given back.
        self.pattern = re.compile(rf"^(?>(?:\+{cc}|00{cc})?){conditions('$')}((?:{mobile.pattern}))$", re.M)
        self.prefix = prefix
        self.prefixes = (f"+{cc}", f"00{cc}")
        # The same conditions for a column of cells without a prefix (the usual export: 13812345678), as one
        # match of the whole text, each line ended by a line break where the pattern above says '$' (no cell holds
        # one): half the time of findall, which tries its pattern at every character, not only at line starts.
        # Possessive: a line that fails is not backtracked over, the match just ends short of the end.
        self.column = re.compile(f"(?:{conditions(NEWLINE)}(?:{mobile.pattern}){NEWLINE})*+")

    def parse(self, cells: Sequence[str]) -> list[str] | None:
        """E.164 of each (stripped, non-empty) cell, or None when any cell is not the usual shape."""
        if self.pattern is None or self.prefix is None or not cells:
            return None
        text = _joined(cells)
        if text is None or not text.isascii():
            return None
        if not text.startswith(self.prefixes) and all(f"\n{p}" not in text for p in self.prefixes):
            # No cell starts with the country code, so each cell is its national number (the prefix matches
            # nothing, atomically): every line matching is findall finding every cell, and the values are these.
            if self.column.fullmatch(text + "\n") is None:
                return None
            return list(map(self.prefix.__add__, cells))
        found = self.pattern.findall(text)
        if len(found) != len(cells):
            return None
        return list(map(self.prefix.__add__, found))


# The per-cell fast path's conditions: at most 254 characters, a local part of at most 64 that is a dot-atom, one
# '@' (rpartition's last is then the only one), and a domain already read (and normalised) by the full validator.
_EMAIL = re.compile(rf"^(?=[^\n]{{1,254}}$)(?=[^\n@]{{1,64}}@)(?:{_LOCAL_ATOM.pattern})@([^\n@]*)$", re.M)


def emails(parser: EmailParser, cells: Sequence[str]) -> list[str] | None:
    """Each (stripped, non-empty) cell normalised, or None when any cell is not the usual shape or has a domain
    the per-cell parser has not read yet (it learns it, so the next batch is done here)."""
    if not cells:
        return None
    text = _joined(cells)
    if text is None:
        return None
    domains = _EMAIL.findall(text)
    if len(domains) != len(cells):
        return None
    known = parser._domains
    normal = {d: known.get(d) for d in set(domains)}
    if None in normal.values():
        return None
    if all(d == n for d, n in normal.items()):
        return cells if isinstance(cells, list) else list(cells)  # as written (the caller may test `is`)
    return [f"{cell.rpartition('@')[0]}@{normal[d]}" for cell, d in zip(cells, domains, strict=True)]


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


class Attributes:
    """The attributes JSON of many records at once (extra columns → compact JSON, keys sorted, UTF-8 as is), where
    reading.encode_attributes would be called on a dictionary per record; same text."""

    def __init__(self, names: Sequence[str]) -> None:
        self.order = sorted(range(len(names)), key=lambda i: names[i])
        keys = [encode_basestring(names[i]).replace("{", "{{").replace("}", "}}") for i in self.order]
        self.template = "{{" + ",".join(f'{k}:"{{}}"' for k in keys) + "}}"

    def encode(self, columns: Sequence[Sequence[str]]) -> list[str] | None:
        """Each record's JSON text, given the extra columns in file order; None unless every cell is non-empty
        and needs no escaping (an empty cell is left out of the dictionary, so its text differs)."""
        ordered = [columns[i] for i in self.order]
        for column in ordered:
            if "" in column or _NEEDS_ESCAPE.search("".join(column)):
                return None
        return list(map(self.template.format, *ordered))
