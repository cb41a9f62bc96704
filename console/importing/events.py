"""`winback import events FILE`: activity (visits, logins, orders, clicks, …) per user, deduplicated.

Staged (issue 17): each record is validated and, while the file is clean so far, appended to a side database
(console.importing.staging) — without touching the main database, so sends and console actions never wait for
the reading. Any invalid record stops the staging (validation continues, to report every error) and the side
file is dropped, so a bad file changes nothing. A clean file is then copied in with one INSERT … SELECT in one
short transaction (the swap). Re-imports add nothing: an event's fingerprint (a hash of its normalised content)
is part of the unique key (user_id, at, fingerprint).

Identical lines in one file are separate events (two same-day purchases of the same amount are two purchases):
the second, third, … of them get the fingerprints occurrence_fingerprint(first, 1), (first, 2), …, so a file
keys each event by its content and its number among the identical lines of that file — and importing the file
again, or another file holding the same lines, stores each occurrence once. A line with an `event_id` (kept as
an attribute, and so hashed) is identified by it instead: the same id twice is one event.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import sys
import time
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, repeat
from operator import add, getitem
from pathlib import Path
from typing import Any, cast

import sqlite_utils

from console.audit import record
from console.config import Config
from console.errors import BadInput, WinbackError
from console.importing import pipeline, staging
from console.importing.mappings import Rewrite, SavedMapping, check_columns
from console.importing.problems import ImportResult, Problems
from console.importing.reading import Source, encode_attributes, no_cyclic_gc
from console.importing.values import MINUTES, MISSING, TimeParser, parse_amount

EVENT_COLUMNS = ("user_id", "kind", "at", "amount", "category", "object", "source", "coupon_code")
BATCH = 20_000
INDEX_BUILD_CACHE_KIB = -8_192
SWAP_CACHE_KIB = -16_384
BULK_MIN_ROWS = 200_000  # from this many staged rows, sort them in index order before the swap
OPTIONAL = ("amount", "category", "object", "source", "coupon_code", "attributes")


def event_fingerprint(
    user_id: int,
    kind: str,
    at: int,
    amount: float | None = None,
    category: str | None = None,
    object: str | None = None,
    source: str | None = None,
    coupon_code: str | None = None,
    attributes: str | None = None,
    *,
    occurrence: int = 0,
) -> int:
    """A stable signed 64-bit hash of a normalised event (fields joined by U+001F, None as '').

    Anything that writes events should use it, so that the same event recorded twice is stored once.
    Attributes (a JSON text with sorted keys) only take part when present, so an event without them hashes
    the same as fixtures.demo's fingerprint of the same eight fields. *occurrence* numbers identical events
    from one source (0 for the first): see occurrence_fingerprint.
    """
    text = (
        f"{user_id}\x1f{kind}\x1f{at}\x1f{'' if amount is None else amount}\x1f{category or ''}\x1f"
        f"{object or ''}\x1f{source or ''}\x1f{coupon_code or ''}"
    )
    if attributes is not None:
        text += "\x1f" + attributes
    first = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)
    return occurrence_fingerprint(first, occurrence) if occurrence else first


def occurrence_fingerprint(first: int, occurrence: int) -> int:
    """The fingerprint of the *occurrence*-th repeat (1, 2, …) of an event whose first has fingerprint *first*.

    A function of the first's fingerprint, not of the content, so that repeats can be numbered from stored rows.
    """
    text = f"{first}\x1f{occurrence}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


EVENT_ID_KEY = '"event_id":'  # in an event's attributes text (compact JSON): the line carries its own id


def import_events(
    db: sqlite_utils.Database,
    path: str | Path,
    *,
    config: Config,
    kind: str | None = None,
    mapping: dict[str, str] | None = None,
    encoding: str = "auto",
    fmt: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    phase: staging.Phase | None = None,
    saved: SavedMapping | None = None,
) -> ImportResult:
    """Validate and import an events file. Raises BadInput (nothing written) when a row is invalid,
    unless *skip_invalid*, which imports the valid rows and writes the rejects beside the file.
    *phase* is told when the import moves on: staging.STAGING (reading, checking, staging), then
    staging.SWAPPING (the short transaction that holds the database's write lock). *saved* is a saved mapping
    (console.importing.mappings): its columns, kind and encoding are defaults for *mapping*, *kind*, *encoding*."""
    rewrite = None
    if saved is not None:
        mapping = {**saved.columns, **(mapping or {})}
        kind = kind or saved.kind
        encoding = saved.encoding if encoding == "auto" and saved.encoding else encoding
        rewrite = Rewrite.of(saved, EVENT_COLUMNS)
    with no_cyclic_gc():
        return _import_events(db, path, config=config, kind=kind, mapping=mapping, encoding=encoding, fmt=fmt,
                              dry_run=dry_run, skip_invalid=skip_invalid, progress=progress, phase=phase,
                              rewrite=rewrite)


def _import_events(db, path, *, config, kind, mapping, encoding, fmt, dry_run, skip_invalid, progress, phase,
                   rewrite=None) -> ImportResult:
    started = time.monotonic()
    path = Path(path)
    fixed_kind = _normal_kind(kind) if kind else None
    if kind and not fixed_kind:
        raise BadInput(f"--kind {kind!r}: give a word such as visit, login, order or click")
    src = Source(
        path, known=EVENT_COLUMNS, required=("user_id", "at") if fixed_kind else ("user_id", "kind", "at"),
        mapping=mapping or {}, encoding=encoding, format=fmt,
    )
    assert src.format is not None  # Source detects it when not given
    src.close()
    check_columns(rewrite, src)
    result = ImportResult(kind="events", file=str(path), dry_run=dry_run)
    problems = Problems(path, src.format, result, write_rejects=skip_invalid and not dry_run,
                        mapping=src.mapping)
    conn = db.conn
    db_path = conn.execute("PRAGMA database_list").fetchone()[2]
    spec = _Spec(path=path, encoding=src.encoding, format=src.format, mapping=src.mapping,
                 fixed_kind=fixed_kind, timezone=config.timezone, db_path=db_path, batch=BATCH,
                 hash_here=src.size < pipeline.PIPELINE_MIN_BYTES, rewrite=rewrite)
    stage = None if dry_run else _Stage(conn, db_path)
    checked = None
    try:
        # Read without any lock held: the users table as it is now (see _Stage.swap for users that change later).
        local = () if src.size >= pipeline.PIPELINE_MIN_BYTES else (
            dict(conn.execute("SELECT external_id, id FROM users")),)
        checked = pipeline.checked_batches(_checked_batches, spec, size=src.size, local=local)
        if phase:
            phase(staging.STAGING)
        for item in checked:
            result.rows += item.rows
            result.valid += item.valid
            result.filtered += item.filtered
            for line, found, raw in item.bad:
                problems.row(line, found, raw, src.raw_header)
            if stage is not None:
                staging.pause_point("validate")
                if item.bad and not skip_invalid:
                    stage.stop()
                stage.write(item.events)
                staging.pause_point("load")
            if progress:
                progress(item.position, src.size)
        if result.error_count and not skip_invalid:
            problems.raise_if_any()
        if stage is not None:
            stage.prepare()
            if phase:
                phase(staging.SWAPPING)

            def audit(inserted: int) -> None:
                record(db, "import.events", file=str(path.resolve()), rows=result.rows, inserted=inserted,
                       already_present=result.valid - inserted, invalid=result.invalid,
                       rejects=result.rejects_file, filtered=result.filtered,
                       mapping=rewrite.name if rewrite is not None else None)

            result.inserted = stage.swap(audit)
            result.unchanged = result.valid - result.inserted
            result.swap_seconds = stage.swap_seconds
            problems.remove_stale_rejects()
    finally:
        if checked is not None:
            checked.close()
        problems.close()
        if stage is not None:
            stage.discard()
    if progress:
        progress(src.size, src.size)
    result.seconds = round(time.monotonic() - started, 3)
    return result


@dataclass
class _Spec:
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
class _Checked:
    """One batch, checked: its valid events as columns, and the bad records with their problems."""

    rows: int
    valid: int
    events: _Columns
    bad: list[tuple[int, list[tuple[str, str]], Any]]
    position: int
    filtered: int = 0  # records the saved mapping's `where` left out


def _checked_batches(spec: _Spec, users: dict[str, int] | None = None) -> Generator[_Checked, None, None]:
    """Read and check the file batch by batch (in this process or the reader process)."""
    if users is None:
        from storage.db import connect

        db = connect(spec.db_path)
        try:
            users = dict(db.conn.execute("SELECT external_id, id FROM users"))
        finally:
            db.close()
    src = Source(spec.path, known=EVENT_COLUMNS, mapping=spec.mapping, encoding=spec.encoding, format=spec.format,
                 rewrite=spec.rewrite)
    parse_time = TimeParser(spec.timezone)
    for batch in src.batches(spec.batch):
        events, valid = _check_batch(batch, spec.fixed_kind, users, parse_time, hashed=spec.hash_here)
        bad = []
        if valid < len(batch.values):
            bad = _find_bad(batch, spec.fixed_kind, users, parse_time)
        yield _Checked(len(batch.values), valid, events, bad, src.position(), batch.filtered)


class _Stage:
    """The valid events of an import, staged in a side database (console.importing.staging) while the file is
    read and checked, then copied into the main database in one short transaction (swap).

    Nothing is written to the main database before the swap, so other writers never wait for the reading. The
    swap inserts in the order of the events indexes (user_id, at, …) when the file is large: each index page
    is then written once, where file order (time, users at random) would land every row on a different page.
    """

    def __init__(self, conn: sqlite3.Connection, db_path: str) -> None:
        self.conn = conn
        self.writing = True
        self.rows = 0
        self.swap_seconds = 0.0
        staging.clean_stale(db_path)
        self.path = staging.side_path(db_path)
        side, lock = staging.open_side(self.path)
        self.side: sqlite3.Connection | None = side
        self._lock: int | None = lock  # the flock that tells other imports this side file is alive
        self.side.execute(f"CREATE TABLE staged ({_STAGED_COLUMNS})")
        self.table = "staged"
        # Each batch's fingerprints (numpy), to number identical lines of a small file (None: a large one).
        self._seen: list[Any] | None = []
        # Users are never deleted today; should one be while the file is read, the swap notices (see swap).
        self._users = conn.execute("SELECT count(*), max(id) FROM users").fetchone()

    def stop(self) -> None:
        """A bad row (without --skip-invalid): check the rest of the file, stage nothing more."""
        self.writing = False

    def write(self, events: _Columns) -> None:
        """Append a batch to the side table, 90 rows per statement: one statement step per row costs a third more."""
        if not self.writing or not len(events):
            return
        assert self.side is not None
        params = list(chain.from_iterable(events.rows()))
        step = _PER_STATEMENT * 10
        whole = len(params) - len(params) % step
        self.side.execute("BEGIN")
        self.side.executemany(_STAGE_MANY, (params[i:i + step] for i in range(0, whole, step)))
        if whole < len(params):
            self.side.execute(_STAGE + ", ".join([_VALUES] * ((len(params) - whole) // 10)), params[whole:])
        self.side.execute("COMMIT")
        self.rows += len(events)
        if self._seen is not None:
            self._seen.append(_countable(events))
            if self.rows >= BULK_MIN_ROWS:
                self._seen = None  # a large file: repeats are found in its sorted copy (memory stays flat)

    def prepare(self) -> None:
        """Number identical lines and, for a large file, sort the rows in index order — still outside the main
        database's lock."""
        assert self.side is not None
        self.side.execute("BEGIN")
        if self._seen:
            self._number_repeats(_repeated(self._seen))
            self._seen = []
        if self.rows >= BULK_MIN_ROWS:
            self.side.execute(f"CREATE TABLE ready AS SELECT {_COLUMNS} FROM staged"
                              " ORDER BY user_id, at, fingerprint, rowid")
            self.side.execute("DROP TABLE staged")
            self.table = "ready"
            self._number_sorted_repeats()
        self.side.execute("COMMIT")

    def _number_sorted_repeats(self) -> None:
        """A large file's repeats, found in its sorted copy: identical lines are neighbours there (rowids 1…N in
        index order, file order among equals), so one pass joining each row to the next finds them without
        holding every fingerprint in memory."""
        assert self.side is not None
        pairs = self.side.execute(
            f"""
            SELECT a.rowid, b.rowid, b.fingerprint FROM ready a JOIN ready b ON b.rowid = a.rowid + 1
            WHERE b.user_id = a.user_id AND b.at = a.at AND b.fingerprint = a.fingerprint
              AND (b.attributes IS NULL OR instr(b.attributes, '{EVENT_ID_KEY}') = 0)
            ORDER BY a.rowid
            """).fetchall()
        renumbered = []
        run_of: dict[int, int] = {}  # rowid → its number among identical neighbours (the first is 0)
        for first, second, fingerprint in pairs:
            n = run_of[second] = run_of.get(first, 0) + 1
            renumbered.append((occurrence_fingerprint(fingerprint, n), second))
        self.side.executemany("UPDATE ready SET fingerprint = ? WHERE rowid = ?", renumbered)

    def _number_repeats(self, counts: dict[int, int]) -> None:
        """Give the 2nd, 3rd, … of identical lines (same content, no event id) the fingerprints
        occurrence_fingerprint(first, 1), (first, 2), … in file order. The numbers count lines of this file only:
        the swap's INSERT OR IGNORE then skips each occurrence already stored, whatever was added meanwhile."""
        if not counts:
            return
        assert self.side is not None
        self.side.execute("CREATE TEMP TABLE repeats (fingerprint INTEGER PRIMARY KEY)")
        self.side.executemany("INSERT INTO temp.repeats VALUES (?)", [(fp,) for fp in counts])
        seen: dict[int, int] = {}
        renumbered = []
        for rowid, fp in self.side.execute("SELECT rowid, fingerprint FROM staged WHERE fingerprint IN"
                                           " (SELECT fingerprint FROM temp.repeats) ORDER BY rowid"):
            n = seen[fp] = seen.get(fp, -1) + 1
            if n:
                renumbered.append((occurrence_fingerprint(fp, n), rowid))
        self.side.executemany("UPDATE staged SET fingerprint = ? WHERE rowid = ?", renumbered)
        self.side.execute("DROP TABLE temp.repeats")

    def swap(self, audit: Callable[[int], None]) -> int:
        """Copy the staged events into the main database in one transaction; return how many were added (those
        already stored — by an earlier import, or by one that ran meanwhile — are skipped by the unique key)."""
        assert self.side is not None
        self.side.close()
        self.side = None
        conn = self.conn
        # Every user_id was looked up in `users` (checked again below if users changed): the per-row foreign key
        # look-up would only repeat it. Sorted inserts touch each index page about once: a small cache does (and
        # leaves the memory alone).
        with staging.swap_in(conn, self.path, {"foreign_keys": "OFF", "cache_size": SWAP_CACHE_KIB}) as clock:
            self._check_users()
            before = conn.total_changes
            # In file order for a small file; a large one was sorted in index order by prepare().
            conn.execute(f"INSERT OR IGNORE INTO main.events ({_COLUMNS})"
                         f" SELECT {_COLUMNS} FROM staging.{self.table} ORDER BY rowid")
            added = conn.total_changes - before
            audit(added)
        self.swap_seconds = clock.seconds
        return added

    def _check_users(self) -> None:
        """Inside the swap: when users changed since the file was checked, every staged event's user must still
        exist (a new user changes nothing; a deleted one would leave events pointing nowhere)."""
        if self.conn.execute("SELECT count(*), max(id) FROM main.users").fetchone() == self._users:
            return
        missing = self.conn.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT user_id FROM staging.{self.table})"
            " WHERE user_id NOT IN (SELECT id FROM main.users)").fetchone()[0]
        if missing:
            raise WinbackError(f"{missing:,} user(s) of this file were deleted while it was being checked; nothing "
                               "was imported. Run the import again.")

    def discard(self) -> None:
        """Close and remove the side file (after the swap, a refusal or an interruption)."""
        if self.side is not None:
            self.side.close()
            self.side = None
        if self._lock is not None:
            staging.remove(self.path, self._lock)
            self._lock = None


def _countable(events: _Columns) -> Any:
    """The fingerprints of a batch's events that are counted as identical lines (not those with an event id)."""
    import numpy as np

    if events.packed is not None:
        fingerprints = np.frombuffer(events.packed, dtype=np.int64)  # no copy: keeps the array alive
    else:
        fingerprints = np.array(events.fingerprint, dtype=np.int64)
    if events.attributes is not None:
        fingerprints = fingerprints[[a is None or EVENT_ID_KEY not in a for a in events.attributes]]
    return fingerprints


def _repeated(seen: list[Any]) -> dict[int, int]:
    """{fingerprint: how many lines of the file hold it} for the events on more than one line."""
    import numpy as np

    values, counts = np.unique(np.concatenate(seen), return_counts=True)
    repeated = counts > 1
    return dict(zip(values[repeated].tolist(), counts[repeated].tolist(), strict=True))


_FIELD_SEP = "\x1f"
# The text event_fingerprint hashes, for eight columns at once (str.format of a float is its repr, as in an
# f-string; a missing amount is '' here and NULL in the database).
_FINGERPRINT_TEXT = _FIELD_SEP.join(["{}"] * 8).format
_HASH8 = partial(hashlib.blake2b, digest_size=8)
_DIGEST = hashlib.blake2b.digest
_FIRST14 = repeat(slice(None, 14))
_REST = repeat(slice(14, None))
# operator.getitem and str.strip as the one signature used here (mypy cannot pick among their overloads in map)
_cut: Callable[[str, slice], str] = getitem
_strip: Callable[[str], str] = str.strip
_VALUES = "(?, ?, ?, nullif(?, ''), nullif(?, ''), nullif(?, ''), nullif(?, ''), nullif(?, ''), ?, ?)"
_PER_STATEMENT = 90  # rows per INSERT: 900 parameters, under SQLite's oldest limit of 999
_COLUMNS = "user_id, kind, at, amount, category, object, source, coupon_code, attributes, fingerprint"
_STAGED_COLUMNS = ("user_id INTEGER, kind TEXT, at INTEGER, amount REAL, category TEXT, object TEXT, source TEXT,"
                   " coupon_code TEXT, attributes TEXT, fingerprint INTEGER")
_STAGE = f"INSERT INTO staged ({_COLUMNS}) VALUES "
_STAGE_MANY = _STAGE + ", ".join([_VALUES] * _PER_STATEMENT)


@dataclass
class _Columns:
    """The valid events of a batch, column by column (lists of equal length), ready for INSERT_SQL.

    Empty text (and a missing amount) is '' — SQL's nullif stores NULL — so that the hot path needs no
    per-row Python. Columns pickle much faster than rows of tuples when sent between processes.
    """

    user_id: list[int]
    kind: list[str]
    at: list[int]
    amount: list[float | str]
    category: list[str]
    object: list[str]
    source: list[str]
    coupon_code: list[str]
    attributes: list[str | None] | None  # None: no event in the batch has attributes
    fingerprint: list[int] | None = None  # None: not computed yet (see add_fingerprints)
    packed: array | None = None  # the same, as machine integers (for counting identical lines without a copy)

    def __len__(self) -> int:
        return len(self.user_id)

    def add_fingerprints(self) -> None:
        """Each row's event_fingerprint, computed with C-level maps (no Python bytecode per row)."""
        if self.fingerprint is not None:
            return
        texts: Iterable[str] = map(_FINGERPRINT_TEXT, self.user_id, self.kind, self.at, self.amount, self.category,
                    self.object, self.source, self.coupon_code)
        if self.attributes is not None:
            texts = [t if a is None else t + _FIELD_SEP + a for t, a in zip(texts, self.attributes, strict=True)]
        # Eight big-endian bytes per event, read at once as signed 64-bit integers.
        numbers = array("q", b"".join(map(_DIGEST, map(_HASH8, map(str.encode, texts)))))
        if sys.byteorder == "little":
            numbers.byteswap()
        self.fingerprint = numbers.tolist()
        self.packed = numbers

    def rows(self) -> Iterator[tuple]:
        self.add_fingerprints()
        assert self.fingerprint is not None  # just computed
        attributes = self.attributes if self.attributes is not None else [None] * len(self)
        return zip(self.user_id, self.kind, self.at, self.amount, self.category, self.object, self.source,
                   self.coupon_code, attributes, self.fingerprint, strict=True)


_BROKEN = ("",) * len(EVENT_COLUMNS)


def _check_batch(batch, fixed_kind: str | None, users: dict[str, int], parse_time: TimeParser,
                 hashed: bool = True) -> tuple[_Columns, int]:
    """The valid records of the batch as columns (invalid ones are left out), and how many there are.
    Without *hashed*, the fingerprints are left for the writer (_Columns.add_fingerprints).

    The hot loop of an events import, done column-wise with C-level maps: a dictionary look-up per cell
    for users, kinds and times (the time parser's hour cache), float() for amounts, str.strip for text.
    Records those look-ups miss (spaces, other time formats, unknown users, a new hour) are redone one by
    one on the careful path, which accepts the same inputs and leaves out the invalid ones.
    """
    values = batch.values
    n = len(values)
    if n == 0:
        return _Columns([], [], [], [], [], [], [], [], None, []), 0
    if batch.broken:
        values = [_BROKEN if v is None else v for v in values]
    ext, k, at_text, amount_text, category, obj, source, coupon = zip(*values, strict=True)
    user_id = list(map(users.get, ext))
    hours = set(map(_cut, at_text, _FIRST14))
    if not hours.issubset(parse_time.hours):
        parse_time.learn_hours(hours)
    at = list(map(add, map(parse_time.hours.get, map(_cut, at_text, _FIRST14), repeat(MISSING)),
                  map(MINUTES.get, map(_cut, at_text, _REST), repeat(MISSING))))
    kind: list[str | None]   # None: not a kind word, redone on the careful path
    if fixed_kind:
        kind = [fixed_kind] * n
    else:
        kinds = {text: _normal_kind(text) or None for text in set(k)}
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
    texts = [list(map(_strip, column)) for column in (category, obj, source, coupon)]
    attributes = None
    if batch.extras is not None and any(batch.extras):
        attributes = [encode_attributes(e) if e else None for e in batch.extras]
    columns: list[Any] = [user_id, kind, at, amount, *texts, attributes]   # _Columns' fields, in order
    if keep is not None and not all(keep):
        columns = [None if c is None else list(compress(c, keep)) for c in columns]
    checked = _Columns(*columns)
    if hashed:
        checked.add_fingerprints()
    return checked, len(checked)


def _one(values: tuple, fixed_kind: str | None, users: dict[str, int], parse_time: TimeParser
         ) -> tuple[int, str, int, float | None]:
    """(user_id, kind, at, amount) of one record the column-wise look-ups missed, or ValueError."""
    ext, k, at_text, amount_text = values[:4]
    try:
        amount = float(amount_text) if amount_text else None
        if amount is not None and not -1e15 < amount < 1e15:
            raise ValueError
        kind = fixed_kind or _normal_kind(k)
        if not kind:
            raise ValueError
        return users[ext.strip()], kind, parse_time(at_text.strip()), amount
    except (KeyError, ValueError):
        return _careful(values, fixed_kind, users, parse_time)


def _careful(values: tuple, fixed_kind: str | None, users: dict[str, int], parse_time: TimeParser
             ) -> tuple[int, str, int, float | None]:
    """(user_id, kind, at, amount) of a record, or ValueError: the slow path of _check_batch."""
    if _diagnose(values, fixed_kind, users, parse_time):
        raise ValueError
    ext, k, at_text, amount_text = values[:4]
    amount = parse_amount(amount_text.strip()) if amount_text.strip() else None
    return users[ext.strip()], fixed_kind or _normal_kind(k), parse_time(at_text.strip()), amount


def _find_bad(batch, fixed_kind, users, parse_time) -> list[tuple[int, list[tuple[str, str]], Any]]:
    """The records _check_batch left out, each with what is wrong with it: (line, problems, raw)."""
    bad = []
    for j, values in enumerate(batch.values):
        if values is None:
            bad.append((batch.lines[j], batch.broken[j], batch.raws[j]))
            continue
        found = _diagnose(values, fixed_kind, users, parse_time)
        if found:
            bad.append((batch.lines[j], found, batch.raws[j]))
    return bad


def _normal_kind(text: str) -> str:
    return text.strip().lower()


def _diagnose(values: tuple, fixed_kind: str | None, users: dict[str, int], parse_time: TimeParser
              ) -> list[tuple[str, str]]:
    """The slow path for a record the fast path refused: every problem, by column."""
    ext, k, at_text, amount_text = values[:4]
    found: list[tuple[str, str]] = []
    if not ext.strip():
        found.append(("user_id", "empty; every event needs the user's external id"))
    elif ext.strip() not in users:
        found.append(("user_id", f"no user with external id {ext.strip()!r}; import users first"))
    if not fixed_kind and not _normal_kind(k):
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
