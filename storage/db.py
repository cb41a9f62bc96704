"""Open a winback database: WAL, busy timeout, foreign keys, 0600 files, migrations applied."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from storage.errors import WinbackError
from storage.migrations import MIGRATIONS, known_migration_names

# Two people at once (the TUI open while cron sends) must wait for each other, not fail.
BUSY_TIMEOUT_MS = 10_000
# How long a writer waits for the write lock in all (begin_immediate) before giving up in words: an import of
# 2M events holds it for 20-140 s, and a writer that fails after BUSY_TIMEOUT_MS would lose its work.
WRITE_WAIT_ENV = "WINBACK_WRITE_WAIT"
DEFAULT_WRITE_WAIT_S = 600.0


class DatabaseTooNew(RuntimeError):
    """The database was migrated by a newer winback than this one."""


class DatabaseBusy(WinbackError):
    """Another process kept the write lock for longer than this writer would wait (exit code 1, nothing changed)."""


def write_wait_seconds() -> float:
    """How long begin_immediate waits for the write lock (WINBACK_WRITE_WAIT seconds, default 600)."""
    raw = os.environ.get(WRITE_WAIT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_WRITE_WAIT_S
    except ValueError:
        return DEFAULT_WRITE_WAIT_S


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's 'database is locked' / 'busy' errors (another connection holds the lock)."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def begin_immediate(conn: sqlite3.Connection, *, wait: float | None = None) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock up to *wait* seconds (default write_wait_seconds()).

    SQLite's own busy timeout gives up after BUSY_TIMEOUT_MS; a long import holds the lock for minutes, so we try
    again until the deadline and then raise DatabaseBusy naming the file (never a traceback)."""
    limit = write_wait_seconds() if wait is None else wait
    started = time.monotonic()
    deadline = started + limit
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"the database {_file_of(conn)} is busy: another process (an import?) has held its write lock "
                    f"for over {time.monotonic() - started:.0f} s. Nothing was changed; try again when it has finished (or wait longer "
                    f"with {WRITE_WAIT_ENV}=SECONDS)."
                ) from exc
            time.sleep(0.05)


def _file_of(conn: sqlite3.Connection) -> str:
    for _, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or ":memory:"
    return "?"


def _create_private_file(path: Path) -> None:
    """Create an empty database file readable by its owner only, before SQLite touches it.

    SQLite creates the -wal and -shm files with the same permissions as the database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process or thread created it a moment ago, the same way
    os.close(fd)
    os.chmod(path, 0o600)


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open a connection with winback's pragmas, without running migrations.

    One connection belongs to one thread: open a new one in every worker.
    """
    path = Path(path)
    if str(path) != ":memory:" and not path.exists():
        _create_private_file(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _use_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB page cache
    return sqlite_utils.Database(conn)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. Changing the journal mode needs an exclusive lock and SQLite does not wait for it (the busy
    handler is not called), so several openers of a brand-new file retry here, within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in MIGRATIONS.applied(db)]


def check_not_too_new(db: sqlite_utils.Database, path: str | Path) -> None:
    unknown = [name for name in applied_migrations(db) if name not in known_migration_names()]
    if unknown:
        raise DatabaseTooNew(
            f"{path} was upgraded by a newer winback (schema steps unknown to this version: "
            f"{', '.join(unknown)}). Upgrade winback to open it; this version will not touch it."
        )


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; return the names applied.

    Several processes or threads may open a new database at once (the console's workers, a cron job): the
    migrating one holds the write lock from the start (BEGIN IMMEDIATE), so the others wait on the busy timeout
    and then find nothing left to do, instead of failing on a read lock they cannot upgrade.
    """
    if not MIGRATIONS.pending(db):
        return []
    db.execute("BEGIN IMMEDIATE")
    try:
        pending = [m.name for m in MIGRATIONS.pending(db)]
        MIGRATIONS.apply(db)  # each step in a savepoint of this transaction
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return pending


def open_database(path: str | Path, *, migrate_schema: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at *path*, refuse a newer schema, apply migrations."""
    db = connect(path)
    try:
        check_not_too_new(db, path)
        if migrate_schema:
            migrate(db)
    except BaseException:
        db.close()
        raise
    return db
