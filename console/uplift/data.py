"""The training set: features frozen at send time, treatment by arm, and whether the user returned.

A run qualifies when it was real (campaign_runs.dry_run = 0) or belongs to a simulated campaign (campaigns.simulated:
the demo's, stored as a dry run so no real-send count includes it; the fit's verdict says when it trained on one), has
a holdout, its features were recorded at the
freeze, and its conversion window has closed. "Returned" is console.outcomes' definition: an event of one of the
campaign's conversion kinds in [run start, run start + window) — for treated and holdout users alike, whatever
happened to their message (intention to treat).

Rows are read in chunks straight into numpy columns; categorical values become integer codes as they arrive, so a
million rows take a few hundred MB, not a list of Python tuples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlite_utils

from console import outcomes
from console.errors import NotFound
from console.timefmt import local_time
from console.uplift.features import CATEGORICAL, COLUMNS, NUMERIC

DAY = 86_400
CHUNK = 50_000
# Users scored at a time. Each chunk is first a list of Python tuples (≈ 600 bytes a user): 200,000 of them were
# 120 MB of the 1M-user fit's peak; 50,000 are 30 MB, and the extra keyset queries cost nothing measurable.
BASE_CHUNK = 50_000
NUMERIC_DTYPE = np.float32  # features need no more than 7 digits; half the memory of float64 at a million rows


@dataclass
class Source:
    """One campaign run used for training."""

    campaign: str
    campaign_id: int
    run: int
    start_at: int
    window_days: int
    conversion_kinds: list[str]
    rows: int = 0             # recipients with recorded features (treated and holdout)
    simulated: bool = False   # the campaign is simulated (the demo's): nothing was sent


@dataclass
class Columns:
    """Feature columns (categoricals as codes into `vocab`, −1 = missing; numerics as float32, NaN = missing)."""

    values: dict[str, np.ndarray]
    vocab: dict[str, list[str]]

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0


@dataclass
class TrainingSet:
    sources: list[Source]
    skipped: list[str] = field(default_factory=list)   # why a candidate run was left out
    columns: Columns | None = None
    treated: np.ndarray | None = None                  # 0/1
    returned: np.ndarray | None = None                 # 0/1
    user_id: np.ndarray | None = None


def eligible_runs(db: sqlite_utils.Database, *, campaigns: list[str] | None, window_days: int | None, now: int,
                  tz_name: str = "UTC") -> tuple[list[Source], list[str]]:
    """Real runs (or a simulated campaign's runs) with a holdout, recorded features and a closed window (of the
    named campaigns, or all)."""
    rows = [outcomes.find_campaign(db, c) for c in campaigns] if campaigns else outcomes.campaign_records(db)
    sources: list[Source] = []
    skipped: list[str] = []
    for c in rows:
        simulated = bool(c.get("simulated"))
        runs = [r[0] for r in db.execute(
            "SELECT run FROM campaign_runs WHERE campaign_id = ? AND (dry_run = 0 OR ?) ORDER BY run",
            [c["id"], int(simulated)])]
        if not runs:
            if campaigns:
                skipped.append(f"{c['name']}: no real run")
            continue
        for run in runs:
            label = f"{c['name']} run {run}"
            treated, total = db.execute(
                "SELECT COALESCE(SUM(treated), 0), COUNT(*) FROM uplift_features WHERE campaign_id = ? AND run = ?",
                [c["id"], run]).fetchone()
            if total == 0:
                skipped.append(f"{label}: launched before features were recorded at send time")
                continue
            if treated == total:
                skipped.append(f"{label}: no holdout")
                continue
            if treated == 0:
                skipped.append(f"{label}: nobody treated")
                continue
            start = outcomes._run_start(db, c, run)
            window = int(window_days or c.get("window_days") or 14)
            if start is None:
                skipped.append(f"{label}: not launched")
                continue
            if start + window * DAY > now:
                skipped.append(f"{label}: conversion window open until {local_time(start + window * DAY, tz_name)}")
                continue
            sources.append(Source(c["name"], c["id"], run, start, window, outcomes.conversion_kinds(c), total,
                                  simulated))
    if campaigns and not sources and not skipped:
        raise NotFound("none of the named campaigns has a real run")
    return sources, skipped


class ColumnReader:
    """Accumulates rows of (COLUMNS…) into numpy columns, coding categoricals as they come.

    With *capacity* (the number of rows to come, when known) each column is allocated once and filled in place:
    a million rows read in chunks otherwise left their chunk arrays and the joins' copies as heap fragments that
    stayed resident through the whole fit."""

    def __init__(self, vocab: dict[str, list[str]] | None = None, capacity: int | None = None) -> None:
        self.vocab = {c: list((vocab or {}).get(c, [])) for c in CATEGORICAL}
        self._index: dict[str, dict[Any, int]] = {c: {v: i for i, v in enumerate(self.vocab[c])}
                                                   for c in CATEGORICAL}
        self._frozen = vocab is not None     # scoring: unseen values are "other" (coded len(vocab))
        self._parts: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}
        self._filled = 0
        self._arrays = None if capacity is None else {
            c: np.empty(capacity, dtype=np.int32 if c in CATEGORICAL else NUMERIC_DTYPE) for c in COLUMNS}

    def _codes(self, col: str, values: list[Any]) -> np.ndarray:
        """Codes of one chunk's values: one dict look-up per value (the few distinct values are added first)."""
        index = self._index[col]
        for value in set(values) - index.keys():
            key = str(value)
            if value is None:
                index[value] = -1
            elif key in index:                    # e.g. an int read where the vocab holds its text
                index[value] = index[key]
            elif self._frozen:
                index[value] = len(self.vocab[col])   # scoring: unseen values are "other"
            else:
                index[value] = index[key] = len(self.vocab[col])
                self.vocab[col].append(key)
        return np.array([index[v] for v in values], dtype=np.int32)

    def add(self, rows: list[tuple], offset: int = 0) -> None:
        """Rows whose columns offset..offset+len(COLUMNS) are COLUMNS in order."""
        transposed = list(zip(*rows, strict=True)) if rows else []
        end = self._filled + len(rows)
        for j, col in enumerate(COLUMNS, start=offset):
            values = list(transposed[j]) if rows else []
            chunk = self._codes(col, values) if col in CATEGORICAL else np.array(values, dtype=NUMERIC_DTYPE)
            if self._arrays is not None:
                self._arrays[col][self._filled:end] = chunk
            else:
                self._parts[col].append(chunk)
        self._filled = end

    def columns(self) -> Columns:
        """The columns, joined one at a time with each column's chunks dropped as it goes (a million rows would
        otherwise be held twice). The reader is empty afterwards."""
        values: dict[str, np.ndarray] = {}
        if self._arrays is not None:
            values = {c: a[:self._filled] for c, a in self._arrays.items()}
            self._arrays = {c: a[:0] for c, a in values.items()}
            self._filled = 0
            return Columns(values, self.vocab)
        for c in COLUMNS:
            parts = self._parts.pop(c)
            values[c] = np.concatenate(parts) if parts else np.zeros(0, np.int32 if c in CATEGORICAL else NUMERIC_DTYPE)
            parts.clear()
        self._parts = {c: [] for c in COLUMNS}
        return Columns(values, self.vocab)


def load(db: sqlite_utils.Database, sources: list[Source], skipped: list[str]) -> TrainingSet:
    """The frozen features of every user of *sources*, their arm, and whether they returned (each column
    allocated once, at the sources' row count, and filled chunk by chunk)."""
    total = sum(s.rows for s in sources)
    reader = ColumnReader(capacity=total)
    treated = np.empty(total, dtype=np.int8)
    returned = np.empty(total, dtype=np.int8)
    users = np.empty(total, dtype=np.int64)
    filled = 0
    names = ", ".join(f"f.{c}" for c in COLUMNS)
    for s in sources:
        marks = ",".join(f":k{i}" for i in range(len(s.conversion_kinds)))
        # one range probe per user on the covering events(user_id, at, kind, amount) index
        cursor = db.execute(
            f"""SELECT f.user_id, f.treated,
                       EXISTS (SELECT 1 FROM events e WHERE e.user_id = f.user_id AND e.at >= :start
                               AND e.at < :end AND e.kind IN ({marks})), {names}
                FROM uplift_features f WHERE f.campaign_id = :c AND f.run = :r""",
            {"c": s.campaign_id, "r": s.run, "start": s.start_at, "end": s.start_at + s.window_days * DAY,
             **{f"k{i}": k for i, k in enumerate(s.conversion_kinds)}},
        )
        read = 0
        while rows := cursor.fetchmany(CHUNK):
            rows = rows[:s.rows - read]     # rows recorded after eligible_runs counted them are not this fit's
            end = filled + len(rows)
            users[filled:end] = [r[0] for r in rows]
            treated[filled:end] = [r[1] for r in rows]
            returned[filled:end] = [r[2] for r in rows]
            reader.add(rows, offset=3)
            filled, read = end, read + len(rows)
    return TrainingSet(sources, skipped, reader.columns(), treated[:filled], returned[:filled], users[:filled])


def base_chunks(db: sqlite_utils.Database, vocab: dict[str, list[str]], *, channel: str, now: int,
                rows: int | None = None) -> Iterator[tuple[np.ndarray, Columns]]:
    """Today's features of every profiled user (as if messaged now on *channel*) but those who refused
    personalised marketing, coded with the fit's vocab, in
    chunks of *rows* users: scoring a million users never holds them all at once.

    Each chunk is its own query (keyset paging on the profiles' primary key): the caller writes between chunks,
    and a cursor left open across those writes was aborted by SQLite ("abort due to ROLLBACK").
    """
    from console.personalisation import refused_sql
    from console.uplift.features import base_features_sql

    # who refused personalised marketing (PIPL Art. 24) gets no prediction: nothing can rank them by it
    sql = (f"SELECT user_id, {', '.join(COLUMNS)} FROM ({base_features_sql()} WHERE p.user_id > :wb_after "
           f"AND NOT {refused_sql('p.user_id')} ORDER BY p.user_id LIMIT :wb_rows)")
    rows = rows or BASE_CHUNK
    after = -1
    while True:
        found = db.execute(sql, {"wb_now": now, "wb_channel": channel, "wb_after": after, "wb_rows": rows}
                           ).fetchall()
        if not found:
            return
        reader = ColumnReader(vocab)
        reader.add(found, offset=1)
        ids = np.array([r[0] for r in found], dtype=np.int64)
        after = int(ids[-1])
        del found
        yield ids, reader.columns()


__all__ = ["NUMERIC", "ColumnReader", "Columns", "Source", "TrainingSet", "base_chunks", "eligible_runs", "load"]
