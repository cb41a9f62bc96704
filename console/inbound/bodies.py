"""Reading what a provider or a browser sends to `winback serve`: the body (capped, whatever Content-Length
says), its records (JSON nested too deep is a 400, never a RecursionError), and signatures already seen.

Shared by the generic routes (console/inbound/app.py) and the provider callbacks (callbacks.py,
email_callbacks.py), which app.py mounts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request

from console.clock import now_ts
from console.errors import BadInput
from console.inbound.mapping import parse_body
from console.policy.journal import journal_path, remember_signature
from console.safejson import MAX_DEPTH, too_deep


class TooLarge(Exception):
    pass


class ReplayGuard:
    """Signatures already accepted within the freshness window, kept in the opt-out journal's file (small, short
    transactions, shared by every server process on this workspace)."""

    def __init__(self, db_path: Path) -> None:
        self.path = journal_path(db_path)

    def first_use(self, signature: str, window: int) -> bool:
        return remember_signature(self.path, signature.strip().lower(), expires_at=now_ts() + 2 * window)


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing more than *limit* bytes whether or not Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge
        except ValueError as exc:
            raise BadInput("Content-Length is not a number") from exc
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def parsed_body(body: bytes, content_type: str | None) -> Any:
    """The request's records; a JSON body nested too deep for the parser (`[[[[…` 20,000 levels) is a 400 like
    any other bad JSON, never a RecursionError and a 500."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        at = too_deep(body.decode("utf-8", errors="replace"))
        if at is not None:
            raise BadInput(f"body is not JSON a server should read: nested deeper than {MAX_DEPTH} levels "
                           f"(at character {at})")
    return parse_body(body, content_type)
