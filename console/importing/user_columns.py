"""A batch of users records checked column by column: the hot loop of a users import.

RowValidator (console.importing.user_checks) checks one record at a time; here the same checks run over each
column at once with C-level maps (str.strip, dictionary look-ups for time zones, consent words and the time
parser's hour cache, one scan of a batch's push tokens), and only the phone and email parsers are called cell by
cell. Any record the column-wise pass is not sure of (an empty or long id, a long cell, a phone, email, time zone,
time, consent word or push token it could not read) is checked again one by one by RowValidator, which decides — so
both paths accept exactly the same records with the same values, and a refused record gets RowValidator's messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from itertools import compress, repeat
from operator import add, getitem
from typing import Any

from console.channel_names import CHANNELS
from console.importing.batch import Batch
from console.importing.bulk_cells import emails
from console.importing.reading import encode_attributes
from console.importing.user_tokens import tokens
from console.importing.values import MINUTES, MISSING

Bad = tuple[int, list[tuple[str, str]], Any]  # (line, problems, the record as read)

_FIRST14 = repeat(slice(None, 14))
_REST = repeat(slice(14, None))
_cut: Callable[[str, slice], str] = getitem
_strip: Callable[[str], str] = str.strip
_TEXT = (1, 4, 5, 6, 7, 9)  # name, region, gender, age_band, occupation, locale: kept as written, stripped
# Where user_checks.USER_COLUMNS has the push token and the consent cells (it checks these against its own).
PUSH_TOKEN = 11
FIRST_CONSENT = 12
_CONSENTS = tuple(range(FIRST_CONSENT, FIRST_CONSENT + len(CHANNELS)))  # one per channel (channel_names order)
_FAILED = object()


def check_columns(batch: Batch, validate: Any, positions: Sequence[int], now: int, max_text: int,
                  consent_cells: dict[str, str | None], unknown: object,
                  consent_columns: Sequence[int] = _CONSENTS) -> tuple[list[tuple], int, list[Bad]]:
    """(the valid records as columns — external id, the profile columns at *positions*, attributes, updated_at,
    the consent statuses of *consent_columns* (the file's, in USER_COLUMNS order) —, how many, the invalid
    records). *validate* is a RowValidator."""
    values = batch.values
    bad: list[tuple[int, Bad]] = [(j, (batch.lines[j], batch.broken[j], batch.raws[j]))
                                  for j, v in enumerate(values) if v is None]
    rows = [v for v in values if v is not None]
    at: Sequence[int] = [j for j, v in enumerate(values) if v is not None] if bad else range(len(values))
    n = len(rows)
    if n == 0:
        return [], 0, [b for _, b in bad]
    raw = list(zip(*rows, strict=True))
    text = [list(map(_strip, raw[i])) for i in range(PUSH_TOKEN)]
    unsure: set[int] = set()

    ids = text[0]
    if "" in ids or max(map(len, ids)) > 200:
        unsure.update(j for j, e in enumerate(ids) if not e or len(e) > 200)
    if batch.longest is None or batch.longest > max_text:  # the reader's bound spares a look at every cell
        for cells in raw:
            if max(map(len, cells)) > max_text:
                unsure.update(j for j, v in enumerate(cells) if len(v) > max_text)
    # Texts kept as written (stripped; None where empty). Phones, emails, zones and times are filled in below.
    clean: list[list[Any]] = [ids, *([v or None for v in text[i]] if i in _TEXT and "" in text[i] else text[i]
                                     for i in range(1, PUSH_TOKEN))]
    # Only a file with the column pays for it: without one, no position of the upsert's is the push token's.
    clean.append(tokens(list(map(_strip, raw[PUSH_TOKEN])), unsure) if PUSH_TOKEN in positions else [None] * n)
    clean[2] = _parsed(text[2], validate.phone, unsure, validate.phones.parse)
    clean[3] = _parsed(text[3], validate.email, unsure, partial(emails, validate.email))
    zones = {z: validate.zone_or(z, _FAILED) if z else None for z in set(text[8])}
    clean[8] = list(map(zones.get, text[8]))
    if _FAILED in zones.values():
        unsure.update(j for j, z in enumerate(clean[8]) if z is _FAILED)
    clean[10] = _times(text[10], validate.time, unsure)
    # Only the file's consent columns are read: an absent one (all '') would cost a look-up per user for nothing.
    consents: list[list[Any]] = [list(map(consent_cells.get, raw[i], repeat(unknown))) for i in consent_columns]
    for statuses in consents:
        if unknown in statuses:
            unsure.update(j for j, c in enumerate(statuses) if c is unknown)
    extras = batch.extras
    if extras is not None and bad:
        extras = [extras[j] for j in at]
    attributes: list[str | None]
    if batch.attributes is not None:  # encoded by the reader (never with unreadable records, see reading)
        attributes = list(batch.attributes)
    else:
        attributes = [encode_attributes(e) if e else None for e in extras] if extras is not None else [None] * n

    keep = None
    for j in sorted(unsure):  # RowValidator decides
        row_clean, row_consents, found = validate(rows[j])
        if found:
            keep = keep or [True] * n
            keep[j] = False
            bad.append((at[j], (batch.lines[at[j]], found, batch.raws[at[j]])))
            continue
        for i in range(FIRST_CONSENT):
            clean[i][j] = row_clean[i]
        for statuses, i in zip(consents, consent_columns, strict=True):
            statuses[j] = row_consents[i - FIRST_CONSENT]
    columns = [clean[0], *(clean[p] for p in positions), attributes, [now] * n, *consents]
    if keep is not None:
        columns = [list(compress(c, keep)) for c in columns]
    bad.sort(key=lambda item: item[0])
    return [tuple(c) for c in columns], len(columns[0]), [b for _, b in bad]


def _parsed(column: list[str], parse: Callable[[str], str], unsure: set[int],
            parse_all: Callable[[list[str]], list[str] | None]) -> list[str | None]:
    """Each non-empty cell parsed (None where empty); a cell the parser refuses is noted as unsure. *parse_all*
    (console.importing.bulk_cells) reads the whole column at once when every cell is the usual shape."""
    filled = list(filter(None, column))
    if len(filled) == len(column):
        done = parse_all(column)
        if done is not None:
            return list(done)
    elif filled:
        done = parse_all(filled)
        if done is filled:  # every cell as written (emails of lower-case domains): no iterator to step through
            return [cell or None for cell in column]
        if done is not None:
            values = iter(done)
            return [next(values) if cell else None for cell in column]
    out: list[str | None] = [None] * len(column)
    for j, cell in enumerate(column):
        if cell:
            try:
                out[j] = parse(cell)
            except ValueError:
                unsure.add(j)
    return out


def _times(column: list[str], parse_time: Any, unsure: set[int]) -> list[int | None]:
    """The time parser's hour cache over the whole column (None where empty); what it misses is unsure."""
    keys = list(map(_cut, column, _FIRST14))  # "YYYY-MM-DD HH:", cut once for both uses
    hours = set(keys)
    if not hours.issubset(parse_time.hours):
        parse_time.learn_hours(hours)
    out: list[Any] = list(map(add, map(parse_time.hours.get, keys, repeat(MISSING)),
                              map(MINUTES.get, map(_cut, column, _REST), repeat(MISSING))))
    if min(out) < 0:
        for j, value in enumerate(out):
            if value < 0:
                if column[j]:
                    unsure.add(j)
                else:
                    out[j] = None
    return out
