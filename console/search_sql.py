"""What a row shows, in plain SQL: the masks of console/privacy.py and an audit entry's `key=value · …` line, written
as SQL expressions so `/` (console/search.py) calls no Python per row.

The callers name what they search with the wb_* functions (`wb_mask_phone(u.phone)`); `plain_sql` rewrites each
call into the same text in SQL. Each mask here must give what its Python twin gives for every value: both are
checked against each other on awkward values by tests/test_console_leftovers_search.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from console.channel_names import ADDRESS_COLUMN

# The only characters besides ASCII's whose lower case holds an ASCII letter (İ -> i + a combining dot, K -> k).
DOTTED_I, KELVIN = "\u0130", "\u212a"
_CALL = re.compile(r"\bwb_(mask_phone|mask_email|mask_name|mask_address|details)\(")


def folded(sql: str, needle: str) -> str:
    """`sql`'s text as LIKE (which folds ASCII case) must see it to match `needle` as Python's str.lower() would,
    for a needle in_plain_sql: the two other characters whose lower case holds an ASCII letter are replaced first
    when the needle has that letter (otherwise they cannot be part of a match)."""
    if "i" in needle or "k" in needle:
        return f"replace(replace({sql}, '{DOTTED_I}', '{DOTTED_I.lower()}'), '{KELVIN}', 'k')"
    return sql


def like(needle: str) -> str:
    """The LIKE pattern of text containing `needle` (with ESCAPE '\\')."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _stars(n: str, room: int) -> str:
    """n asterisks (none when n <= 0), at most `room` — the needle's own asterisks: a needle with that many is found
    in a masked text with that many as in one with more (and SQLite has no repeat())."""
    return f"substr('{'*' * room}', 1, max({n}, 0))" if room else "''"


def mask_phone(x: str, room: int) -> str:
    """console.privacy.mask_phone: 138****5678; mainland numbers (+86 and 11 more) without +86, others with their
    +; NULL for none."""
    digits = f"ltrim({x}, '+')"
    plus = f"(CASE WHEN substr({x}, 1, 1) = '+' THEN '+' ELSE '' END)"   # others keep their '+'
    return (f"(CASE WHEN {x} GLOB '+86???????????' THEN substr({x}, 4, 3) || '****' || substr({x}, -4) "
            f"WHEN {x} IS NULL OR {x} = '' THEN NULL "
            f"WHEN length({digits}) <= 7 THEN {plus} || substr({digits}, 1, 2) || "
            f"{_stars(f'length({digits}) - 2', room)} "
            f"ELSE {plus} || substr({digits}, 1, 3) || '****' || substr({x}, -4) END)")


def mask_email(x: str, room: int = 0) -> str:
    """console.privacy.mask_email: a****@example.com; the first character and **** when there is no domain."""
    at = f"instr({x}, '@')"
    return (f"(CASE WHEN {at} > 1 AND {at} < length({x}) THEN substr({x}, 1, 1) || '****@' || substr({x}, {at} + 1) "
            f"WHEN {x} IS NULL OR {x} = '' THEN NULL "
            f"WHEN {at} = 1 AND length({x}) > 1 THEN '****@' || substr({x}, 2) "     # no name before the @
            f"ELSE substr({x}, 1, CASE WHEN {at} = 1 THEN 0 ELSE 1 END) || '****' END)")   # no domain


def mask_name(x: str, room: int) -> str:
    """console.privacy.mask_name: 王**, L** (an ASCII name keeps at most two asterisks)."""
    stars = f"length({x}) - 1"
    if room > 2:   # only then does it matter that an ASCII name keeps two at most
        ascii_only = f"length(CAST({x} AS BLOB)) = length({x})"   # UTF-8: a byte per character only for ASCII
        stars = f"CASE WHEN {ascii_only} THEN min(length({x}) - 1, 2) ELSE length({x}) - 1 END"
    return f"(CASE WHEN {x} IS NULL OR {x} = '' THEN NULL ELSE substr({x}, 1, 1) || {_stars(stars, room)} END)"


def mask_address(channel: str, x: str, room: int) -> str:
    """console.privacy.mask_address: by the channel's kind of address (email, a phone), else its first four
    characters and …"""
    phones = ", ".join(f"'{name}'" for name, column in sorted(ADDRESS_COLUMN.items()) if column == "phone")
    return (f"(CASE WHEN ({channel}) = 'email' THEN coalesce({mask_email(x)}, '') "
            f"WHEN ({channel}) IN ({phones}) THEN coalesce({mask_phone(x, room)}, '') "
            f"WHEN {x} IS NULL OR {x} = '' THEN '' ELSE substr({x}, 1, 4) || '…' END)")


def details(x: str, room: int) -> str:
    """console.search.details_line: an audit entry's JSON details as `key=value · key=value`, each value as Python's
    str() writes it (True, None; a number with a fraction, a list or an object through wb_str, Python's own)."""
    value = ("CASE j.type WHEN 'true' THEN 'True' WHEN 'false' THEN 'False' WHEN 'null' THEN 'None' "
             "WHEN 'text' THEN j.value WHEN 'integer' THEN j.value ELSE wb_str(j.value) END")
    return f"(SELECT group_concat(j.key || '=' || {value}, ' · ') FROM json_each(nullif({x}, '')) AS j)"


_WRITERS: dict[str, Callable[..., str]] = {"mask_phone": mask_phone, "mask_email": mask_email,
                                           "mask_name": mask_name, "mask_address": mask_address, "details": details}


def _arguments(sql: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments of a call whose '(' is just before `start`, and where its ')' ends."""
    depth, quote, args, begin = 0, "", [], start
    for i in range(start, len(sql)):
        ch = sql[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch == ")" or (ch == "," and not depth):
            args.append(sql[begin:i].strip())
            if ch == ")":
                return args, i + 1
            begin = i + 1
    raise ValueError(f"unbalanced parentheses in {sql!r}")   # a caller's bug


def matches(expression: str, needle: str) -> tuple[str, int]:
    """(SQL condition, how many times it takes the LIKE pattern of `needle`): `expression`'s text, in plain SQL,
    contains `needle` (in_plain_sql). A mask of a column is first tried on the column itself: a needle without an
    asterisk (or the … of a cut address) is found in what the mask shows only where it is found in the column —
    the digits and letters a mask keeps are the column's — and that test costs a tenth of making the mask."""
    shown = f"{folded(plain_sql(expression, needle.count('*')), needle)} LIKE ? ESCAPE '\\'"
    call = _CALL.match(expression.strip())
    if call is None or call.group(1) == "details" or "*" in needle or "…" in needle:
        return shown, 1
    args, end = _arguments(expression.strip(), call.end())
    if end != len(expression.strip()):   # more than one call: no single column to try first
        return shown, 1
    return f"({folded(args[-1], needle)} LIKE ? ESCAPE '\\' AND {shown})", 2


def plain_sql(sql: str, room: int) -> str:
    """`sql` with every wb_mask_*(…) and wb_details(…) call written in plain SQL; `room`: the asterisks in the needle
    (a mask's asterisks are written up to that many)."""
    out, pos = [], 0
    while match := _CALL.search(sql, pos):
        args, end = _arguments(sql, match.end())
        out.append(sql[pos:match.start()])
        out.append(_WRITERS[match.group(1)](*(plain_sql(a, room) for a in args), room))
        pos = end
    return "".join(out) + sql[pos:]
