"""Email provider webhooks in `winback serve`: SendGrid's event webhook and Mailgun's webhooks (bounces,
complaints, unsubscribes, deliveries), read by console/inbound/email_events.py. See docs/inbound.md.

    POST /callbacks/sendgrid/events   SendGrid event webhook (JSON array)   → 200 {"ok": true, …}
    POST /callbacks/mailgun/events    Mailgun webhook (JSON, one event)      → 200 {"ok": true, …}

SendGrid: with `[inbound.sendgrid] verification_key` (the public key shown when the Signed Event Webhook is enabled;
public, so it may stand in winback.toml) or `verification_key_env`, every request must carry a valid ECDSA
signature and a timestamp within `[inbound] signature_window` seconds of now: a bad or missing signature, or a
stale timestamp (a replay), is refused with 403 and changes nothing. Without a key, the webhook URL must carry
`?token=` (the value of the variable `[inbound.sendgrid] token_env` names); with neither, 503.

Mailgun: `[inbound.mailgun] signing_key_env` (default MAILGUN_WEBHOOK_SIGNING_KEY) names the HTTP webhook signing
key. A wrong signature, a timestamp outside the window, or a token seen before (a replay) is refused with 406 —
Mailgun's documented "rejected, do not retry" — and changes nothing.

Receipts go through apply.apply_receipts (dedup, bounces and complaints suppress the address, brakes);
unsubscribes through apply.journal_replies (the opt-out journal, then the database), like an SMS STOP.
Each provider's `channel` defaults to email.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.inbound import apply
from console.inbound.bodies import ReplayGuard, TooLarge, parsed_body, read_limited
from console.inbound.callbacks import _log, provider_settings
from console.inbound.email_events import (
    SENDGRID_SIGNATURE_HEADER,
    SENDGRID_TIMESTAMP_HEADER,
    mailgun_event,
    mailgun_signature_valid,
    sendgrid_events,
    sendgrid_public_key,
    sendgrid_signature_valid,
)
from console.inbound.mapping import inbound_settings, signature_window
from console.inbound.provider_records import Read
from console.policy.consent import CHANNELS

PATHS = {"sendgrid": "/callbacks/sendgrid/events", "mailgun": "/callbacks/mailgun/events"}
DEFAULT_SENDGRID_TOKEN_ENV = "WINBACK_SENDGRID_CALLBACK_TOKEN"
DEFAULT_MAILGUN_KEY_ENV = "MAILGUN_WEBHOOK_SIGNING_KEY"
# Mailgun: "406 Not Acceptable: the POST is rejected and not retried" (its webhook documentation).
MAILGUN_REFUSED = 406


def _refusal(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def _sendgrid_key(config: Config) -> tuple[Any, str | None]:
    """(public key or None, what is wrong with the configured one or None)."""
    settings = provider_settings(config, "sendgrid")
    text = str(settings.get("verification_key") or "").strip()
    env = str(settings.get("verification_key_env") or "").strip()
    where = "[inbound.sendgrid] verification_key"
    if not text and env:
        text = os.environ.get(env, "").strip()
        where = f"${env} ([inbound.sendgrid] verification_key_env)"
        if not text:
            return None, f"{where} is not set"
    if not text:
        return None, None
    try:
        return sendgrid_public_key(text), None
    except ValueError as exc:
        return None, f"{where}: {exc}"


def email_routes(config: Config, connections: Any, limit: int, db_path: Path) -> list[Route]:
    """The SendGrid and Mailgun routes for create_app (console/inbound/app.py)."""
    replay_guard = ReplayGuard(db_path)

    def channel_of(provider: str) -> str:
        return str(provider_settings(config, provider).get("channel") or "email")

    async def body_of(request: Request) -> tuple[bytes | None, Response | None]:
        try:
            return await read_limited(request, limit), None
        except TooLarge:
            return None, _refusal(413, f"body larger than {limit} bytes")
        except BadInput as exc:
            return None, _refusal(400, str(exc))

    async def record(provider: str, read: Read) -> Response:
        channel = channel_of(provider)
        if channel not in CHANNELS:
            return _refusal(503, f"[inbound.{provider}] channel = {channel!r}: choose one of {', '.join(CHANNELS)}")

        def work(db: Any) -> dict[str, Any]:
            summary: dict[str, Any] = {}
            if read.receipts:
                summary["receipts"] = apply.apply_receipts(db, config, channel, read.receipts, source=provider)
            if read.replies:
                summary["opt_outs"] = apply.journal_replies(db, config, channel, read.replies, source=provider)
            return summary

        try:
            summary = await run_in_threadpool(lambda: work(connections.get()))
        except BadInput as exc:
            return _refusal(400, str(exc))
        _log(provider, "events", read, summary.get("receipts", {}))
        return JSONResponse({"ok": True, "receipts": len(read.receipts), "opt_outs": len(read.replies),
                             "skipped": len(read.skipped)})

    async def sendgrid(request: Request) -> Response:
        key, problem = _sendgrid_key(config)
        if problem:
            return _refusal(503, f"SendGrid events refused: {problem}")
        if key is None:
            env = str(provider_settings(config, "sendgrid").get("token_env") or DEFAULT_SENDGRID_TOKEN_ENV)
            expected = os.environ.get(env)
            if not expected:
                return _refusal(503, "SendGrid events not configured: set [inbound.sendgrid] verification_key "
                                f"(Signed Event Webhook) or ${env} (?token= in the webhook URL)")
            given = request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return _refusal(401, "missing or wrong token in the webhook URL (?token=…)")
        raw, refused = await body_of(request)
        if refused is not None or raw is None:
            return refused or _refusal(400, "no body")
        if key is not None:
            stamp = request.headers.get(SENDGRID_TIMESTAMP_HEADER, "")
            if not sendgrid_signature_valid(key, request.headers.get(SENDGRID_SIGNATURE_HEADER), stamp, raw):
                return _refusal(403, "missing or wrong X-Twilio-Email-Event-Webhook-Signature (checked with "
                                "[inbound.sendgrid] verification_key over the timestamp and the body)")
            window = signature_window(config)
            if not stamp.strip().isdigit() or abs(now_ts() - int(stamp)) > window:
                return _refusal(403, f"X-Twilio-Email-Event-Webhook-Timestamp is more than {window} s away from "
                                "now: stale or replayed")
        try:
            body = parsed_body(raw, "application/json")
        except BadInput as exc:
            return _refusal(400, str(exc))
        return await record("sendgrid", sendgrid_events(body, config, channel_of("sendgrid")))

    async def mailgun(request: Request) -> Response:
        env = str(provider_settings(config, "mailgun").get("signing_key_env") or DEFAULT_MAILGUN_KEY_ENV)
        signing_key = os.environ.get(env)
        if not signing_key:
            return _refusal(503, f"Mailgun webhooks not configured: set ${env} (the HTTP webhook signing key)")
        raw, refused = await body_of(request)
        if refused is not None or raw is None:
            return refused or _refusal(400, "no body")
        try:
            body = parsed_body(raw, "application/json")
        except BadInput as exc:
            return _refusal(400, str(exc))
        signed = body.get("signature") if isinstance(body, dict) else None
        parts = [str(signed.get(k) or "") if isinstance(signed, dict) else "" for k in ("timestamp", "token",
                                                                                        "signature")]
        stamp, token, signature = parts
        if not all(parts) or not mailgun_signature_valid(signing_key, stamp, token, signature):
            return _refusal(MAILGUN_REFUSED, "missing or wrong signature (HMAC-SHA256 of timestamp + token under "
                            f"${env})")
        window = signature_window(config)
        if not stamp.strip().isdigit() or abs(now_ts() - int(stamp)) > window:
            return _refusal(MAILGUN_REFUSED, f"signature timestamp is more than {window} s away from now: stale "
                            "or replayed")
        first = await run_in_threadpool(lambda: replay_guard.first_use(f"mailgun:{token}", window))
        if not first:
            return _refusal(MAILGUN_REFUSED, "this signature token was used before: a replayed request is refused")
        data = body.get("event-data")
        if not isinstance(data, dict):
            return _refusal(400, "no event-data object")
        return await record("mailgun", mailgun_event(data, config, channel_of("mailgun")))

    return [Route(PATHS["sendgrid"], sendgrid, methods=["POST"]),
            Route(PATHS["mailgun"], mailgun, methods=["POST"])]


def startup_warnings(config: Config) -> list[str]:
    """What `winback serve` says at start about email webhooks configured but not usable yet."""
    warnings = []
    settings = inbound_settings(config)
    if "sendgrid" in settings:
        key, problem = _sendgrid_key(config)
        env = str(provider_settings(config, "sendgrid").get("token_env") or DEFAULT_SENDGRID_TOKEN_ENV)
        if problem:
            warnings.append(f"/callbacks/sendgrid/events will be refused (503): {problem}")
        elif key is None and not os.environ.get(env):
            warnings.append(f"/callbacks/sendgrid/events needs [inbound.sendgrid] verification_key or ${env}: "
                            "refused (503) until one is set")
    if "mailgun" in settings:
        env = str(provider_settings(config, "mailgun").get("signing_key_env") or DEFAULT_MAILGUN_KEY_ENV)
        if not os.environ.get(env):
            warnings.append(f"${env} is not set: /callbacks/mailgun/events will be refused (503) until it is")
    return warnings
