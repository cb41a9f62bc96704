"""The consent rows a users import appends: one where a file's cell differs from the user's latest status.

Consent is a history (issue 19.7). The rows are dated *stated_at* when the file states when its consents were
given, else the import's time. A "yes" over a withdrawal that did not come from an import — an opt-out reply, an
unsubscribe, `consent withdraw` — is recorded only when *stated_at* is given and later than that withdrawal: a
nightly CRM export that still says yes is not the person asking again. Otherwise the user stays withdrawn and is
counted. (A "no" from an earlier file is the CRM's own record, and its later "yes" stands.)

Which cells are changes is worked out before the swap, in the side database reading the main one (prepare): the
swap then only appends them. That needs the ids of users the swap has not inserted yet: new users get the next
ids in the order the upsert inserts them (max(id) + 1, + 2, …, by first line in the file), which holds when
nobody else has written the main database in between — the swap checks that (PRAGMA data_version, then the
count and highest id it inserted) and otherwise works the changes out inside its transaction, as before.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

# A "yes" over an opt-out without a later stated consent time is not applied (?1: the stated time).
HELD = "status = 'granted' AND opted_out IS 1 AND NOT (?1 IS NOT NULL AND ?1 > latest_at)"


@dataclass
class Prepared:
    """Consent changes worked out in the side database (table consent_changes), and what they assumed."""

    data_version: int  # the main connection's PRAGMA data_version before the side database read the main one
    max_id: int        # the highest user id then
    new_users: int     # users of the file that were not stored then (ids max_id + 1 … max_id + new_users)
    kept: int          # "yes" cells held back over an opt-out
    cells_table: str   # the side table holding each user's consent cells once (see _cells_table)
    # A first import (no user of the file stored yet, each listed once): every consent cell is a change, appended by
    # the swap straight from staged_users (n-th staged row: user max_id + n) rather than copied to a table first.
    first_import: tuple[str, ...] = ()  # then: the channels whose cells to append


def _cells(channels: list[str], schema: str, table: str) -> str:
    return " UNION ALL ".join(
        f"SELECT external_id, '{c}' AS channel, consent_{c} AS status FROM {schema}.{table}"
        f" WHERE consent_{c} IS NOT NULL"
        for c in channels
    )


def _cells_table(side: sqlite3.Connection, channels: list[str], users: int) -> str:
    """The staged users' table itself when each of its *users* is there once (the usual case); for a file that
    lists a user twice, a table import_consents of one row per user, with the last non-empty cell per channel —
    as for the user's other values."""
    (rows,) = side.execute("SELECT count(*) FROM staged_users").fetchone()
    if rows == users:
        return "staged_users"
    side.execute("CREATE INDEX staged_users_external_id ON staged_users(external_id)")
    last = ", ".join(f"(SELECT t.consent_{c} FROM staged_users t WHERE t.external_id = s.external_id"
                     f" AND t.consent_{c} IS NOT NULL ORDER BY t.rowid DESC LIMIT 1) AS consent_{c}"
                     for c in channels)
    side.execute(f"CREATE TABLE import_consents AS SELECT s.external_id, {last}"
                 " FROM (SELECT DISTINCT external_id FROM staged_users) s")
    return "import_consents"


def _changes(cells: str, users: str, consents: str) -> str:
    """Each cell with the row in force for its user and channel (one index probe for its id), where they differ."""
    return f"""
        SELECT x.user_id, x.channel, x.status, l.status AS latest_status, l.at AS latest_at,
               -- a withdrawal that came from outside the imports: a reply, an unsubscribe, the operator
               (l.status = 'withdrawn' AND l.source NOT LIKE 'import:%') AS opted_out
        FROM (SELECT u.id AS user_id, s.channel, s.status,
                     (SELECT c.id FROM {consents} c WHERE c.user_id = u.id AND c.channel = s.channel
                      ORDER BY c.at DESC, c.id DESC LIMIT 1) AS latest_id
              FROM ({cells}) AS s JOIN {users} u ON u.external_id = s.external_id) AS x
        LEFT JOIN {consents} l ON l.id = x.latest_id
        WHERE l.status IS NOT x.status
        """


def prepare(conn: sqlite3.Connection, side: sqlite3.Connection, db_path: str, channels: list[str],
            stated_at: int | None, distinct: bool = False) -> Prepared | None:
    """Work the consent changes out in *side* (holding staged_users), reading the main database
    at *db_path* without locking it; *conn* is the connection that will swap. None when the file has no consent
    column. *distinct*: the staged external ids are known to be all different (each user listed once)."""
    if not channels:
        return None
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    side.execute("ATTACH DATABASE ? AS live", [db_path])
    try:
        side.execute("BEGIN")  # one snapshot of the main database for every statement below
        (max_id,) = side.execute("SELECT coalesce(max(id), 0) FROM live.users").fetchone()
        side.execute("CREATE TABLE user_ids (external_id TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID")
        side.execute("INSERT OR IGNORE INTO user_ids SELECT s.external_id, u.id FROM staged_users s"
                     " JOIN live.users u ON u.external_id = s.external_id")
        (known,) = side.execute("SELECT count(*) FROM user_ids").fetchone()
        if distinct and known == 0:
            # A first import of users each listed once: user n is staged row n, every cell a change, and the table
            # of new users (a unique index over every id, to number first appearances) is not needed.
            (rows,) = side.execute("SELECT count(*) FROM staged_users").fetchone()
            side.execute("CREATE TABLE consent_changes AS "
                         + _changes(_cells(channels, "main", "staged_users"), "main.user_ids", "live.consents")
                         + " LIMIT 0")
            side.execute("COMMIT")
            return Prepared(version, max_id, rows, 0, "staged_users", tuple(channels))
        # The upsert takes staged rows in file order and gives each new user one more than the highest id: the
        # n-th new user of the file (a rowid counting only first appearances, repeats ignored) gets max_id + n.
        side.execute("CREATE TABLE new_users (n INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE)")
        side.execute("INSERT OR IGNORE INTO new_users (external_id) SELECT s.external_id FROM staged_users s"
                     " WHERE NOT EXISTS (SELECT 1 FROM user_ids i WHERE i.external_id = s.external_id)"
                     " ORDER BY s.rowid")
        (new_users,) = side.execute("SELECT coalesce(max(n), 0) FROM new_users").fetchone()
        table = _cells_table(side, channels, known + new_users)
        cells = _cells(channels, "main", table)
        # Every user of the file is new and listed once (a first import): the n-th is staged row n, and each of
        # its cells is a change (a new user has no consent yet) — the swap appends them from staged_users.
        first = known == 0 and table == "staged_users"
        side.execute("CREATE TABLE consent_changes AS " + _changes(cells, "main.user_ids", "live.consents")
                     + (" LIMIT 0" if first else ""))
        if not first:  # a new user has no consent yet: each of their cells is a change
            side.execute(f"INSERT INTO consent_changes SELECT ? + u.n, s.channel, s.status, NULL, NULL, NULL"
                         f" FROM ({cells}) AS s JOIN new_users u ON u.external_id = s.external_id", [max_id])
        (kept,) = side.execute(f"SELECT count(*) FROM consent_changes WHERE {HELD}", [stated_at]).fetchone()
        side.execute("COMMIT")
    finally:
        if side.in_transaction:
            side.execute("ROLLBACK")
        side.execute("DETACH DATABASE live")
    return Prepared(version, max_id, new_users, kept, table, tuple(channels) if first else ())


def still_valid(conn: sqlite3.Connection, prepared: Prepared | None) -> bool:
    """In the swap, before the upsert: has nobody else written the main database since prepare read it?"""
    return prepared is not None and conn.execute("PRAGMA data_version").fetchone()[0] == prepared.data_version


def append_prepared(conn: sqlite3.Connection, prepared: Prepared, at: int, source: str,
                    stated_at: int | None) -> tuple[int, int] | None:
    """In the swap, after the upsert: append the prepared changes; return (rows appended, users kept withdrawn),
    or None when the upsert did not give the new users the ids prepare expected (then call append_consents)."""
    inserted_max = conn.execute("SELECT coalesce(max(id), 0) FROM main.users").fetchone()[0]
    if inserted_max != prepared.max_id + prepared.new_users:
        return None
    before = conn.total_changes
    if prepared.first_import:  # nothing to hold back: no user had a consent row
        conn.execute(_first_import_sql(prepared.first_import), [prepared.max_id, stated_at, at, source])
    conn.execute(f"INSERT INTO main.consents (user_id, channel, status, at, source)"
                 f" SELECT user_id, channel, status, COALESCE(?1, ?2), ?3 FROM staging.consent_changes"
                 f" WHERE NOT ({HELD})", [stated_at, at, source])
    return conn.total_changes - before, prepared.kept


def _first_import_sql(channels: tuple[str, ...]) -> str:
    """Every consent cell of a first import, user by user and each user's channels in name order: the rows (and
    their index's entries, by user id and channel) are appended in key order, where one statement per channel
    inserted the second channel's entries between the first's (page splits all along the index)."""
    ordered = sorted(channels)
    status = "CASE v.channel " + " ".join(f"WHEN '{c}' THEN s.consent_{c}" for c in ordered) + " END"
    values = ", ".join(f"('{c}')" for c in ordered)
    # CROSS JOIN keeps the staged users the outer loop (SQLite does not reorder it): rowid order, then channel.
    return (f"INSERT INTO main.consents (user_id, channel, status, at, source)"
            f" SELECT ?1 + s.rowid, v.channel, {status}, COALESCE(?2, ?3), ?4"
            f" FROM staging.staged_users s CROSS JOIN (SELECT column1 AS channel FROM (VALUES {values})) v"
            f" WHERE {status} IS NOT NULL")


def append_consents(conn: sqlite3.Connection, channels: list[str], table: str, at: int, source: str, *,
                    stated_at: int | None = None) -> tuple[int, int]:
    """In the swap, after the upsert: work the changes out and append them (when prepare's could not be used),
    from the cells in the side database's *table*; return (rows appended, users kept withdrawn)."""
    if not channels:
        return 0, 0
    conn.execute("DROP TABLE IF EXISTS temp.import_consent_changes")
    conn.execute("CREATE TEMP TABLE import_consent_changes AS "
                 + _changes(_cells(channels, "staging", table), "main.users", "main.consents"))
    kept = conn.execute(f"SELECT count(*) FROM temp.import_consent_changes WHERE {HELD}", [stated_at]).fetchone()[0]
    before = conn.total_changes
    conn.execute(f"INSERT INTO main.consents (user_id, channel, status, at, source)"
                 f" SELECT user_id, channel, status, COALESCE(?1, ?2), ?3 FROM temp.import_consent_changes"
                 f" WHERE NOT ({HELD})", [stated_at, at, source])
    appended = conn.total_changes - before
    conn.execute("DROP TABLE temp.import_consent_changes")
    return appended, kept
