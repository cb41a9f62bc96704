"""Reading a provider's reply without trusting it: at most a fixed number of bytes, and JSON only as a flat enough
object (a deeply nested or huge reply must never crash the dispatcher — issue 12.4). One copy for every HTTP
transport (http, twilio, sendgrid/mailgun, aliyun/tencent)."""

from __future__ import annotations

from typing import Any

import httpx

from console.safejson import loads


def read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The reply body, at most *limit* bytes of it, and whether it was read whole (False: cut short or broken)."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return b"".join(chunks)[:limit], False
    except (httpx.TransportError, httpx.DecodingError):
        return b"".join(chunks), False
    return b"".join(chunks), True


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A JSON object reply (depth-limited parse), or None when the reply is not one."""
    try:
        data = loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
