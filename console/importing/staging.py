"""The side database of a staged import: checked rows wait there, outside the main database's write lock.

An import reads and checks its file and appends the valid rows to `<db>.staging-<pid>.db` (a scratch SQLite
file beside the workspace database, no journal, no fsync: it is thrown away whatever happens). Only then does it
take the main database's write lock, attach the side file and copy the rows in with one INSERT … SELECT — the
swap, the only moment other writers (a cron send, a cap change in the console) have to wait for.

All or nothing: the swap is one transaction of the main database; before it, the main database was not written
at all. The side file is removed when the import ends (committed, refused or interrupted); one left by a process
that was killed is removed by the next import of the same database (nobody holds its flock any more).

`WINBACK_TEST_PAUSE_AT` (test-only, see pause_point) stops an import at a named point so that tests can kill it
there or run other commands meanwhile.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.db import begin_immediate

SUFFIX = ".staging-"
PAUSE_AT_ENV = "WINBACK_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "WINBACK_TEST_PAUSE_FILE"
# What the import is doing, for the operator's progress line: checking the file and staging its rows, then
# the swap (the only part holding the main database's write lock).
STAGING, SWAPPING = "staging", "swapping in"
# The page cache while the swap rebuilds an index it dropped: the sort spills to temp files beyond it.
INDEX_BUILD_CACHE_KIB = -8_192

Phase = Callable[[str], None]


def side_path(db_path: str | Path, pid: int | None = None) -> Path:
    """The side file of an import run by *pid* (default: this process) on the database at *db_path*."""
    return Path(f"{db_path}{SUFFIX}{os.getpid() if pid is None else pid}.db")


def remove(path: Path, lock_fd: int | None = None) -> None:
    """Remove a side file and whatever SQLite kept beside it (then release its flock, if *lock_fd* holds it)."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if lock_fd is not None:
        os.close(lock_fd)


def clean_stale(db_path: str | Path) -> list[Path]:
    """Remove the side files of imports that no longer run (killed: SIGKILL, power cut). Returns them.

    A running import holds an flock on its side file (see open_side), which the kernel drops when the process
    dies, however it dies: a file nobody holds is stale. (Not the pid alone: a container restarted by cron may
    well run the next import under the same pid.)"""
    db_path = Path(db_path)
    removed = []
    for path in db_path.parent.glob(f"{db_path.name}{SUFFIX}*.db"):
        if path == side_path(db_path) or _held(path):
            continue
        remove(path)
        removed.append(path)
    return removed


def _held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # gone already, or not ours to judge
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's own lock, if it got it
    return False


def open_side(path: Path) -> tuple[sqlite3.Connection, int]:
    """A fresh side database: private (0600, it holds customer data), no journal, no fsync (never kept); and the
    descriptor holding its flock for as long as this import runs (close it when the file is removed). SQLite's
    own locks are POSIX record locks, which flock does not touch."""
    remove(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA temp_store = FILE")  # sorts spill beside it, not into memory
    conn.execute("PRAGMA cache_size = -16384")
    return conn, fd


class SideFile:
    """The side database of one running import: stale ones of killed imports removed, this one opened and
    flock-held (see open_side) until discard() closes and removes it. The events and users stages build on it."""

    def __init__(self, db_path: str | Path) -> None:
        clean_stale(db_path)
        self.path = side_path(db_path)
        side, lock = open_side(self.path)
        self.side: sqlite3.Connection | None = side
        self._lock: int | None = lock  # the flock that tells other imports this side file is alive

    def discard(self) -> None:
        """Close and remove the side file (after the swap, a refusal or an interruption)."""
        if self.side is not None:
            self.side.close()
            self.side = None
        if self._lock is not None:
            remove(self.path, self._lock)
            self._lock = None


def pause_point(name: str) -> None:
    """Test-only: when WINBACK_TEST_PAUSE_AT names this point, write WINBACK_TEST_PAUSE_FILE (holding this pid)
    and wait until a file of the same name plus '.go' appears. Lets a test kill an import at an exact point
    (validate: a batch checked, nothing staged; load: rows staged; prepared: a users import's consent changes
    worked out, the lock not taken yet; swap: inside the main transaction, rows copied, not committed) or run
    other commands while it is there, without timing anything. Never set it in production."""
    if os.environ.get(PAUSE_AT_ENV) != name:
        return
    marker = Path(os.environ[PAUSE_FILE_ENV])
    marker.write_text(str(os.getpid()), encoding="utf-8")
    go = Path(f"{marker}.go")
    while not go.exists():
        time.sleep(0.02)


class SwapClock:
    """How long the swap held the main database's write lock (seconds), once it is over."""

    seconds: float = 0.0


@contextmanager
def swap_in(conn: sqlite3.Connection, path: Path, pragmas: dict[str, str | int]) -> Iterator[SwapClock]:
    """Attach the side file as `staging`, set *pragmas* on the main connection, and run the block as the one
    write transaction of the swap: committed at the end (after the test-only `swap` pause point), rolled back on
    any exception. The side file is detached and temp_store, foreign_keys and cache_size are put back whatever
    happens. One copy for the users and the events imports."""
    conn.execute("ATTACH DATABASE ? AS staging", [str(path)])  # not allowed inside a transaction
    saved = {name: conn.execute(f"PRAGMA main.{name}").fetchone()[0]
             for name in ("temp_store", "foreign_keys", "cache_size")}
    clock = SwapClock()
    try:
        for name, value in pragmas.items():
            conn.execute(f"PRAGMA {name} = {value}")
        begin_immediate(conn)
        locked = time.monotonic()
        try:
            yield clock
            pause_point("swap")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            clock.seconds = round(time.monotonic() - locked, 3)
    finally:
        conn.execute("DETACH DATABASE staging")
        for name, value in saved.items():
            conn.execute(f"PRAGMA {name} = {int(value)}")
