"""The inbound HTTP app (Starlette): receipts, replies and one-click unsubscribe. See docs/inbound.md.

    POST /receipts/{channel}   delivery receipts (shared secret or HMAC signature)
    POST /replies/{channel}    inbound SMS replies; STOP/退订/R... opt the sender out at once (same auth)
    GET  /u/{token}            a confirmation page with a button; never unsubscribes (mail scanners follow GETs)
    POST /u/{token}            unsubscribes (RFC 8058 one-click); no cookies, no redirects
    GET  /health               {"ok": true}
    POST /callbacks/{provider}/…  Aliyun, Tencent and Twilio receipts and replies in their own formats
                               (console/inbound/callbacks.py)

Every body is size-limited before it is read whole; a request that is refused (401, 400, 409, 413) changes
nothing. Database work runs in worker threads, each with its own SQLite connection. Replies and unsubscribes go
into the opt-out journal first (console/policy/journal.py): they are answered once durable, even while an import
holds the database, and a background task folds what is pending into the database as soon as it is free.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import os
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from console.campaigns import journal_fold
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.inbound import apply
from console.inbound.bodies import ReplayGuard, TooLarge, parsed_body, read_limited
from console.inbound.callbacks import callback_routes
from console.inbound.email_callbacks import email_routes
from console.inbound.mapping import (
    DEFAULT_SECRET_ENV,
    check_receipt_mappings,
    inbound_settings,
    items_of,
    max_body_bytes,
    receipt_mapping,
    reply_fields,
    signature_window,
)
from console.policy import journal
from console.policy.consent import CHANNELS
from console.unsubscribe import verify_unsubscribe_token
from storage.db import connect

SECRET_HEADER = "x-winback-secret"
# "sha256=<hex HMAC-SHA256 under the secret of `{timestamp}.` followed by the raw body>", with the timestamp (Unix
# seconds) in TIMESTAMP_HEADER: a signature is good only within the freshness window, and only once (replays: 409).
SIGNATURE_HEADER = "x-winback-signature"
TIMESTAMP_HEADER = "x-winback-timestamp"
# How often the server looks for journaled opt-outs to fold into the database (only while some are pending).
FOLD_INTERVAL_S = 1.0

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",          # the token is in the URL: never leak it onwards
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


class Connections:
    """One SQLite connection per worker thread, opened on first use (sqlite3 connections stay in their thread;
    they close when the worker thread ends)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.local = threading.local()

    def get(self):
        db = getattr(self.local, "db", None)
        if db is None:
            db = connect(self.db_path)
            self.local.db = db
        return db


def _authentic(request: Request, body: bytes, secret: str, window: int) -> tuple[bool, str | None]:
    """(authentic, refusal): the shared secret, or a fresh timestamped HMAC signature. A refusal of a signature
    says why (missing timestamp, stale) so that a provider's integrator can fix it."""
    given = request.headers.get(SECRET_HEADER)
    if given is not None and hmac.compare_digest(given.encode(), secret.encode()):
        return True, None
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature.startswith("sha256="):
        return False, None
    stamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not stamp.isdigit():
        return False, f"a signed request needs {TIMESTAMP_HEADER} (Unix seconds), signed with the body"
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature[7:].strip().lower().encode(), expected.encode()):
        return False, None
    if abs(now_ts() - int(stamp)) > window:
        return False, f"{TIMESTAMP_HEADER} is more than {window} s away from now: stale or replayed"
    return True, None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def create_app(config: Config, db_path: Path) -> Starlette:
    """The inbound app for one workspace (its config and its database file)."""
    settings = inbound_settings(config)
    secret_env = str(settings.get("secret_env", DEFAULT_SECRET_ENV))
    limit = max_body_bytes(config)
    window = signature_window(config)
    check_receipt_mappings(config)   # a bad status word stops serve here, not as a 400 to a provider
    connections = Connections(db_path)

    def secret() -> str | None:
        return os.environ.get(secret_env) or None

    async def authenticated_records(request: Request) -> tuple[Any, Response | None]:
        channel = request.path_params["channel"]
        if channel not in CHANNELS:
            return None, _error(404, f"unknown channel {channel!r}")
        key = secret()
        if key is None:
            return None, _error(503, f"inbound secret not configured: set ${secret_env}")
        try:
            body = await read_limited(request, limit)
        except TooLarge:
            return None, _error(413, f"body larger than {limit} bytes")
        except BadInput as exc:
            return None, _error(400, str(exc))
        authentic, why = _authentic(request, body, key, window)
        if not authentic:
            return None, _error(401, why or f"missing or wrong {SECRET_HEADER} / {SIGNATURE_HEADER}")
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature and request.headers.get(SECRET_HEADER) is None:
            first = await run_in_threadpool(lambda: replay_guard.first_use(signature, window))
            if not first:
                return None, _error(409, "this signature was used before: a replayed request is refused")
        try:
            return parsed_body(body, request.headers.get("content-type")), None
        except BadInput as exc:
            return None, _error(400, str(exc))

    async def run_db(work: Callable[[Any], dict[str, Any]]) -> Response:
        try:
            summary = await run_in_threadpool(lambda: work(connections.get()))
        except BadInput as exc:
            return _error(400, str(exc))
        return JSONResponse({"ok": True, **summary})

    async def receipts(request: Request) -> Response:
        body, refusal = await authenticated_records(request)
        if refusal:
            return refusal
        channel = request.path_params["channel"]

        def work(db):
            mapping = receipt_mapping(config, channel)
            parsed = apply.read_receipts(items_of(body, mapping.fields["items"]), mapping)
            return apply.apply_receipts(db, config, channel, parsed, source="http")

        return await run_db(work)

    async def replies(request: Request) -> Response:
        body, refusal = await authenticated_records(request)
        if refusal:
            return refusal
        channel = request.path_params["channel"]

        def work(db):
            fields = reply_fields(config, channel)
            parsed = apply.read_replies(items_of(body, fields["items"]), fields, channel, config)
            return apply.journal_replies(db, config, channel, parsed, source="http")

        return await run_db(work)

    async def unsubscribe_page(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST":
            try:
                await read_limited(request, limit)  # RFC 8058: "List-Unsubscribe=One-Click"; the token decides
            except TooLarge:
                return _page(413, "Too large", "请求过大。Request too large.")
            except BadInput:
                return _page(400, "Bad request", "请求无效。Bad request.")
            result = await run_in_threadpool(lambda: apply.unsubscribe(connections.get(), config, token))
            if result is None:
                return _invalid_link()
            return _page(200, "Unsubscribed", f"您已退订，今后不会再收到{_channel_words(result['channel'])}。"
                         f" You are unsubscribed and will receive no more {result['channel']} messages from "
                         f"{config.brand}.")
        # GET (and HEAD): check the link, show a button; never change anything.
        found = await run_in_threadpool(lambda: verify_unsubscribe_token(connections.get(), token))
        if found is None:
            return _invalid_link()
        action = html.escape(request.url.path, quote=True)
        form = (
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">退订 Unsubscribe</button></form>'
        )
        return _page(200, "Unsubscribe?", f"确定不再接收{_channel_words(found[1])}吗？ Stop receiving "
                     f"{found[1]} messages from {config.brand}?", form)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    def fold_pending() -> None:
        db = connections.get()
        if journal.pending(journal.journal_path(db_path)):
            journal_fold.try_apply(db, config)

    async def fold_loop() -> None:
        """Fold journaled opt-outs into the database once it is free (an import may hold it for minutes)."""
        while True:
            with contextlib.suppress(Exception):  # a failed fold is retried; the entries stay journaled
                await run_in_threadpool(fold_pending)
            await asyncio.sleep(FOLD_INTERVAL_S)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(fold_loop())
        try:
            yield
        finally:
            task.cancel()

    replay_guard = ReplayGuard(db_path)
    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/receipts/{channel}", receipts, methods=["POST"]),
            Route("/replies/{channel}", replies, methods=["POST"]),
            Route("/u/{token}", unsubscribe_page, methods=["GET", "POST"]),
            *callback_routes(config, connections, limit),   # Aliyun, Tencent, Twilio (console/inbound/callbacks.py)
            *email_routes(config, connections, limit, db_path),   # SendGrid, Mailgun (inbound/email_callbacks.py)
        ],
    )
    app.router.redirect_slashes = False  # RFC 8058: no redirects, ever
    return app


def _channel_words(channel: str) -> str:
    return {"sms": "短信", "email": "邮件", "push": "推送"}.get(channel, "消息")


def _invalid_link() -> Response:
    return _page(400, "Invalid link", "链接无效。This unsubscribe link is not valid.")


def _page(status: int, title: str, message: str, extra: str = "") -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        f"<title>{html.escape(title)}</title></head>"
        "<body style=\"font-family: sans-serif; max-width: 32em; margin: 3em auto\">"
        f"<p>{html.escape(message)}</p>{extra}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
