"""The side database of a users import: checked users and consent cells wait there, then one transaction (the
swap) upserts them and appends the consent changes.

See console.importing.staging for the side file itself and the swap transaction, and console.importing.users
for the import as a whole and the rules (empty cells, consent history).
"""

from __future__ import annotations

from collections.abc import Callable

from console.importing import staging, user_consents
from console.importing.problems import ImportResult
from console.importing.user_checks import CONSENT_CHANNELS
from console.importing.user_side import SideSpec


class UserStage(staging.SideFile):
    """The checked users of an import, staged in a side database (console.importing.staging) while the file is
    read, then upserted into the main database in one short transaction (swap): other writers wait only for it."""

    def __init__(self, conn, db_path: str, present: list[str], bulk_min_bytes: int,
                 channels: list[str] | tuple[str, ...] = CONSENT_CHANNELS) -> None:
        self.conn = conn
        self.bulk_min_bytes = bulk_min_bytes  # from this file size, rebuild the secondary indexes (see below)
        self.swap_seconds = 0.0
        self.db_path = db_path
        self.prepared: user_consents.Prepared | None = None
        # updated_at is the same for every row: the upsert writes it as a constant (upsert_select_sql), not staged.
        self.columns = ["external_id", *present, "attributes"]
        super().__init__(db_path)
        assert self.side is not None
        # The consent cells of the file's consent columns ride along (None where empty): a table of their own
        # cost as much to fill again. A channel the file has no column for is never read, so not staged.
        self.columns.extend(f"consent_{c}" for c in channels)
        # Which of a checked batch's columns (user_checks.Checked.users) are staged, in order.
        first = len(present) + 2  # external_id, the present columns, attributes (updated_at follows)
        # The reader checks only these channels' cells (user_checks.Spec.channels), in this order, after updated_at.
        picked = [*range(first), *range(first + 1, first + 1 + len(channels))]
        self.side.execute(f"CREATE TABLE staged_users ({', '.join(self.columns)})")
        # The reader appends the checked users to it (console.importing.user_side), and says whether their
        # external ids ascend: then no user is listed twice (see user_consents.prepare).
        self.side_spec = SideSpec(str(self.path), len(self.columns), picked)
        self.ascending = False

    def prepare(self, channels: list[str], consent_at: int | None) -> None:
        """Before the swap, outside the main database's lock: work out which consent cells are changes (see
        console.importing.user_consents), so that the swap only appends them."""
        assert self.side is not None
        self.side.execute("PRAGMA busy_timeout = 30000")  # reading the main database (WAL: never for long)
        self.prepared = user_consents.prepare(self.conn, self.side, self.db_path, channels, consent_at,
                                              distinct=self.ascending)

    def swap(self, result: ImportResult, *, upsert: str, size: int, channels: list[str], now: int, source: str,
             consent_at: int | None, audit: Callable[[], None]) -> None:
        """Upsert the staged users and append the consent changes in one transaction; fill in *result*'s counts."""
        assert self.side is not None
        self.side.close()
        self.side = None
        conn = self.conn
        # Consent rows are only written for users of the file, all stored by the upsert inside this transaction:
        # the per-row foreign key look-up would check what the upsert already guarantees.
        with staging.swap_in(conn, self.path, {"temp_store": "FILE", "foreign_keys": "OFF"}) as clock:
            prepared = self.prepared if user_consents.still_valid(conn, self.prepared) else None
            users_before = conn.execute("SELECT count(*) FROM main.users").fetchone()[0]
            bulk = drop_secondary_indexes(conn, size, users_before, self.bulk_min_bytes)
            before = conn.total_changes
            conn.execute(upsert)
            changed = conn.total_changes - before
            if bulk:
                conn.execute(f"PRAGMA cache_size = {staging.INDEX_BUILD_CACHE_KIB}")
            for sql in bulk:
                conn.execute(sql)
            appended = None
            if prepared is not None:
                appended = user_consents.append_prepared(conn, prepared, now, source, consent_at)
            if appended is None:  # someone wrote meanwhile: the changes prepared may be stale
                cells = self.prepared.cells_table if self.prepared is not None else "staged_users"
                appended = user_consents.append_consents(conn, channels, cells, now, source, stated_at=consent_at)
            result.consents, result.kept_withdrawn = appended
            result.inserted = conn.execute("SELECT count(*) FROM main.users").fetchone()[0] - users_before
            result.updated = changed - result.inserted
            result.unchanged = max(0, result.valid - result.inserted - result.updated)
            audit()
        self.swap_seconds = clock.seconds



def upsert_select_sql(present: list[str], now: int) -> str:
    """Insert each staged user, or update the given columns of an existing one — only when something differs.

    *now* (the import's time) is created_at of new users and updated_at of changed ones. An empty cell arrives as
    NULL and keeps the stored value; extra columns merge into the attributes. Rows are
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
        f" SELECT {', '.join(cols)}, {int(now)}, {int(now)} FROM staging.staged_users WHERE true ORDER BY rowid"
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
