"""The side database of an events import: checked rows wait there, then one INSERT … SELECT swaps them in.

See console.importing.staging for the side file itself and the swap transaction, and console.importing.events
for the import as a whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from itertools import chain
from typing import Any

from console.errors import WinbackError
from console.importing import staging
from console.importing.fingerprints import EVENT_ID_KEY, EventColumns, occurrence_fingerprint

SWAP_CACHE_KIB = -16_384

# Staged as given (empty text is ''): NULL is put in on the way out (NORMALISED), where SQLite does it a column
# at a time instead of evaluating five nullif() per staged row — a tenth of the staging's cost.
_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_PER_STATEMENT = 90  # rows per INSERT: 900 parameters, under SQLite's oldest limit of 999
COLUMNS = "user_id, kind, at, amount, category, object, source, coupon_code, attributes, fingerprint"
STAGED_COLUMNS = ("user_id INTEGER, kind TEXT, at INTEGER, amount REAL, category TEXT, object TEXT, source TEXT,"
                   " coupon_code TEXT, attributes TEXT, fingerprint INTEGER")
NORMALISED = ("user_id, kind, at, nullif(amount, '') AS amount, nullif(category, '') AS category,"
              " nullif(object, '') AS object, nullif(source, '') AS source,"
              " nullif(coupon_code, '') AS coupon_code, attributes, fingerprint")
_STAGE = f"INSERT INTO staged ({COLUMNS}) VALUES "
_STAGE_MANY = _STAGE + ", ".join([_VALUES] * _PER_STATEMENT)


class EventStage(staging.SideFile):
    """The valid events of an import, staged in a side database (console.importing.staging) while the file is
    read and checked, then copied into the main database in one short transaction (swap).

    Nothing is written to the main database before the swap, so other writers never wait for the reading. The
    swap inserts in the order of the events indexes (user_id, at, …) when the file is large: each index page
    is then written once, where file order (time, users at random) would land every row on a different page.
    """

    def __init__(self, conn: sqlite3.Connection, db_path: str, bulk_min_rows: int) -> None:
        self.conn = conn
        self.bulk_min_rows = bulk_min_rows  # from this many staged rows, sort them in index order before the swap
        self.writing = True
        self.rows = 0
        self.swap_seconds = 0.0
        super().__init__(db_path)
        assert self.side is not None
        self.side.execute(f"CREATE TABLE staged ({STAGED_COLUMNS})")
        self.table = "staged"
        # Each batch's fingerprints (numpy), to number identical lines of a small file (None: a large one).
        self._seen: list[Any] | None = []
        # Users are never deleted today; should one be while the file is read, the swap notices (see swap).
        self._users = conn.execute("SELECT count(*), max(id) FROM users").fetchone()

    def stop(self) -> None:
        """A bad row (without --skip-invalid): check the rest of the file, stage nothing more."""
        self.writing = False

    def write(self, events: EventColumns) -> None:
        """Append a batch to the side table, 90 rows per statement: one statement step per row costs a third more."""
        if not self.writing or not len(events):
            return
        assert self.side is not None
        params = list(chain.from_iterable(events.rows()))
        step = _PER_STATEMENT * 10
        whole = len(params) - len(params) % step
        try:
            self.side.execute("BEGIN")
            self.side.executemany(_STAGE_MANY, (params[i:i + step] for i in range(0, whole, step)))
            if whole < len(params):
                self.side.execute(_STAGE + ", ".join([_VALUES] * ((len(params) - whole) // 10)), params[whole:])
            self.side.execute("COMMIT")
        except sqlite3.Error as exc:  # a full disk, most likely: words, not a traceback (exit 1, nothing changed)
            raise WinbackError(f"could not stage the checked events in {self.path}: {exc}; the workspace database "
                               "was not changed (the side file needs free disk beside it)") from None
        self.rows += len(events)
        if self._seen is not None:
            self._seen.append(_countable(events))
            if self.rows >= self.bulk_min_rows:
                self._seen = None  # a large file: repeats are found in its sorted copy (memory stays flat)

    def prepare(self) -> None:
        """Number identical lines and, for a large file, sort the rows in index order — still outside the main
        database's lock."""
        assert self.side is not None
        self.side.execute("BEGIN")
        if self._seen:
            self._number_repeats(_repeated(self._seen))
            self._seen = []
        if self.rows >= self.bulk_min_rows:
            self.side.execute(f"CREATE TABLE ready AS SELECT {NORMALISED} FROM staged"
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
            # In file order for a small file; a large one was sorted in index order (and NULLs put in) by prepare().
            select = NORMALISED if self.table == "staged" else COLUMNS
            conn.execute(f"INSERT OR IGNORE INTO main.events ({COLUMNS})"
                         f" SELECT {select} FROM staging.{self.table} ORDER BY rowid")
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



def _countable(events: EventColumns) -> Any:
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
