"""`days_since_X in (d1, d2, ...)` as compact SQL: what SQLite must prepare stays small for the longest list.

A day count is a span of timestamps between two local-midnight cutoffs (console/dormancy.py). A run of consecutive
days is one span (days 0-99: one comparison pair, not a hundred). A few spans are OR'd comparisons, which SQLite
answers from an index. More spans, once prepared as OR'd comparisons, took SQLite seconds per query at the rule
limits (30 such lists: 12,000 parameters); they become a day number computed from the timestamp and looked up in
one bound JSON list, which SQLite reads once per query. The day number is plain arithmetic only where every day is
86,400 seconds long, so the days are cut into pieces at the days a clock change makes shorter or longer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from console.dormancy import cutoff

# A rule's lists share their days (and a count's queries their rule): each cutoff is worked out once.
_cutoff = lru_cache(maxsize=16_384)(cutoff)

DAY = 86_400
# Up to this many spans are OR'd comparisons; a longer list is looked up in JSON lists, a piece of days at a time
# (up to MAX_PIECES: in a zone with clock changes, two a year).
MAX_OR_SPANS = 8
MAX_PIECES = 64
# Beyond this many days between the first and last count listed, the pieces are not worked out (a cutoff a day).
MAX_PIECE_WINDOW = 3_700


def day_runs(days: Iterable[int]) -> list[tuple[int, int]]:
    """The day counts as runs of consecutive days [(first, last), ...], sorted, duplicates merged."""
    runs: list[tuple[int, int]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def in_days(col: str, days: Iterable[int], as_of: int, tz: ZoneInfo) -> tuple[str, list[Any]]:
    """(SQL, params) true when `col`'s calendar-day count (as of `as_of` in `tz`) is one of `days`; NULL or false
    otherwise."""
    runs = day_runs(days)
    if len(runs) > MAX_OR_SPANS and runs[-1][1] - runs[0][0] <= MAX_PIECE_WINDOW:
        pieces = _pieces(runs, as_of, tz)
        if len(pieces) <= MAX_PIECES:
            return _lookup(col, pieces)
    spans = [(_cutoff(as_of, last + 1, tz), _cutoff(as_of, first, tz)) for first, last in runs]
    sql = " OR ".join(f"({col} >= ? AND {col} < ?)" for _ in spans)
    return f"({sql})", [x for span in spans for x in span]


def _pieces(runs: list[tuple[int, int]], as_of: int, tz: ZoneInfo) -> list[tuple[int, int, list[int] | None]]:
    """[(oldest cutoff, newest cutoff, the listed days as counts after the piece's newest day), ...]: stretches
    of days 86,400 s long each that hold a listed day; a listed day a clock change made shorter or longer is a
    piece of its own, with None (the whole span)."""
    first, last = runs[0][0], runs[-1][1]
    cuts = [_cutoff(as_of, n, tz) for n in range(first, last + 2)]   # cuts[n - first]: where day n ends

    def regular(n: int) -> bool:
        return n > last or cuts[n - first] - cuts[n + 1 - first] == DAY

    wanted = {d for a, b in runs for d in range(a, b + 1)}
    pieces: list[tuple[int, int, list[int] | None]] = []
    start = first                                   # the newest day of the piece being built
    for n in range(first, last + 1):
        if n < last and regular(n) and regular(n + 1):
            continue
        members = [d - start for d in range(start, n + 1) if d in wanted]
        if members:
            pieces.append((cuts[n + 1 - first], cuts[start - first], members if regular(n) else None))
        start = n + 1
    return pieces


def _lookup(col: str, pieces: list[tuple[int, int, list[int] | None]]) -> tuple[str, list[Any]]:
    # Within a piece of regular days the count after its newest day is (newest cutoff - 1 - t) / 86400 in
    # SQLite's integer division (never negative there, so it floors), t the timestamp's whole second: a REAL
    # timestamp (x.5 in the last second of a day) is floored first. The IN (SELECT ...) list does not depend on
    # the row: SQLite builds it once per query.
    second = f"(CAST({col} AS INTEGER) - (CAST({col} AS INTEGER) > {col}))"    # floor, for negative ones too
    parts: list[str] = []
    params: list[Any] = []
    for oldest, newest, members in pieces:
        if members is None:
            parts.append(f"({col} >= ? AND {col} < ?)")
            params += [oldest, newest]
            continue
        parts.append(f"({col} >= ? AND {col} < ? AND (? - 1 - {second}) / {DAY} IN (SELECT value FROM json_each(?)))")
        params += [oldest, newest, newest, json.dumps(members)]
    return f"({' OR '.join(parts)})", params
