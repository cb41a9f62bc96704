"""`winback import events FILE`: activity (visits, logins, orders, clicks, …) per user, deduplicated.

One pass over the file inside one write transaction: each record is validated and, while the file is clean so
far, inserted in large batches. Any invalid record stops the writing (validation continues, to report every
error) and the transaction is rolled back, so a bad file changes nothing. Re-imports add nothing: an event's
fingerprint (a hash of its normalised content) is part of the unique key (user_id, at, fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from console.audit import record
from console.config import Config
from console.importing.problems import ImportResult, Problems
from console.importing.reading import Source
from console.importing.values import MINUTES, MISSING, TimeParser, parse_amount

EVENT_COLUMNS = ("user_id", "kind", "at", "amount", "category", "object", "source", "coupon_code")
BATCH = 20_000
BULK_MIN_ROWS = 200_000  # below this, rebuilding indexes costs more than it saves

INSERT_SQL = (
    "INSERT OR IGNORE INTO events (user_id, kind, at, amount, category, object, source, coupon_code, attributes,"
    " fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


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
) -> int:
    """A stable signed 64-bit hash of a normalised event (fields joined by U+001F, None as '').

    Anything that writes events should use it, so that the same event recorded twice is stored once.
    Attributes (a JSON text with sorted keys) only take part when present, so an event without them hashes
    the same as fixtures.demo's fingerprint of the same eight fields.
    """
    text = (
        f"{user_id}\x1f{kind}\x1f{at}\x1f{'' if amount is None else amount}\x1f{category or ''}\x1f"
        f"{object or ''}\x1f{source or ''}\x1f{coupon_code or ''}"
    )
    if attributes is not None:
        text += "\x1f" + attributes
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


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
) -> ImportResult:
    """Validate and import an events file. Raises BadInput (nothing written) when a row is invalid,
    unless *skip_invalid*, which imports the valid rows and writes the rejects beside the file."""
    started = time.monotonic()
    path = Path(path)
    fixed_kind = _normal_kind(kind) if kind else None
    if kind and not fixed_kind:
        from console.errors import BadInput

        raise BadInput(f"--kind {kind!r}: give a word such as visit, login, order or click")
    src = Source(
        path, known=EVENT_COLUMNS, required=("user_id", "at") if fixed_kind else ("user_id", "kind", "at"),
        mapping=mapping or {}, encoding=encoding, format=fmt,
    )
    result = ImportResult(kind="events", file=str(path), dry_run=dry_run)
    problems = Problems(path, src.format, result, write_rejects=skip_invalid and not dry_run)
    conn = db.conn
    users: dict[str, int] = dict(conn.execute("SELECT external_id, id FROM users"))
    parse_time = TimeParser(config.timezone)
    existing = conn.execute("SELECT max(id) FROM events").fetchone()[0] or 0  # fast, unlike count(*)
    writer = _Writer(conn, dry_run, existing=existing)
    try:
        for batch in src.batches(BATCH):
            if writer.bulk is None:
                writer.decide(src.size * len(batch.values) // max(src.position(), 1))
            good = _check_batch(batch, fixed_kind, users, parse_time)
            result.rows += len(batch.values)
            result.valid += len(good)
            if len(good) < len(batch.values):
                _report_bad(batch, good, fixed_kind, users, parse_time, problems, src.raw_header)
                if not skip_invalid:
                    writer.stop()
            writer.write(good)
            if progress:
                progress(src.position(), src.size)
        if result.error_count and not skip_invalid:
            writer.rollback()
            problems.raise_if_any()
        if writer.began:
            result.inserted = writer.finish()
            result.unchanged = result.valid - result.inserted
            record(db, "import.events", file=str(path), rows=result.rows, inserted=result.inserted,
                   already_present=result.unchanged, invalid=result.invalid, rejects=result.rejects_file)
            writer.commit()
    finally:
        problems.close()
        writer.rollback()
    if progress:
        progress(src.size, src.size)
    result.seconds = round(time.monotonic() - started, 3)
    return result


class _Writer:
    """The one write transaction of an import; stops writing (and later rolls back) on a bad row.

    Inserting into a large unique index in random key order is what makes a big import slow (each row lands on
    a different page). When the file is big next to the table, the writer drops the events indexes inside the
    transaction, appends, and rebuilds them by sorting at the end — removing the rows that were already
    present when the unique index finds duplicates. Small imports into a big table keep the indexes live.
    """

    def __init__(self, conn, dry_run: bool, *, existing: int) -> None:
        self.conn = conn
        self.writing = not dry_run
        self.began = False
        self.existing = existing
        self.bulk: list[tuple[str, str]] | None = None  # (name, sql) of the dropped indexes
        self._before = conn.total_changes
        self._first_id = 0
        if self.writing:
            conn.execute("BEGIN IMMEDIATE")
            self.began = True

    def stop(self) -> None:
        self.writing = False

    def decide(self, expected_rows: int) -> None:
        """Choose bulk mode when the file is at least half the size of the table (and large)."""
        if not self.writing or self.bulk is not None:
            return
        if expected_rows >= BULK_MIN_ROWS and expected_rows * 2 >= self.existing:
            self.bulk = list(self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
                " AND sql IS NOT NULL"))
            for name, _ in self.bulk:
                self.conn.execute(f'DROP INDEX "{name}"')
            self._first_id = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0]
        else:
            self.bulk = []

    def write(self, rows: list[tuple]) -> None:
        if self.writing and rows:
            self.conn.executemany(INSERT_SQL, rows)

    def finish(self) -> int:
        """Rebuild dropped indexes (deduplicating); return the number of events added."""
        added = self.conn.total_changes - self._before
        if self.bulk:
            for name, sql in self.bulk:
                try:
                    self.conn.execute(sql)
                except sqlite3.IntegrityError:
                    if name != "events_dedup":
                        raise
                    added -= self._remove_duplicates()
                    self.conn.execute(sql)
        return added

    def _remove_duplicates(self) -> int:
        """Delete the new rows that repeat an event already stored (or earlier in the file)."""
        before = self.conn.total_changes
        self.conn.execute(
            """
            DELETE FROM events WHERE id IN (
                SELECT id FROM (
                    SELECT id, row_number() OVER (PARTITION BY user_id, at, fingerprint ORDER BY id) AS n
                    FROM events)
                WHERE n > 1 AND id >= ?)
            """,
            [self._first_id],
        )
        return self.conn.total_changes - before

    def commit(self) -> None:
        if self.began:
            self.conn.execute("COMMIT")
            self.began = False

    def rollback(self) -> None:
        if self.began:
            self.conn.execute("ROLLBACK")
            self.began = False


def _check_batch(batch, fixed_kind: str | None, users: dict[str, int], parse_time: TimeParser) -> list[tuple]:
    """Rows ready to insert for every valid record of the batch (invalid ones are left out).

    The hot loop of an events import: each step is a dictionary look-up or a C call where it can be. Anything
    unusual (spaces, other time formats, unknown users) drops to the careful path, which accepts the same
    inputs and says what is wrong with the rest.
    """
    users_get = users.get
    hours_get = parse_time.hours.get
    minutes_get = MINUTES.get
    kinds: dict[str, str] = {}
    kinds_get = kinds.get
    blake2b = hashlib.blake2b
    from_bytes = int.from_bytes
    dumps = json.dumps
    extras_list = batch.extras
    out: list[tuple] = []
    append = out.append
    for j, values in enumerate(batch.values):
        if values is None:
            continue
        ext, k, at_text, amount_text, category, obj, source, coupon = values
        user_id = users_get(ext)
        at = hours_get(at_text[:14], MISSING) + minutes_get(at_text[14:], MISSING)
        kind = fixed_kind or kinds_get(k)
        amount = None
        try:
            if amount_text:
                amount = float(amount_text)
                if not -1e15 < amount < 1e15:
                    raise ValueError
            if at < 0:
                at = parse_time(at_text.strip())
            if kind is None:
                kind = _normal_kind(k)
                if not kind:
                    raise ValueError
                kinds[k] = kind
            if user_id is None:
                user_id = users[ext.strip()]
        except (KeyError, ValueError):
            try:
                user_id, kind, at, amount = _careful(values, fixed_kind, users, parse_time)
            except ValueError:
                continue
        category = category.strip() or None
        obj = obj.strip() or None
        source = source.strip() or None
        coupon = coupon.strip() or None
        extras = extras_list[j] if extras_list is not None else None
        attributes = dumps(extras, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if extras else None
        text = (
            f"{user_id}\x1f{kind}\x1f{at}\x1f{'' if amount is None else amount}\x1f{category or ''}\x1f"
            f"{obj or ''}\x1f{source or ''}\x1f{coupon or ''}"
        )
        if attributes is not None:
            text += "\x1f" + attributes
        fingerprint = from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)
        append((user_id, kind, at, amount, category, obj, source, coupon, attributes, fingerprint))
    return out


def _careful(values: tuple, fixed_kind: str | None, users: dict[str, int], parse_time: TimeParser
             ) -> tuple[int, str, int, float | None]:
    """(user_id, kind, at, amount) of a record, or ValueError: the slow path of _check_batch."""
    if _diagnose(values, fixed_kind, users, parse_time):
        raise ValueError
    ext, k, at_text, amount_text = values[:4]
    amount = parse_amount(amount_text.strip()) if amount_text.strip() else None
    return users[ext.strip()], fixed_kind or _normal_kind(k), parse_time(at_text.strip()), amount


def _report_bad(batch, good: list[tuple], fixed_kind, users, parse_time, problems: Problems,
                header: list[str]) -> None:
    """Find the records _check_batch left out and record what is wrong with each."""
    for j, values in enumerate(batch.values):
        if values is None:
            problems.row(batch.lines[j], [("", batch.broken[j])], batch.raws[j], header)
            continue
        found = _diagnose(values, fixed_kind, users, parse_time)
        if found:
            problems.row(batch.lines[j], found, batch.raws[j], header)


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
