"""`winback import users FILE`: customers, their contact details and consent, upserted on external id.

Staged, like events: rows are validated and appended to a side database while the file is clean (the main
database is not locked meanwhile); the first invalid row stops the staging and the side file is dropped, so a bad
file changes nothing. A clean file is upserted in one short transaction (the swap). Only the columns the file has are written, and an empty cell keeps the stored value. A user
whose values did not change is not touched (updated_at stays). Consent cells become append-only rows in
`consents`, only when they differ from the user's latest status for that channel — re-importing adds nothing.
Consent is a history: a "yes" does not undo an opt-out (a reply, an unsubscribe, `consent withdraw`) unless the file
states a consent time (`consent_at`, from `--consent-at`) newer than that withdrawal; otherwise the user is kept
withdrawn and counted in `kept_withdrawn` (docs/policy.md).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlite_utils

from console.audit import record
from console.clock import now_ts
from console.config import Config
from console.importing import pipeline, staging
from console.importing.events import INDEX_BUILD_CACHE_KIB
from console.importing.mappings import Rewrite, SavedMapping, check_columns
from console.importing.problems import ImportResult, Problems
from console.importing.reading import Source, encode_attributes, no_cyclic_gc
from console.importing.values import (
    CONSENT_WORDS,
    EmailParser,
    PhoneParser,
    TimeParser,
    parse_consent,
    parse_timezone,
)

# Columns stored on the user row, in file order of `values` (consents follow).
PROFILE_COLUMNS = ("name", "phone", "email", "region", "gender", "age_band", "occupation", "timezone", "locale",
                   "signup_at")
CONSENT_CHANNELS = ("sms", "email", "push")
USER_COLUMNS = ("external_id", *PROFILE_COLUMNS, *(f"consent_{c}" for c in CONSENT_CHANNELS))
BATCH = 10_000
BULK_MIN_BYTES = 8 << 20
NO_CONSENTS = (None, None, None)
MAX_TEXT = 500


def import_users(
    db: sqlite_utils.Database,
    path: str | Path,
    *,
    config: Config,
    mapping: dict[str, str] | None = None,
    encoding: str = "auto",
    fmt: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    consent_at: int | None = None,
    phase: staging.Phase | None = None,
    saved: SavedMapping | None = None,
) -> ImportResult:
    """Validate and import a users file. Raises BadInput (nothing written) when a row is invalid,
    unless *skip_invalid*, which imports the valid rows and writes the rejects beside the file.
    *consent_at* (Unix seconds) is when the file says its consent values were given (see _append_consents)."""
    rewrite = None
    if saved is not None:  # a saved mapping (console.importing.mappings): defaults for mapping and encoding
        mapping = {**saved.columns, **(mapping or {})}
        encoding = saved.encoding if encoding == "auto" and saved.encoding else encoding
        rewrite = Rewrite.of(saved, USER_COLUMNS)
    with no_cyclic_gc():
        return _import_users(db, path, config=config, mapping=mapping, encoding=encoding, fmt=fmt,
                             dry_run=dry_run, skip_invalid=skip_invalid, progress=progress, consent_at=consent_at,
                             phase=phase, rewrite=rewrite)


def _import_users(db, path, *, config, mapping, encoding, fmt, dry_run, skip_invalid, progress,
                  consent_at=None, phase=None, rewrite=None) -> ImportResult:
    started = time.monotonic()
    path = Path(path)
    src = Source(path, known=USER_COLUMNS, required=("external_id",), mapping=mapping or {},
                 encoding=encoding, format=fmt)
    assert src.format is not None  # Source detects it when not given
    check_columns(rewrite, src)
    result = ImportResult(kind="users", file=str(path), dry_run=dry_run)
    problems = Problems(path, src.format, result, write_rejects=skip_invalid and not dry_run,
                        mapping=src.mapping)
    conn = db.conn
    now = now_ts()
    source_label = f"import:{path.name}"

    present = [c for c in PROFILE_COLUMNS if src.present(c)]
    db_path = conn.execute("PRAGMA database_list").fetchone()[2]
    consent_channels = [c for c in CONSENT_CHANNELS if src.present(f"consent_{c}")]
    src.close()
    spec = _Spec(path=path, encoding=src.encoding, format=src.format, mapping=src.mapping,
                 region=config.default_region, timezone=config.timezone,
                 positions=[USER_COLUMNS.index(c) for c in present], now=now, batch=BATCH, rewrite=rewrite)
    validator = RowValidator(config.default_region, config.timezone)  # here: bad settings fail before a child

    stage = None if dry_run else _Stage(conn, db_path, present)
    writing = stage is not None
    rows = valid = 0
    checked = pipeline.checked_batches(_checked_batches, spec, size=src.size, local=(validator,))
    try:
        if phase:
            phase(staging.STAGING)
        for item in checked:
            rows += item.rows
            valid += item.valid
            result.filtered += item.filtered
            for line, found, raw in item.bad:
                problems.row(line, found, raw, src.raw_header)
            if stage is not None:
                staging.pause_point("validate")
            if item.bad and not skip_invalid:
                writing = False
            if writing and stage is not None:
                stage.write(item.users, item.consents)
                staging.pause_point("load")
            if progress:
                progress(item.position, src.size)
        result.rows, result.valid = rows, valid
        if result.error_count and not skip_invalid:
            problems.raise_if_any()
        if stage is not None:
            if phase:
                phase(staging.SWAPPING)

            def audit() -> None:
                record(db, "import.users", file=str(path.resolve()), rows=rows, inserted=result.inserted,
                       updated=result.updated, unchanged=result.unchanged, consents=result.consents,
                       invalid=result.invalid, rejects=result.rejects_file, filtered=result.filtered,
                       mapping=rewrite.name if rewrite is not None else None)

            stage.swap(result, upsert=_upsert_select_sql(present), size=src.size, channels=consent_channels,
                       now=now, source=source_label, consent_at=consent_at, audit=audit)
            result.swap_seconds = stage.swap_seconds
            problems.remove_stale_rejects()
    finally:
        checked.close()
        problems.close()
        if stage is not None:
            stage.discard()
    if progress:
        progress(src.size, src.size)
    result.seconds = round(time.monotonic() - started, 3)
    return result


@dataclass
class _Spec:
    """What a reader needs to check a users file — picklable, for the second process."""

    path: Path
    encoding: str
    format: str
    mapping: dict[str, str]
    region: str
    timezone: str
    positions: list[int]  # which of USER_COLUMNS go into the upsert, after external_id
    now: int
    batch: int
    rewrite: Rewrite | None = None  # a saved mapping's date format and row filter


@dataclass
class _Checked:
    """One batch, checked: upsert rows, consent cells, and the bad records with their problems."""

    rows: int
    valid: int
    # Column by column (rows are zip(*columns)): columns pickle in half the time of rows, for the reader process.
    users: list[tuple]
    consents: list[tuple]  # external id, sms, email, push
    bad: list[tuple[int, list[tuple[str, str]], Any]]
    position: int
    filtered: int = 0  # records the saved mapping's `where` left out


def _checked_batches(spec: _Spec, validate: RowValidator | None = None) -> Generator[_Checked, None, None]:
    """Read and check the file batch by batch (in this process or the reader process)."""
    validate = validate or RowValidator(spec.region, spec.timezone)
    src = Source(spec.path, known=USER_COLUMNS, mapping=spec.mapping, encoding=spec.encoding, format=spec.format,
                 rewrite=spec.rewrite)
    # itemgetter with one index returns the value, not a 1-tuple: a file of ids and consents only (no profile
    # column) would unpack the id's characters.
    pick = itemgetter(0, *spec.positions) if spec.positions else (lambda clean: (clean[0],))
    now = spec.now
    for batch in src.batches(spec.batch):
        users: list[tuple] = []
        consent_cells: list[tuple] = []
        bad = []
        extras_list = batch.extras
        for j, values in enumerate(batch.values):
            if values is None:
                bad.append((batch.lines[j], batch.broken[j], batch.raws[j]))
                continue
            clean, consents, found = validate(values)
            if found:
                bad.append((batch.lines[j], found, batch.raws[j]))
                continue
            ext = clean[0]
            extras = extras_list[j] if extras_list is not None else None
            attributes = encode_attributes(extras) if extras else None
            users.append((*pick(clean), attributes, now))
            if consents != NO_CONSENTS:
                consent_cells.append((ext, *consents))
        yield _Checked(len(batch.values), len(users), list(zip(*users, strict=True)),
                       list(zip(*consent_cells, strict=True)), bad,
                       src.position(), batch.filtered)


class _Stage:
    """The checked users of an import, staged in a side database (console.importing.staging) while the file is
    read, then upserted into the main database in one short transaction (swap): other writers wait only for it."""

    def __init__(self, conn, db_path: str, present: list[str]) -> None:
        self.conn = conn
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
            bulk = _drop_secondary_indexes(conn, size, users_before)
            before = conn.total_changes
            conn.execute(upsert)
            changed = conn.total_changes - before
            if bulk:
                conn.execute(f"PRAGMA cache_size = {INDEX_BUILD_CACHE_KIB}")  # see events.INDEX_BUILD_CACHE_KIB
            for sql in bulk:
                conn.execute(sql)
            result.consents, result.kept_withdrawn = _append_consents(conn, channels, now, source,
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


def _upsert_select_sql(present: list[str]) -> str:
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


def _drop_secondary_indexes(conn, size: int, existing: int) -> list[str]:
    """For a file large next to the table, drop the users indexes other than the external id's (inside the
    transaction) and return the statements that rebuild them: one sort beats a million random inserts."""
    if size < BULK_MIN_BYTES or size < existing * 40:  # ~40 bytes a user row in a file, at the least
        return []
    indexes = list(conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL"
        " AND sql NOT LIKE 'CREATE UNIQUE%'"))
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]


def _append_consents(conn, channels: list[str], at: int, source: str, *,
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


# Consent cells as usually written, looked up as they are (others go through parse_consent).
_CONSENT_CELLS = {"": None, **{word: status for text, status in CONSENT_WORDS.items()
                               for word in (text, text.upper(), text.title())}}
_UNKNOWN = object()
_UNKNOWN_CONSENTS = (_UNKNOWN,) * len(CONSENT_CHANNELS)


class RowValidator:
    """Checks and normalises one users record: (clean values, consent statuses, problems)."""

    def __init__(self, region: str, timezone: str) -> None:
        self.phone = PhoneParser(region)
        self.email = EmailParser()
        self.time = TimeParser(timezone)
        self._zones: dict[str, str] = {}

    def __call__(self, values: tuple) -> tuple[list, tuple, list[tuple[str, str]]]:
        found: list[tuple[str, str]] = []
        clean: list = [v.strip() or None for v in values[:11]]
        ext = clean[0]
        if ext is None:
            found.append(("external_id", "empty; every user needs an external id"))
        elif len(ext) > 200:
            found.append(("external_id", "longer than 200 characters"))
        for i, column, parse in ((2, "phone", self.phone), (3, "email", self.email)):
            if clean[i] is not None:
                try:
                    clean[i] = parse(clean[i])
                except ValueError as exc:
                    found.append((column, str(exc)))
        zone = clean[8]
        if zone is not None:
            known = self._zones.get(zone)
            if known is None:
                try:
                    known = self._zones[zone] = parse_timezone(zone)
                except ValueError as exc:
                    found.append(("timezone", str(exc)))
            clean[8] = known
        if clean[10] is not None:
            try:
                clean[10] = self.time(clean[10])
            except ValueError as exc:
                found.append(("signup_at", str(exc)))
        if max(map(len, values)) > MAX_TEXT:  # as written: no stripped cell is longer
            for i in (1, 4, 5, 6, 7, 9):
                if clean[i] is not None and len(clean[i]) > MAX_TEXT:
                    found.append((USER_COLUMNS[i], f"longer than {MAX_TEXT} characters"))
        consents = tuple(map(_CONSENT_CELLS.get, values[11:], _UNKNOWN_CONSENTS))
        if _UNKNOWN not in consents:
            return clean, consents, found
        parsed: list[str | None] = []
        for column, cell in zip(USER_COLUMNS[11:], values[11:], strict=True):
            if cell and cell.strip():
                try:
                    parsed.append(parse_consent(cell))
                except ValueError as exc:
                    found.append((column, str(exc)))
                    parsed.append(None)
            else:
                parsed.append(None)
        return clean, tuple(parsed), found
