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

import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from console.audit import record
from console.clock import now_ts
from console.config import Config, phone_region
from console.importing import pipeline, staging
from console.importing.mappings import Rewrite, SavedMapping, check_columns
from console.importing.problems import ImportResult, Problems
from console.importing.reading import Source, no_cyclic_gc
from console.importing.user_checks import (
    CONSENT_CHANNELS,
    PROFILE_COLUMNS,
    USER_COLUMNS,
    RowValidator,
    Spec,
    checked_batches,
)
from console.importing.user_stage import UserStage, upsert_select_sql

__all__ = ["USER_COLUMNS", "import_users"]

BATCH = 10_000
BULK_MIN_BYTES = 8 << 20  # from this file size (next to the users stored), the swap rebuilds the users indexes


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
    *consent_at* (Unix seconds) is when the file says its consent values were given (see console.importing.user_consents)."""
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
    validator = RowValidator(phone_region(config), config.timezone)  # here: bad settings fail before a child
    stage = None if dry_run else UserStage(conn, db_path, present, BULK_MIN_BYTES, consent_channels)
    spec = Spec(path=path, encoding=src.encoding, format=src.format, mapping=src.mapping,
                 region=config.default_region, timezone=config.timezone,
                 positions=[USER_COLUMNS.index(c) for c in present], now=now, batch=BATCH, rewrite=rewrite,
                 side=stage.side_spec if stage is not None else None, skip_invalid=skip_invalid,
                 channels=tuple(consent_channels))
    writing = stage is not None
    rows = valid = 0
    checked = pipeline.checked_batches(checked_batches, spec, size=src.size, local=(validator,))
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
                writing = False  # the reader stopped staging too
            if writing and stage is not None:
                stage.ascending = item.ascending  # the reader staged the batch's valid users (user_side)
                staging.pause_point("load")
            if progress:
                progress(item.position, src.size)
        result.rows, result.valid = rows, valid
        if result.error_count and not skip_invalid:
            problems.raise_if_any()
        if stage is not None:
            stage.prepare(consent_channels, consent_at)
            staging.pause_point("prepared")
            if phase:
                phase(staging.SWAPPING)

            def audit() -> None:
                record(db, "import.users", file=str(path.resolve()), rows=rows, inserted=result.inserted,
                       updated=result.updated, unchanged=result.unchanged, consents=result.consents,
                       invalid=result.invalid, rejects=result.rejects_file, filtered=result.filtered,
                       mapping=rewrite.name if rewrite is not None else None)

            stage.swap(result, upsert=upsert_select_sql(present, now), size=src.size, channels=consent_channels,
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
