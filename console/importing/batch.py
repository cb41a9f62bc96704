"""The records of an import file read together: what console.importing.reading gives the importers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Batch:
    """Records read together. Index j of each list is one record."""

    values: list[tuple | None] = field(default_factory=list)  # known columns' text; None: unreadable record
    extras: list[dict | None] | None = None                   # other columns, when the file has any
    raws: list[Any] = field(default_factory=list)              # as read, for the rejects file
    lines: Sequence[int] = field(default_factory=list)         # file line of each record
    broken: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # j → (column, why) it is unreadable
    # The extra columns as attributes JSON (one text per record), when the reader could encode them at once; then
    # extras is None. Only for a CSV file read without a saved mapping's rewrite (which may need the dictionaries).
    attributes: list[str] | None = None
    longest: int | None = None  # no cell of the batch is longer than this (characters), when the reader knows it
    filtered: int = 0  # records a saved mapping's `where` left out of this batch (mappings.Rewrite)
