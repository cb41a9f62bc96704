"""The side database of a users import: checked users and consent cells wait there, then one transaction (the
swap) upserts them and appends the consent changes.

See console.importing.staging for the side file itself and the swap transaction, and console.importing.users
for the import as a whole and the rules (empty cells, consent history).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from console.importing import staging
from console.importing.problems import ImportResult


class UserStage:
    """The checked users of an import, staged in a side database (console.importing.staging) while the file is
    read, then upserted into the main database in one short transaction (swap): other writers wait only for it."""

    def __init__(self, conn, db_path: str, present: list[str], bulk_min_bytes: int) -> None:
        self.conn = conn
        self.bulk_min_bytes = bulk_min_bytes  # from this file size, rebuild the secondary indexes (see below)
        self.swap_seconds = 0.0
        self.columns = ["external_id", *present, "attributes", "updated_at"]
        staging.clean_stale(db_path)
        self.path = staging.side_path(db_path)
        side, lock = staging.open_side(self.path)
        self.side: sqlite3.Connection | None = side
        self._lock: int | None = lock  # the flock that tells other imports this side file is alive
        self.side.execute(f"CREATE TABLE staged_users ({', '.join(self.columns)})")
        self.insert = (f"INSERT INTO staged_users VALUES ({', '.join('?' * len(self.columns))})")
        # A user listed twice: the last non-empty cell per channel wins, as for the user's other values.
        self.side.execute("CREATE TABLE import_consents (external_id TEXT PRIMARY KEY, sms TEXT, email TEXT,"
                          " push TEXT) WITHOUT ROWID")

    def write(self, users: list[tuple], consents: list[tuple]) -> None:
        """Stage a batch (both given as columns)."""
        assert self.side is not None
        self.side.execute("BEGIN")
        if users:
            self.side.executemany(self.insert, zip(*users, strict=True))
        if consents:
            self.side.executemany(
                "INSERT INTO import_consents (external_id, sms, email, push) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(external_id) DO UPDATE SET sms = coalesce(excluded.sms, sms),"
                " email = coalesce(excluded.email, email), push = coalesce(excluded.push, push)",
                zip(*consents, strict=True),
            )
        self.side.execute("COMMIT")

    def swap(self, result: ImportResult, *, upsert: str, size: int, channels: list[str], now: int, source: str,
             consent_at: int | None, audit: Callable[[], None]) -> None:
        """Upsert the staged users and append the consent changes in one transaction; fill in *result*'s counts."""
        assert self.side is not None
        self.side.close()
        self.side = None
        conn = self.conn
        # Consent rows are only written for users joined from `users` inside this transaction: the per-row
        # foreign key look-up would check what the join already guarantees.
        with staging.swap_in(conn, self.path, {"temp_store": "FILE", "foreign_keys": "OFF"}) as clock:
            users_before = conn.execute("SELECT count(*) FROM main.users").fetchone()[0]
            bulk = drop_secondary_indexes(conn, size, users_before, self.bulk_min_bytes)
            before = conn.total_changes
            conn.execute(upsert)
            changed = conn.total_changes - before
            if bulk:
                conn.execute(f"PRAGMA cache_size = {staging.INDEX_BUILD_CACHE_KIB}")
            for sql in bulk:
                conn.execute(sql)
            result.consents, result.kept_withdrawn = append_consents(conn, channels, now, source,
                                                                      stated_at=consent_at)
            result.inserted = conn.execute("SELECT count(*) FROM main.users").fetchone()[0] - users_before
            result.updated = changed - result.inserted
            result.unchanged = max(0, result.valid - result.inserted - result.updated)
            audit()
        self.swap_seconds = clock.seconds

    def discard(self) -> None:
        """Close and remove the side file (after the swap, a refusal or an interruption)."""
        if self.side is not None:
            self.side.close()
            self.side = None
        if self._lock is not None:
            staging.remove(self.path, self._lock)
            self._lock = None


def upsert_select_sql(present: list[str]) -> str:
    """Insert each staged user, or update the given columns of an existing one — only when something differs.

    An empty cell arrives as NULL and keeps the stored value; extra columns merge into the attributes. Rows are
    taken in file order, so a user listed twice ends with the last values, as before staging.
    """
    cols = ["external_id", *present, "attributes"]
    sets = [f"{c} = coalesce(excluded.{c}, users.{c})" for c in present]
    sets.append("attributes = CASE WHEN excluded.attributes IS NULL THEN users.attributes"
                " ELSE json_patch(coalesce(users.attributes, '{}'), excluded.attributes) END")
    sets.append("updated_at = excluded.updated_at")
    differs = [f"(excluded.{c} IS NOT NULL AND excluded.{c} IS NOT users.{c})" for c in present]
    differs.append("(excluded.attributes IS NOT NULL AND json_patch(coalesce(users.attributes, '{}'),"
                   " excluded.attributes) IS NOT json(users.attributes))")
    # "WHERE true": SQLite's parser needs it between a SELECT and ON CONFLICT.
    return (
        f"INSERT INTO main.users ({', '.join(cols)}, created_at, updated_at)"
        f" SELECT {', '.join(cols)}, updated_at, updated_at FROM staging.staged_users WHERE true ORDER BY rowid"
        f" ON CONFLICT(external_id) DO UPDATE SET {', '.join(sets)} WHERE {' OR '.join(differs)}"
    )


def drop_secondary_indexes(conn, size: int, existing: int, bulk_min_bytes: int) -> list[str]:
    """For a file large next to the table, drop the users indexes other than the external id's (inside the
    transaction) and return the statements that rebuild them: one sort beats a million random inserts."""
    if size < bulk_min_bytes or size < existing * 40:  # ~40 bytes a user row in a file, at the least
        return []
    indexes = list(conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL"
        " AND sql NOT LIKE 'CREATE UNIQUE%'"))
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]


def append_consents(conn, channels: list[str], at: int, source: str, *,
                     stated_at: int | None = None) -> tuple[int, int]:
    """Append a consent row where the file's value differs from the user's latest one; return (rows appended,
    users kept withdrawn).

    Consent is a history (issue 19.7). The rows are dated *stated_at* when the file states when its consents were
    given, else *at* (the import's time). A "yes" over a withdrawal that did not come from an import — an opt-out
    reply, an unsubscribe, `consent withdraw` — is recorded only when *stated_at* is given and later than that
    withdrawal: a nightly CRM export that still says yes is not the person asking again. Otherwise the user stays
    withdrawn and is counted. (A "no" from an earlier file is the CRM's own record, and its later "yes" stands.)"""
    if not channels:
        return 0, 0
    cells = " UNION ALL ".join(
        f"SELECT external_id, '{c}' AS channel, {c} AS status FROM staging.import_consents WHERE {c} IS NOT NULL"
        for c in channels
    )
    conn.execute("DROP TABLE IF EXISTS temp.import_consent_changes")
    # Each cell with the row in force for its user and channel (one index probe for its id).
    conn.execute(
        f"""
        CREATE TEMP TABLE import_consent_changes AS
        SELECT x.user_id, x.channel, x.status, l.status AS latest_status, l.at AS latest_at,
               -- a withdrawal that came from outside the imports: a reply, an unsubscribe, the operator
               (l.status = 'withdrawn' AND l.source NOT LIKE 'import:%') AS opted_out
        FROM (SELECT u.id AS user_id, s.channel, s.status,
                     (SELECT c.id FROM consents c WHERE c.user_id = u.id AND c.channel = s.channel
                      ORDER BY c.at DESC, c.id DESC LIMIT 1) AS latest_id
              FROM ({cells}) AS s JOIN users u ON u.external_id = s.external_id) AS x
        LEFT JOIN consents l ON l.id = x.latest_id
        WHERE l.status IS NOT x.status
        """
    )
    # A "yes" over an opt-out without a later stated consent time is not applied.
    held = "status = 'granted' AND opted_out IS 1 AND NOT (?1 IS NOT NULL AND ?1 > latest_at)"
    kept = conn.execute(f"SELECT count(*) FROM temp.import_consent_changes WHERE {held}", [stated_at]).fetchone()[0]
    before = conn.total_changes
    conn.execute(
        f"""
        INSERT INTO consents (user_id, channel, status, at, source)
        SELECT user_id, channel, status, COALESCE(?1, ?2), ?3 FROM temp.import_consent_changes
        WHERE NOT ({held})
        """,
        [stated_at, at, source],
    )
    appended = conn.total_changes - before
    conn.execute("DROP TABLE temp.import_consent_changes")
    return appended, kept
