"""Appending checked users to the side database, where they are checked: in the reader process for a large file.

The reader process (console.importing.pipeline) used to send every checked batch to the writer, which appended it
to the side database (console.importing.user_stage): pickling a million users' columns there and back cost about as
much CPU as a tenth of the whole import. The side file is a plain SQLite file with no journal, so the reader can
append to it itself; the writer only hears how many rows were read, which were invalid, and how far the file is
read. This module imports only sqlite3 (the reader process loads no database layer).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice
from operator import lt

from console.errors import WinbackError


@dataclass
class SideSpec:
    """Where and how the checked users are staged — picklable, for the reader process."""

    path: str          # the side database (created, with its staged_users table, by the writer)
    width: int         # staged_users' columns
    picked: list[int]  # which of a checked batch's columns (user_checks.Checked.users) are staged, in order


class SideAppender:
    """Appends checked batches (given as columns) to staged_users, many rows per statement: a statement step per
    row costs more. Notes whether the external ids ascend (see `ascending`)."""

    def __init__(self, spec: SideSpec) -> None:
        self.spec = spec
        self.conn = sqlite3.connect(spec.path, isolation_level=None)
        # As the writer's connection (staging.open_side): scratch, thrown away whatever happens.
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -16384")
        self.conn.execute("PRAGMA busy_timeout = 30000")
        one = f"({', '.join('?' * spec.width)})"
        self.per_statement = 999 // spec.width  # under SQLite's oldest limit of 999 parameters
        self.insert_many = f"INSERT INTO staged_users VALUES {', '.join([one] * self.per_statement)}"
        self.insert_one = f"INSERT INTO staged_users VALUES {one}"
        # Whether every external id staged so far is greater than the one before (an export sorted by id, as most
        # are): then no user is listed twice, which spares prepare() a unique index over every id (see
        # user_consents.prepare). Checked in C, a few hundredths of a second a million.
        self.ascending = True
        self.last_id = ""

    def write(self, users: list[tuple]) -> None:
        """Stage a batch, committed before this returns (the writer reads the side file once the reader is done)."""
        if not users or not users[0]:  # nothing valid in the batch (--skip-invalid)
            return
        ids = users[0]
        if self.ascending:
            self.ascending = ids[0] > self.last_id and all(map(lt, ids, islice(ids, 1, None)))
            self.last_id = ids[-1]
        width = self.spec.width
        params = list(chain.from_iterable(zip(*(users[i] for i in self.spec.picked), strict=True)))
        step = self.per_statement * width
        whole = len(params) - len(params) % step
        try:
            self.conn.execute("BEGIN")
            self.conn.executemany(self.insert_many, (params[i:i + step] for i in range(0, whole, step)))
            if whole < len(params):
                self.conn.executemany(self.insert_one, _rows(params[whole:], width))
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:  # a full disk, most likely: words, not a traceback (exit 1, nothing changed)
            raise WinbackError(f"could not stage the checked users in {self.spec.path}: {exc}; the workspace "
                               "database was not changed (the side file needs free disk beside it)") from None

    def close(self) -> None:
        self.conn.close()


def _rows(params: list, width: int) -> Iterator[list]:
    return (params[i:i + width] for i in range(0, len(params), width))
