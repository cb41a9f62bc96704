"""Reading and checking an events file: each record's user, kind, time and amount, batch by batch.

This runs in the import's reader process for a large file (console.importing.pipeline), so it imports only what
reading and checking need — not the writer's modules (sqlite_utils loads pandas, ~60 MB the reader would hold for
nothing). The checked batches go to console.importing.event_stage.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Generator
from dataclasses import dataclass
from itertools import compress, repeat
from operator import add, getitem
from pathlib import Path
from typing import Any, cast

from console.importing.fingerprints import EventColumns
from console.importing.mappings import Rewrite
from console.importing.reading import Source, encode_attributes
from console.importing.user_ids import UserIds
from console.importing.values import MINUTES, MISSING, TimeParser, parse_amount

EVENT_COLUMNS = ("user_id", "kind", "at", "amount", "category", "object", "source", "coupon_code")
BUSY_TIMEOUT_S = 30.0


@dataclass
class Spec:
    """What a reader needs to check a file — picklable, for the second process."""

    path: Path
    encoding: str
    format: str
    mapping: dict[str, str]
    fixed_kind: str | None
    timezone: str
    db_path: str
    batch: int
    hash_here: bool = True  # False: the writer hashes (it has time to spare while the reader process reads)
    rewrite: Rewrite | None = None  # a saved mapping's date/amount formats and row filter


@dataclass
class Checked:
    """One batch, checked: its valid events as columns, and the bad records with their problems."""

    rows: int
    valid: int
    events: EventColumns
    bad: list[tuple[int, list[tuple[str, str]], Any]]
    position: int
    filtered: int = 0  # records the saved mapping's `where` left out


def load_users(conn: sqlite3.Connection) -> UserIds:
    """{external id: user id} of every user, as the database holds them now (compact for a large base)."""
    return UserIds.load(conn)


def checked_batches(spec: Spec, users: UserIds | None = None) -> Generator[Checked, None, None]:
    """Read and check the file batch by batch (in this process or the reader process)."""
    if users is None:
        # Only reads (WAL: never waits for a writer), so a plain connection does, without storage.db's pragmas.
        conn = sqlite3.connect(spec.db_path, timeout=BUSY_TIMEOUT_S)
        try:
            users = load_users(conn)
        finally:
            conn.close()
    src = Source(spec.path, known=EVENT_COLUMNS, mapping=spec.mapping, encoding=spec.encoding, format=spec.format,
                 rewrite=spec.rewrite)
    parse_time = TimeParser(spec.timezone)
    for batch in src.batches(spec.batch):
        events, valid = check_batch(batch, spec.fixed_kind, users, parse_time, hashed=spec.hash_here)
        bad = []
        if valid < len(batch.values):
            bad = find_bad(batch, spec.fixed_kind, users, parse_time)
        yield Checked(len(batch.values), valid, events, bad, src.position(), batch.filtered)


# operator.getitem as the one signature used here (mypy cannot pick among their overloads in map)
_cut: Callable[[str, slice], str] = getitem
_FIRST14 = repeat(slice(None, 14))
_REST = repeat(slice(14, None))

_BROKEN = ("",) * len(EVENT_COLUMNS)


def check_batch(batch, fixed_kind: str | None, users: UserIds, parse_time: TimeParser,
                 hashed: bool = True) -> tuple[EventColumns, int]:
    """The valid records of the batch as columns (invalid ones are left out), and how many there are.
    Without *hashed*, the fingerprints are left for the writer (EventColumns.add_fingerprints).

    The hot loop of an events import, done column-wise with C-level maps: a dictionary look-up per cell
    for users, kinds and times (the time parser's hour cache), float() for amounts, str.strip for text.
    Records those look-ups miss (spaces, other time formats, unknown users, a new hour) are redone one by
    one on the careful path, which accepts the same inputs and leaves out the invalid ones.
    """
    values = batch.values
    n = len(values)
    if n == 0:
        return EventColumns([], [], [], [], [], [], [], [], None, []), 0
    if batch.broken:
        values = [_BROKEN if v is None else v for v in values]
    ext, k, at_text, amount_text, category, obj, source, coupon = zip(*values, strict=True)
    user_id = users.get_many(ext)
    keys = list(map(_cut, at_text, _FIRST14))  # "YYYY-MM-DD HH:", cut once for both uses
    hours = set(keys)
    if not hours.issubset(parse_time.hours):
        parse_time.learn_hours(hours)
    at = list(map(add, map(parse_time.hours.get, keys, repeat(MISSING)),
                  map(MINUTES.get, map(_cut, at_text, _REST), repeat(MISSING))))
    kind: list[str | None]   # None: not a kind word, redone on the careful path
    if fixed_kind:
        kind = [fixed_kind] * n
    else:
        kinds = {text: normal_kind(text) or None for text in set(k)}
        kind = list(map(kinds.get, k))
    try:
        amount = [float(a) if a else "" for a in amount_text]
        # '' (no amount) is falsy, so only floats remain; 0.0 drops out too, harmlessly
        numbers = cast(list[float], list(filter(None, amount)))
        amounts_ok = not numbers or (math.isfinite(sum(numbers)) and min(numbers) > -1e15 and max(numbers) < 1e15)
    except ValueError:
        amount, amounts_ok = list(amount_text), False

    # Which records the look-ups did not settle: redo those one by one.
    redo: set[int] = set(broken := batch.broken)
    if None in user_id:
        redo.update(j for j, u in enumerate(user_id) if u is None)
    if min(at) < 0:
        redo.update(j for j, t in enumerate(at) if t < 0)
    if None in kind:
        redo.update(j for j, x in enumerate(kind) if x is None)
    if not amounts_ok:
        redo.update(range(n))  # rare (a currency sign, an out-of-range amount): re-check the whole batch
    keep = None
    if redo:
        keep = [True] * n
        for j in redo:
            if j in broken:
                keep[j] = False
                continue
            try:
                user_id[j], kind[j], at[j], a = _one(values[j], fixed_kind, users, parse_time)
            except ValueError:
                keep[j] = False
                continue
            amount[j] = "" if a is None else a
    texts = [_stripped(column) for column in (category, obj, source, coupon)]
    attributes = batch.attributes  # encoded by the reader when it could (see reading.Source._finish_csv)
    if attributes is None and batch.extras is not None and any(batch.extras):
        attributes = [encode_attributes(e) if e else None for e in batch.extras]
    columns: list[Any] = [user_id, kind, at, amount, *texts, attributes]   # EventColumns' fields, in order
    if keep is not None and not all(keep):
        columns = [None if c is None else list(compress(c, keep)) for c in columns]
    checked = EventColumns(*columns)
    if hashed:
        checked.add_fingerprints()
    return checked, len(checked)


def _stripped(column: tuple[str, ...]) -> list[str]:
    """The column's texts stripped, each distinct text one object (categories, sources: a handful of values in
    20,000 cells): stripping each distinct text once costs less than stripping every cell, and pickle then sends
    each text once to the writer process (unpickling 20,000 copies cost twice the sharing)."""
    stripped = {text: text.strip() for text in set(column)}
    return list(map(stripped.__getitem__, column))


def _one(values: tuple, fixed_kind: str | None, users: UserIds, parse_time: TimeParser
         ) -> tuple[int, str, int, float | None]:
    """(user_id, kind, at, amount) of one record the column-wise look-ups missed, or ValueError."""
    ext, k, at_text, amount_text = values[:4]
    try:
        amount = float(amount_text) if amount_text else None
        if amount is not None and not -1e15 < amount < 1e15:
            raise ValueError
        kind = fixed_kind or normal_kind(k)
        if not kind:
            raise ValueError
        return users[ext.strip()], kind, parse_time(at_text.strip()), amount
    except (KeyError, ValueError):
        return _careful(values, fixed_kind, users, parse_time)


def _careful(values: tuple, fixed_kind: str | None, users: UserIds, parse_time: TimeParser
             ) -> tuple[int, str, int, float | None]:
    """(user_id, kind, at, amount) of a record, or ValueError: the slow path of check_batch."""
    if _diagnose(values, fixed_kind, users, parse_time):
        raise ValueError
    ext, k, at_text, amount_text = values[:4]
    amount = parse_amount(amount_text.strip()) if amount_text.strip() else None
    return users[ext.strip()], fixed_kind or normal_kind(k), parse_time(at_text.strip()), amount


def find_bad(batch, fixed_kind, users, parse_time) -> list[tuple[int, list[tuple[str, str]], Any]]:
    """The records check_batch left out, each with what is wrong with it: (line, problems, raw)."""
    bad = []
    for j, values in enumerate(batch.values):
        if values is None:
            bad.append((batch.lines[j], batch.broken[j], batch.raws[j]))
            continue
        found = _diagnose(values, fixed_kind, users, parse_time)
        if found:
            bad.append((batch.lines[j], found, batch.raws[j]))
    return bad


def normal_kind(text: str) -> str:
    return text.strip().lower()


def _diagnose(values: tuple, fixed_kind: str | None, users: UserIds, parse_time: TimeParser
              ) -> list[tuple[str, str]]:
    """The slow path for a record the fast path refused: every problem, by column."""
    ext, k, at_text, amount_text = values[:4]
    found: list[tuple[str, str]] = []
    if not ext.strip():
        found.append(("user_id", "empty; every event needs the user's external id"))
    elif ext.strip() not in users:
        found.append(("user_id", f"no user with external id {ext.strip()!r}; import users first"))
    if not fixed_kind and not normal_kind(k):
        found.append(("kind", "empty; give the event kind (visit, order, …) or pass --kind"))
    if not at_text.strip():
        found.append(("at", "empty; every event needs a time"))
    else:
        try:
            parse_time(at_text.strip())
        except ValueError as exc:
            found.append(("at", str(exc)))
    if amount_text.strip():
        try:
            parse_amount(amount_text.strip())
        except ValueError as exc:
            found.append(("amount", str(exc)))
    return found
