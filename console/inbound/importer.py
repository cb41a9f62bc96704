"""`winback receipts import FILE`: a provider's exported report (CSV or JSONL), through the same field mapping
and the same writes as the inbound server. All rows or none: any bad line is named and nothing is recorded."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import sqlite_utils

from console.config import Config
from console.errors import BadInput, NotFound
from console.inbound import apply
from console.inbound.mapping import receipt_mapping, reply_fields
from console.policy.consent import CHANNELS


def read_records(path: Path) -> tuple[list[dict[str, Any]], str, int]:
    """(records, what a record is called in errors, number of the first record)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 ({exc})") from exc
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise BadInput(f"{path.name} line {number}: not JSON ({exc}). Nothing was recorded.") from exc
            if not isinstance(record, dict):
                raise BadInput(f"{path.name} line {number}: not a JSON object. Nothing was recorded.")
            records.append(record)
        return records, f"{path.name} line", 1
    rows = list(csv.DictReader(text.splitlines()))
    return [{k.strip(): v for k, v in row.items() if k} for row in rows], f"{path.name} line", 2


def import_file(db: sqlite_utils.Database, config: Config, path: Path, *, channel: str = "sms",
                replies: bool = False) -> dict[str, Any]:
    """Apply a report of receipts (or, with replies=True, of inbound replies) to the ledger."""
    if channel not in CHANNELS:
        raise BadInput(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    records, label, first = read_records(path)
    if not records:
        raise BadInput(f"{path}: no records")
    source = f"import:{path.name}"
    if replies:
        parsed = apply.read_replies(records, reply_fields(config, channel), channel, config, label=label,
                                    first=first)
        return apply.apply_replies(db, config, channel, parsed, source=source)
    mapping = receipt_mapping(config, channel)
    parsed = apply.read_receipts(records, mapping, label=label, first=first)
    return apply.apply_receipts(db, config, channel, parsed, source=source)
