"""The opt-out journal: opt-outs recorded durably at once, even while another process holds the database's write
lock (an import of millions of rows can hold it for minutes), and folded into the database as soon as it is free.

The journal is a small SQLite file beside the workspace database (`winback.db.optouts`). Only short transactions
ever touch it — one INSERT per opt-out, one UPDATE per fold — so nobody waits on it for long. Synchronous FULL: an
entry is on disk before the provider (or the operator) is told it was taken.

An entry is folded into `suppressions`, `consents` and `receipts` by `fold_pending`, inside a write transaction of
the main database that also records the entry's key in `optout_journal_applied`: exactly once, even if a process
dies between that commit and marking the journal. Until then `pending_blocks` lets the dispatcher's re-check
(console/policy/blocked.py) treat it as in force.

What folding one entry writes is the caller's `fold` function: console.campaigns.journal_fold folds every kind
(a reply or an unsubscribe checks the campaign's brakes, which live above this package); `suppress add` folds its
own entry with console.policy.suppression's code. This module only keeps the file and the exactly-once bookkeeping,
so it imports nothing above console.policy.

Kinds: `reply` (an inbound SMS reply: opt-out or not, recorded so that no reply is lost), `unsubscribe` (a one-click
POST: the user and the channel) and `suppress` (an operator's `suppress add`).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from console.clock import now_ts
from console.config import Config
from storage.db import BUSY_TIMEOUT_MS, DatabaseBusy, _create_private_file, begin_immediate
from storage.tx import immediate

SUFFIX = ".optouts"
# The journal's own waits are short: its transactions are one statement long.
JOURNAL_TIMEOUT_S = 30.0
# How long the inbound server waits for the main database before answering with the entry journaled only.
QUICK_WAIT_MS = 250

_SCHEMA = """
CREATE TABLE IF NOT EXISTS optouts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,          -- a uuid: what optout_journal_applied in the main database records
    recorded_at INTEGER NOT NULL,
    kind TEXT NOT NULL,                -- reply | unsubscribe | suppress
    channel TEXT NOT NULL,             -- a channel, or 'all' (suppress)
    address TEXT,                      -- normalised
    user_id INTEGER,
    blocks INTEGER NOT NULL,           -- 1 when it stops sends (an opt-out), 0 for an ordinary reply
    payload TEXT NOT NULL,             -- JSON: what the fold needs
    applied_at INTEGER
);
CREATE INDEX IF NOT EXISTS optouts_pending ON optouts(id) WHERE applied_at IS NULL;
-- Inbound request signatures already accepted (console/inbound/app.py refuses a replay): kept until expires_at.
CREATE TABLE IF NOT EXISTS seen_signatures (signature TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
"""


@dataclass
class JournalEntry:
    key: str
    recorded_at: int
    kind: str
    channel: str
    address: str | None
    user_id: int | None
    blocks: bool
    payload: dict[str, Any]


def database_file(db: sqlite_utils.Database) -> Path | None:
    """The main database's file, or None for an in-memory database (which has no journal)."""
    for _, name, file in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return Path(file) if file else None
    return None


def journal_path(db_file: Path | str) -> Path:
    db_file = Path(db_file)
    return db_file.with_name(db_file.name + SUFFIX)


def journal_for(db: sqlite_utils.Database) -> Path | None:
    file = database_file(db)
    return journal_path(file) if file else None


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.exists():
        _create_private_file(path)
    conn = sqlite3.connect(str(path), timeout=JOURNAL_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(JOURNAL_TIMEOUT_S * 1000)}")
        _wal(conn)
        conn.execute("PRAGMA synchronous = FULL")  # on disk before anyone is told it was recorded
        conn.executescript(_SCHEMA)
        yield conn
    finally:
        conn.close()


def _wal(conn: sqlite3.Connection) -> None:
    deadline = time.monotonic() + JOURNAL_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def record(path: Path, entries: list[JournalEntry]) -> None:
    """Write entries durably, in one short transaction. When this returns, they are on disk."""
    if not entries:
        return
    with _open(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO optouts (key, recorded_at, kind, channel, address, user_id, blocks, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.key, e.recorded_at, e.kind, e.channel, e.address, e.user_id, int(e.blocks),
                  json.dumps(e.payload, ensure_ascii=False)) for e in entries],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def remember_signature(path: Path, signature: str, *, expires_at: int) -> bool:
    """True the first time *signature* is seen (and remember it until *expires_at*); False for a replay."""
    with _open(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM seen_signatures WHERE expires_at < ?", [now_ts()])
            fresh = conn.execute("INSERT OR IGNORE INTO seen_signatures (signature, expires_at) VALUES (?, ?)",
                                 [signature, expires_at]).rowcount == 1
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return fresh


def new_entry(kind: str, channel: str, *, address: str | None = None, user_id: int | None = None,
              blocks: bool = True, at: int | None = None, **payload: Any) -> JournalEntry:
    return JournalEntry(uuid.uuid4().hex, now_ts() if at is None else at, kind, channel, address, user_id,
                        blocks, payload)


def pending(path: Path | None) -> list[JournalEntry]:
    """Entries not yet marked applied in the journal, oldest first ([] when there is no journal)."""
    if path is None or not path.exists():
        return []
    # A plain reader (no schema statements, no pragmas to set): the dispatcher asks before every hand-off.
    conn = sqlite3.connect(str(path), timeout=JOURNAL_TIMEOUT_S, isolation_level=None)
    try:
        rows = conn.execute(
            "SELECT key, recorded_at, kind, channel, address, user_id, blocks, payload FROM optouts "
            "WHERE applied_at IS NULL ORDER BY id"
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return []   # created a moment ago by another process, schema not yet written: nothing pending
    finally:
        conn.close()
    return [JournalEntry(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), json.loads(r[7])) for r in rows]


def pending_blocks(db: sqlite_utils.Database, channel: str) -> tuple[set[int], set[str]]:
    """(user ids, addresses) that journaled opt-outs not yet folded block on *channel* (or on all channels)."""
    users: set[int] = set()
    addresses: set[str] = set()
    for entry in pending(journal_for(db)):
        if entry.blocks and entry.channel in (channel, "all"):
            if entry.user_id is not None:
                users.add(entry.user_id)
            if entry.address:
                addresses.add(entry.address)
    return users, addresses


def _mark_applied(path: Path, keys: list[str]) -> None:
    if not keys:
        return
    with _open(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE optouts SET applied_at = ? WHERE key = ? AND applied_at IS NULL",
                         [(now_ts(), k) for k in keys])
        conn.execute("COMMIT")


# Writes one entry into the main database (inside the fold's transaction); returns a summary to add up.
Fold = Callable[[sqlite_utils.Database, Config, JournalEntry], Mapping[str, Any]]   # one entry's summary (read only)


def fold_pending(db: sqlite_utils.Database, config: Config, fold: Fold, *,
                 only: list[JournalEntry] | None = None) -> dict[str, Any]:
    """Fold pending journal entries (or just *only*) into the database with *fold*. Returns the summed summaries.

    Inside an open transaction (the dispatcher's claim) it joins it, so the claim that follows sees them; the
    journal is then marked at the next fold, once that transaction has surely committed. Outside one it takes
    the write lock itself (waiting as every writer does) and marks the journal after its commit."""
    path = journal_for(db)
    entries = only if only is not None else pending(path)
    if path is None or not entries:
        return {}
    keys = [e.key for e in entries]
    owned = not db.conn.in_transaction
    summary: dict[str, Any] = {}
    with immediate(db):
        marks = ",".join("?" * len(keys))
        done = {r[0] for r in db.execute(f"SELECT key FROM optout_journal_applied WHERE key IN ({marks})", keys)}
        for entry in entries:
            if entry.key in done:
                continue
            _merge(summary, fold(db, config, entry))
            db.execute("INSERT INTO optout_journal_applied (key, applied_at) VALUES (?, ?)", [entry.key, now_ts()])
    _mark_applied(path, keys if owned else sorted(done))
    return summary


def try_fold(db: sqlite_utils.Database, config: Config, fold: Fold, entries: list[JournalEntry] | None = None, *,
             wait_ms: int = QUICK_WAIT_MS) -> dict[str, Any] | None:
    """fold_pending if the write lock comes within *wait_ms*; None (entries stay journaled) if not."""
    conn = db.conn
    if conn.in_transaction:  # the caller already holds a transaction: join it (marked at the next fold)
        return fold_pending(db, config, fold, only=entries)
    conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        begin_immediate(conn, wait=0)  # one attempt, waiting wait_ms
    except DatabaseBusy:
        return None
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        summary = fold_pending(db, config, fold, only=entries)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    keys = [e.key for e in entries] if entries is not None else None
    path = journal_for(db)
    if path is not None:
        _mark_applied(path, keys if keys is not None else _applied_keys(db, path))
    return summary


def _applied_keys(db: sqlite_utils.Database, path: Path) -> list[str]:
    keys = [e.key for e in pending(path)]
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    return [r[0] for r in db.execute(f"SELECT key FROM optout_journal_applied WHERE key IN ({marks})", keys)]


def _merge(total: dict[str, Any], part: Mapping[str, Any]) -> None:
    for k, v in part.items():
        if isinstance(v, bool) or not isinstance(v, int | list):
            total[k] = v
        else:
            total[k] = total.get(k, [] if isinstance(v, list) else 0) + v
