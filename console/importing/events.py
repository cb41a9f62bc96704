"""`winback import events FILE`: activity (visits, logins, orders, clicks, …) per user, deduplicated.

Staged (issue 17): each record is validated and, while the file is clean so far, appended to a side database
(console.importing.staging) — without touching the main database, so sends and console actions never wait for
the reading. Any invalid record stops the staging (validation continues, to report every error) and the side
file is dropped, so a bad file changes nothing. A clean file is then copied in with one INSERT … SELECT in one
short transaction (the swap). Re-imports add nothing: an event's fingerprint (a hash of its normalised content)
is part of the unique key (user_id, at, fingerprint).

Identical lines in one file are separate events (two same-day purchases of the same amount are two purchases):
the second, third, … of them get the fingerprints occurrence_fingerprint(first, 1), (first, 2), …, so a file
keys each event by its content and its number among the identical lines of that file — and importing the file
again, or another file holding the same lines, stores each occurrence once. A line with an `event_id` (kept as
an attribute, and so hashed) is identified by it instead: the same id twice is one event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from console.audit import record
from console.config import Config
from console.errors import BadInput
from console.importing import pipeline, staging
from console.importing.event_checks import EVENT_COLUMNS, Spec, checked_batches, load_users, normal_kind
from console.importing.event_stage import EventStage
from console.importing.fingerprints import event_fingerprint, occurrence_fingerprint
from console.importing.mappings import Rewrite, SavedMapping, check_columns
from console.importing.problems import ImportResult, Problems
from console.importing.reading import Source, no_cyclic_gc

# Public here too (fixtures.demo and other writers of events import them from this module).
__all__ = ["EVENT_COLUMNS", "event_fingerprint", "import_events", "occurrence_fingerprint"]

BATCH = 20_000
BULK_MIN_ROWS = 200_000  # from this many staged rows, sort them in index order before the swap


def import_events(
    db: sqlite_utils.Database,
    path: str | Path,
    *,
    config: Config,
    kind: str | None = None,
    mapping: dict[str, str] | None = None,
    encoding: str = "auto",
    fmt: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    phase: staging.Phase | None = None,
    saved: SavedMapping | None = None,
) -> ImportResult:
    """Validate and import an events file. Raises BadInput (nothing written) when a row is invalid,
    unless *skip_invalid*, which imports the valid rows and writes the rejects beside the file.
    *phase* is told when the import moves on: staging.STAGING (reading, checking, staging), then
    staging.SWAPPING (the short transaction that holds the database's write lock). *saved* is a saved mapping
    (console.importing.mappings): its columns, kind and encoding are defaults for *mapping*, *kind*, *encoding*."""
    rewrite = None
    if saved is not None:
        mapping = {**saved.columns, **(mapping or {})}
        kind = kind or saved.kind
        encoding = saved.encoding if encoding == "auto" and saved.encoding else encoding
        rewrite = Rewrite.of(saved, EVENT_COLUMNS)
    with no_cyclic_gc():
        return _import_events(db, path, config=config, kind=kind, mapping=mapping, encoding=encoding, fmt=fmt,
                              dry_run=dry_run, skip_invalid=skip_invalid, progress=progress, phase=phase,
                              rewrite=rewrite)


def _import_events(db, path, *, config, kind, mapping, encoding, fmt, dry_run, skip_invalid, progress, phase,
                   rewrite=None) -> ImportResult:
    started = time.monotonic()
    path = Path(path)
    fixed_kind = normal_kind(kind) if kind else None
    if kind and not fixed_kind:
        raise BadInput(f"--kind {kind!r}: give a word such as visit, login, order or click")
    src = Source(
        path, known=EVENT_COLUMNS, required=("user_id", "at") if fixed_kind else ("user_id", "kind", "at"),
        mapping=mapping or {}, encoding=encoding, format=fmt,
    )
    assert src.format is not None  # Source detects it when not given
    src.close()
    check_columns(rewrite, src)
    result = ImportResult(kind="events", file=str(path), dry_run=dry_run)
    problems = Problems(path, src.format, result, write_rejects=skip_invalid and not dry_run,
                        mapping=src.mapping)
    conn = db.conn
    db_path = conn.execute("PRAGMA database_list").fetchone()[2]
    spec = Spec(path=path, encoding=src.encoding, format=src.format, mapping=src.mapping,
                 fixed_kind=fixed_kind, timezone=config.timezone, db_path=db_path, batch=BATCH,
                 hash_here=src.size < pipeline.PIPELINE_MIN_BYTES, rewrite=rewrite)
    stage = None if dry_run else EventStage(conn, db_path, BULK_MIN_ROWS)
    checked = None
    try:
        # Read without any lock held: the users table as it is now (see EventStage.swap for users that change later).
        local = () if src.size >= pipeline.PIPELINE_MIN_BYTES else (
            load_users(conn),)
        checked = pipeline.checked_batches(checked_batches, spec, size=src.size, local=local)
        if phase:
            phase(staging.STAGING)
        for item in checked:
            result.rows += item.rows
            result.valid += item.valid
            result.filtered += item.filtered
            for line, found, raw in item.bad:
                problems.row(line, found, raw, src.raw_header)
            if stage is not None:
                staging.pause_point("validate")
                if item.bad and not skip_invalid:
                    stage.stop()
                stage.write(item.events)
                staging.pause_point("load")
            if progress:
                progress(item.position, src.size)
        if result.error_count and not skip_invalid:
            problems.raise_if_any()
        if stage is not None:
            stage.prepare()
            if phase:
                phase(staging.SWAPPING)

            def audit(inserted: int) -> None:
                record(db, "import.events", file=str(path.resolve()), rows=result.rows, inserted=inserted,
                       already_present=result.valid - inserted, invalid=result.invalid,
                       rejects=result.rejects_file, filtered=result.filtered,
                       mapping=rewrite.name if rewrite is not None else None)

            result.inserted = stage.swap(audit)
            result.unchanged = result.valid - result.inserted
            result.swap_seconds = stage.swap_seconds
            problems.remove_stale_rejects()
    finally:
        if checked is not None:
            checked.close()
        problems.close()
        if stage is not None:
            stage.discard()
    if progress:
        progress(src.size, src.size)
    result.seconds = round(time.monotonic() - started, 3)
    return result
