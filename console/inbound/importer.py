"""`winback receipts import FILE`: a provider's exported report (CSV or JSONL), through the same field mapping
and the same writes as the inbound server. All rows or none: any bad line is named and nothing is recorded."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import sqlite_utils

from console.config import Config
from console.errors import BadInput
from console.inbound import apply
from console.inbound.mapping import receipt_mapping, reply_fields
from console.policy.consent import CHANNELS


def read_records(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """(records, the file line of each)."""
    from console.importing.reading import read_utf8

    text = read_utf8(path)
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        records, numbers = [], []
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
            numbers.append(number)
        return records, numbers
    reader = csv.DictReader(text.splitlines())
    records, numbers = [], []
    for row in reader:
        records.append({k.strip(): v for k, v in row.items() if k})
        numbers.append(reader.line_num)
    return records, numbers


def import_file(db: sqlite_utils.Database, config: Config, path: Path, *, channel: str = "sms",
                replies: bool = False) -> apply.ReceiptSummary | apply.ReplySummary:
    """Apply a report of receipts (or, with replies=True, of inbound replies) to the ledger."""
    if channel not in CHANNELS:
        raise BadInput(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    records, numbers = read_records(path)
    label = f"{path.name} line"
    if not records:
        raise BadInput(f"{path}: no records")
    source = f"import:{path.name}"
    if replies:
        parsed = apply.read_replies(records, reply_fields(config, channel), channel, config, label=label,
                                    numbers=numbers)
        return apply.apply_replies(db, config, channel, parsed, source=source)
    mapping = receipt_mapping(config, channel)
    receipts = apply.read_receipts(records, mapping, label=label, numbers=numbers)
    return apply.apply_receipts(db, config, channel, receipts, source=source)
