"""Appending checked events to the side database, where they are checked: in the reader process for a large file.

The reader process (console.importing.pipeline) used to send every checked batch's columns to the writer, which
hashed them (fingerprints) and appended them to the side database: pickling, piping and unpickling a million
events cost about 0.9 CPU-s. The side file is a plain SQLite file with no journal, so the reader hashes and appends
them itself, as a users import's reader does (console.importing.user_side); the writer only hears how many rows
were staged, which were invalid, how far the file is read — and, while the file is small, the fingerprints it
needs to number identical lines (console.importing.event_stage). This module imports only sqlite3 (the reader
process loads no database layer).
"""

from __future__ import annotations

import sqlite3
from array import array
from dataclasses import dataclass
from itertools import chain, compress

from console.errors import WinbackError
from console.importing.fingerprints import EVENT_ID_KEY, EventColumns

COLUMNS = "user_id, kind, at, amount, category, object, source, coupon_code, attributes, fingerprint"
STAGED_COLUMNS = ("user_id INTEGER, kind TEXT, at INTEGER, amount REAL, category TEXT, object TEXT, source TEXT,"
                  " coupon_code TEXT, attributes TEXT, fingerprint INTEGER")
_WIDTH = 10
_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_PER_STATEMENT = 90  # rows per INSERT: 900 parameters, under SQLite's oldest limit of 999
_STAGE = f"INSERT INTO staged ({COLUMNS}) VALUES "
_STAGE_MANY = _STAGE + ", ".join([_VALUES] * _PER_STATEMENT)


@dataclass
class SideSpec:
    """Where the checked events are staged — picklable, for the reader process."""

    path: str         # the side database (created, with its staged table, by the writer: event_stage.EventStage)
    count_until: int  # the fingerprints of identical-line candidates go to the writer until this many rows are staged


class SideAppender:
    """Appends checked batches to the side table `staged`, 90 rows per statement (one statement step per row costs
    a third more), each batch committed before write() returns: the writer reads the side file once the reader is
    done, and a batch the writer has heard of is staged (the test-only pause point `load`)."""

    def __init__(self, spec: SideSpec) -> None:
        self.spec = spec
        self.rows = 0
        self.conn = sqlite3.connect(spec.path, isolation_level=None)
        # As the writer's connection (staging.open_side): scratch, thrown away whatever happens.
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -16384")
        self.conn.execute("PRAGMA busy_timeout = 30000")

    def write(self, events: EventColumns) -> bytes | None:
        """Hash and stage a batch. Returns, while the file is small (fewer than spec.count_until rows staged
        before this batch), the fingerprints of its events that count as identical lines (those without an event
        id) as machine int64 bytes, for the writer to number repeats (EventStage.note); None once it is large
        (its repeats are found in its sorted copy) or when nothing was staged."""
        if not len(events):
            return None
        params = list(chain.from_iterable(events.rows()))  # rows() adds the fingerprints
        step = _PER_STATEMENT * _WIDTH
        whole = len(params) - len(params) % step
        try:
            self.conn.execute("BEGIN")
            self.conn.executemany(_STAGE_MANY, (params[i:i + step] for i in range(0, whole, step)))
            if whole < len(params):
                self.conn.execute(_STAGE + ", ".join([_VALUES] * ((len(params) - whole) // _WIDTH)), params[whole:])
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:  # a full disk, most likely: words, not a traceback (exit 1, nothing changed)
            raise WinbackError(f"could not stage the checked events in {self.spec.path}: {exc}; the workspace "
                               "database was not changed (the side file needs free disk beside it)") from None
        small = self.rows < self.spec.count_until
        self.rows += len(events)
        return countable(events) if small else None

    def close(self) -> None:
        self.conn.close()


def countable(events: EventColumns) -> bytes:
    """The fingerprints of a hashed batch's events that are counted as identical lines (not those with an event
    id), as machine int64 bytes (numpy.frombuffer reads them without a copy)."""
    assert events.packed is not None  # hashed (EventColumns.add_fingerprints)
    if events.attributes is None:
        return events.packed.tobytes()
    keep = [a is None or EVENT_ID_KEY not in a for a in events.attributes]
    return array("q", compress(events.packed, keep)).tobytes()
