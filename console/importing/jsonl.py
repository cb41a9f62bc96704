"""Reading a JSON Lines import file (one JSON object per line) into the batches a CSV file gives."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from console.errors import BadInput
from console.importing.batch import Batch
from console.importing.cells import BOM, JSON_SUSPECT, loads, scrub_json


def jsonl_batches(fh: TextIO, size: int, path: Path, known: Sequence[str], mapping: dict[str, str]) -> Iterator[Batch]:
    """A JSONL file's records in batches (see reading.Source.batches): each line one JSON object, its keys
    renamed by *mapping* (source → target) and its *known* keys' values given in that order."""
    known_set = set(known)
    count = 0
    lines: list[int] = []
    batch = Batch(lines=lines)
    batch.extras = []
    for line_no, text in enumerate(fh, 1):
        if not text.strip():
            continue
        count += 1
        if count == 1 and text.lstrip().startswith("["):
            _refuse_json_array(path, text)
        if BOM in text:  # a BOM before the line or in a string: dropped, as in CSV
            text = text.replace(BOM, "")
        j = len(batch.raws)
        batch.raws.append(text)
        lines.append(line_no)
        try:
            obj, why = loads(text)
        except json.JSONDecodeError as exc:
            obj, why = None, f"not valid JSON ({_json_error(text, exc)})"
        if why:
            batch.broken[j] = [("", why)]
        elif not isinstance(obj, dict):
            batch.broken[j] = [("", "each line must be a JSON object {...}")]
        elif JSON_SUSPECT.search(text):  # an escape or character that may decode to a control character
            obj, found = scrub_json(obj, known_set, mapping)
            if found:
                batch.broken[j] = found
        if j in batch.broken:
            batch.values.append(None)
            batch.extras.append(None)
        else:
            if mapping:
                obj = {mapping.get(k, k): v for k, v in obj.items()}
            batch.values.append(tuple(_text(obj.get(c), c) for c in known))
            extras = {k: v for k, v in obj.items() if k not in known and v is not None and v != ""}
            batch.extras.append(extras or None)
        if len(batch.raws) >= size:
            yield batch
            lines = []
            batch = Batch(lines=lines)
            batch.extras = []
    if count == 0:
        raise BadInput(f"{path}: the file is empty")
    if batch.raws:
        yield batch


def _refuse_json_array(path: Path, first: str) -> None:
    """A file that is one JSON array ("[" then objects, as most tools export .json) is not JSON Lines:
    say so once, rather than an error for every line."""
    try:
        value = json.loads(first)
    except (ValueError, RecursionError):
        value = None  # "[" alone, or "[{...}," — the start of a multi-line array (or a hostile one)
    if value is None or (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
        raise BadInput(
            f"{path}: this is one JSON array, not JSON Lines (one object per line); convert it, e.g. "
            f"`jq -c '.[]' {path.name} > {path.stem}.jsonl`, and import that file"
        )


# Columns whose integral float is the integer: pandas writes an integer column with a gap as floats (1001.0), and
# '1001.0' is no user's id nor a time. Only these: a text column's stored value (object '12.0') keys its event,
# so reading it differently would store a re-imported file's events again.
INTEGRAL = frozenset({"user_id", "external_id", "at", "signup_at"})


def _text(value: Any, column: str = "") -> str:
    """A JSON value as the text a CSV cell would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and column in INTEGRAL and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _json_error(text: str, exc: json.JSONDecodeError) -> str:
    """What is wrong with a JSONL line, at its column: parsed again without the newline, which would otherwise
    put an error at the end of the line at "line 2 column 1" (only on this error path, not for every line)."""
    try:
        json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as again:
        exc = again
    except (ValueError, RecursionError):
        pass
    return f"{exc.msg} at column {exc.colno}"
