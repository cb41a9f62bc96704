"""Cell text that must not get in: control characters, stray byte order marks, lone surrogates, deep nesting.

A name with an escape sequence repaints the operator's terminal when it is shown and goes out in a text message;
a NUL or a lone surrogate breaks whatever reads it next; a byte order mark in the middle of a file (two exports
joined with `cat`) makes "\\ufeffu2" a different customer from "u2". The reader drops byte order marks and
reports the rest as the record's problems, by column. The checks run once per batch of records on the joined
text (one regular-expression scan in C); records are looked at one by one only when that scan finds something.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

BOM = "\ufeff"
MAX_DEPTH = 32

# What may not appear in a cell winback reads as a value (names, ids, regions, event text): C0 controls (CR, LF and
# TAB too), DEL, C1 controls (the 8-bit CSI U+009B starts terminal sequences) and the Unicode line separators.
STRICT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Extra columns (kept as attributes) may hold line breaks and tabs: a multi-line remark is common in CRM exports.
LENIENT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
# Anything the scan of a batch looks for: the strict set and the byte order mark.
SUSPECT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# In a JSON line, what can decode to a control character, a BOM or a surrogate: an escape (other than \" \\ \/
# and escapes of ordinary characters) or such a character as it is (JSON forbids raw C0 controls inside strings,
# but not DEL, C1 or U+2028).
JSON_SUSPECT = re.compile(r"\\[bfnrt]|\\u(?:00[01]|007|00[89]|202[89]|[dD][89a-fA-F]|[fF][eE][fF][fF])"
                          "|[\x7f-\x9f\u2028\u2029\ufeff]")


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def shown(text: str, limit: int = 60) -> str:
    """*text* as it may be printed in a message: quoted, control characters escaped, cut when long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def shown_names(names: list[str]) -> str:
    """Column names for a message: as they are, unless one holds something a terminal would act on."""
    return ", ".join(n if n.isprintable() else repr(n) for n in names)


def control_problem(text: str, pattern: re.Pattern[str] = STRICT) -> str | None:
    """Why *text* cannot be imported (a control character, a lone surrogate), or None."""
    found = pattern.search(text)
    if found:
        return f"contains a control character ({codepoint(found.group())}) in {shown(text)}; remove it"
    found = _SURROGATE.search(text)
    if found:
        return f"contains a lone surrogate ({codepoint(found.group())}), which is not a character"
    return None


def scrub_row(row: list[str], columns: list[str], known: set[str]) -> list[tuple[str, str]]:
    """Drop byte order marks from a CSV record's cells (in place); return its other problems by column."""
    found: list[tuple[str, str]] = []
    for i, cell in enumerate(row):
        if not SUSPECT.search(cell):
            continue
        if BOM in cell:
            cell = row[i] = cell.replace(BOM, "")
        problem = control_problem(cell, STRICT if columns[i] in known else LENIENT)
        if problem:
            found.append((columns[i], problem))
    return found


class Refused(ValueError):
    """A JSON value winback will not read, with why (raised from json.loads' hooks)."""


def refuse_constant(name: str) -> Any:
    raise Refused(f"{name} is not a JSON number")


def finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise Refused(f"{text} is too large for a number")
    return value


def loads(text: str) -> tuple[Any, str | None]:
    """A JSON line parsed as winback reads it: (value, None), or (None, why it is refused)."""
    try:
        value = json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)
    except json.JSONDecodeError:
        raise
    except Refused as exc:
        return None, str(exc)
    except RecursionError:
        return None, f"nested more than {MAX_DEPTH} levels deep"
    except ValueError:  # the only other: an integer longer than Python converts (a guard against slow parsing)
        return None, f"a number with more than {sys.get_int_max_str_digits():,} digits"
    # A value nested deeper than MAX_DEPTH has more brackets than that: count them (in C) before walking it.
    if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        return None, f"nested more than {MAX_DEPTH} levels deep"
    return value, None


def _deeper_than(value: Any, levels: int) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    elif not isinstance(value, list):
        return False
    if levels == 0:
        return True
    return any(_deeper_than(v, levels - 1) for v in value)


def scrub_json(obj: dict, known: set[str], mapping: dict[str, str]) -> tuple[dict, list[tuple[str, str]]]:
    """A parsed JSON record with byte order marks dropped from its strings and keys, and its problems by
    (top-level) column: control characters (line breaks allowed below an extra key) and lone surrogates."""
    found: list[tuple[str, str]] = []
    clean = {}
    for key, value in obj.items():
        column = mapping.get(key, key).replace(BOM, "")
        problem = control_problem(key)
        pattern = STRICT if column in known else LENIENT
        value, inner = _scrub_value(value, pattern)
        problem = problem or inner
        if problem:
            found.append((column if column.isprintable() else "", problem))
        clean[key.replace(BOM, "")] = value
    return clean, found


def _scrub_value(value: Any, pattern: re.Pattern[str]) -> tuple[Any, str | None]:
    if isinstance(value, str):
        if BOM in value:
            value = value.replace(BOM, "")
        return value, control_problem(value, pattern)
    if isinstance(value, list):
        items = [_scrub_value(v, pattern) for v in value]
        return [v for v, _ in items], next((p for _, p in items if p), None)
    if isinstance(value, dict):
        problem = None
        clean = {}
        for k, v in value.items():
            v, inner = _scrub_value(v, pattern)
            problem = problem or control_problem(k, pattern) or inner
            clean[k.replace(BOM, "")] = v
        return clean, problem
    return value, None
