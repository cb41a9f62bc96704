"""JSON from outside (request bodies, provider replies, JSON lines) read with a bound on nesting.

Python's json module recurses once per level: `[[[[…` 20,000 deep ends in RecursionError, which is neither a
ValueError nor a message an operator or a provider can act on. `loads` counts the nesting first, without
recursion and skipping string contents, and refuses past `max_depth` with a ValueError like any other bad JSON.

    from console.safejson import loads
    body = loads(text)                    # ValueError: "nested deeper than 64 levels (at character 65)"
"""

from __future__ import annotations

import json
import re
from typing import Any

# Real payloads (receipts, replies, gateway answers, imported records) nest a handful of levels.
MAX_DEPTH = 64

# A JSON string (its brackets are text, not nesting) or one bracket. An unterminated string runs to the end
# (json.loads refuses it afterwards): the pattern always matches once it starts, so the scan stays linear.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


def too_deep(text: str, max_depth: int = MAX_DEPTH) -> int | None:
    """The 1-based character where `text` first nests deeper than `max_depth`, or None."""
    depth = 0
    for match in _TOKEN.finditer(text):
        ch = match.group()
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                return match.start() + 1
        elif ch in "]}":
            depth -= 1
    return None


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, refusing (ValueError) a document nested deeper than `max_depth`."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    at = too_deep(text, max_depth)
    if at is not None:
        raise ValueError(f"nested deeper than {max_depth} levels (at character {at})")
    return json.loads(text)
