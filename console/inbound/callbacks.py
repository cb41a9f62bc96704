"""Provider callbacks in `winback serve`: delivery receipts and replies posted by Aliyun, Tencent and Twilio in
their own formats, answered with the exact acknowledgement each provider expects. See docs/inbound.md.

    POST /callbacks/aliyun/receipts?token=…    Aliyun SmsReport (状态报告)     → {"code":0,"msg":"接收成功"}
    POST /callbacks/aliyun/replies?token=…     Aliyun SmsUp (上行)             → {"code":0,"msg":"接收成功"}
    POST /callbacks/tencent/receipts?token=…   Tencent 短信下发状态回调          → {"result":0,"errmsg":"OK"}
    POST /callbacks/tencent/replies?token=…    Tencent 短信回复回调             → {"result":0,"errmsg":"OK"}
    POST /callbacks/twilio/status              Twilio status callback (form)   → empty TwiML
    POST /callbacks/twilio/inbound             Twilio incoming message (form)  → empty TwiML

Aliyun and Tencent sign nothing and cannot send a header of ours, so their callback URLs carry a token
(`?token=`, the value of the variable `[inbound.aliyun] token_env` names, default WINBACK_ALIYUN_CALLBACK_TOKEN;
Tencent likewise): without it, 401 and nothing changes. Twilio's requests carry `X-Twilio-Signature`, checked
against `[inbound.twilio] public_url` + the path and query (the URL Twilio called, not the one a proxy forwards):
without a valid one, 403 and nothing changes.

Receipts go through apply.apply_receipts (ledger, dedup by receipts.dedup_key, bounces, brakes); replies through
apply.journal_replies (the opt-out journal, then the database): an R/TD/退订/STOP suppresses the number on the
channel at once. A receipt whose id matches no send is recorded unmatched and counted (audit entry and a log line),
never refused: the provider would only send it again.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.config import Config
from console.errors import BadInput
from console.inbound import apply, twilio_signature
from console.inbound.bodies import TooLarge, parsed_body, read_limited
from console.inbound.mapping import inbound_settings
from console.inbound.provider_records import (
    Read,
    aliyun_receipts,
    aliyun_replies,
    tencent_receipts,
    tencent_replies,
    twilio_receipt,
    twilio_reply,
)
from console.policy.consent import CHANNELS

# uvicorn prints this logger's lines (winback serve's output), and the audit log keeps the counts.
log = logging.getLogger("uvicorn.error.winback")

ALIYUN_ACK = json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
TENCENT_ACK = json.dumps({"result": 0, "errmsg": "OK"}, separators=(",", ":")).encode("utf-8")
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
DEFAULT_TOKEN_ENV = {"aliyun": "WINBACK_ALIYUN_CALLBACK_TOKEN", "tencent": "WINBACK_TENCENT_CALLBACK_TOKEN"}
DEFAULT_TWILIO_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
PATHS = {
    ("aliyun", "receipts"): "/callbacks/aliyun/receipts",
    ("aliyun", "replies"): "/callbacks/aliyun/replies",
    ("tencent", "receipts"): "/callbacks/tencent/receipts",
    ("tencent", "replies"): "/callbacks/tencent/replies",
    ("twilio", "receipts"): "/callbacks/twilio/status",
    ("twilio", "replies"): "/callbacks/twilio/inbound",
}


def provider_settings(config: Config, provider: str) -> dict[str, Any]:
    """[inbound.<provider>]: token_env / auth_token_env, public_url (Twilio), channel (default sms)."""
    section = inbound_settings(config).get(provider, {})
    return dict(section) if isinstance(section, dict) else {}


def twilio_channel(config: Config) -> Mapping[str, Any]:
    """The settings of the first channel sending through Twilio ({} when none does)."""
    for table in config.channels.values():
        if isinstance(table, dict) and str(table.get("transport", "")).strip().lower() == "twilio":
            return table
    return {}


def twilio_check(config: Config) -> tuple[str, str]:
    """(the variable holding the auth token, the public URL) that X-Twilio-Signature is checked with.

    `[inbound.twilio]` decides; without its keys, the Twilio channel's: the same account's auth token signs the
    callbacks (`auth_token_env`), and `status_callback` is where Twilio calls winback serve — its part before
    /callbacks/twilio/status is the public URL. An operator who followed the channel's recipe needs no more."""
    settings = provider_settings(config, "twilio")
    channel = twilio_channel(config)
    env = str(settings.get("auth_token_env") or channel.get("auth_token_env") or DEFAULT_TWILIO_TOKEN_ENV)
    public_url = str(settings.get("public_url") or "").strip()
    if not public_url:
        callback = str(channel.get("status_callback") or "").split("?", 1)[0].strip()
        if callback.endswith(PATHS[("twilio", "receipts")]):
            public_url = callback[:-len(PATHS[("twilio", "receipts")])]
    return env, public_url.rstrip("/")


def _ack(provider: str) -> Response:
    if provider == "aliyun":
        return Response(ALIYUN_ACK, media_type="application/json")
    if provider == "tencent":
        return Response(TENCENT_ACK, media_type="application/json")
    return Response(EMPTY_TWIML, media_type="text/xml")


def _refusal(provider: str, status: int, message: str) -> Response:
    """A refusal in the provider's own reply shape (non-zero code): its console shows the message, and it retries."""
    if provider == "aliyun":
        return JSONResponse({"code": 1, "msg": message}, status_code=status)
    if provider == "tencent":
        return JSONResponse({"result": 1, "errmsg": message}, status_code=status)
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def callback_routes(config: Config, connections: Any, limit: int) -> list[Route]:
    """The six provider routes for create_app (console/inbound/app.py)."""
    async def body_of(request: Request, provider: str) -> tuple[bytes | None, Response | None]:
        try:
            return await read_limited(request, limit), None
        except TooLarge:
            return None, _refusal(provider, 413, f"body larger than {limit} bytes")
        except BadInput as exc:
            return None, _refusal(provider, 400, str(exc))

    def token_refusal(request: Request, provider: str) -> Response | None:
        env = str(provider_settings(config, provider).get("token_env") or DEFAULT_TOKEN_ENV[provider])
        expected = os.environ.get(env)
        if not expected:
            return _refusal(provider, 503, f"{provider} callback token not configured: set ${env}")
        given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return _refusal(provider, 401, "missing or wrong token in the callback URL (?token=…)")
        return None

    async def record(provider: str, kind: str, read: Read) -> Response:
        channel = settings_channel(provider)
        if channel not in CHANNELS:
            return _refusal(provider, 503, f"[inbound.{provider}] channel = {channel!r}: choose one of "
                            f"{', '.join(CHANNELS)}")

        def work(db: Any) -> Mapping[str, Any]:   # a summary for _log; {} when the callback held nothing
            if kind == "receipts":
                if not read.receipts:
                    return {}
                return apply.apply_receipts(db, config, channel, read.receipts, source=provider)
            if not read.replies:
                return {}
            return apply.journal_replies(db, config, channel, read.replies, source=provider)

        try:
            summary = await run_in_threadpool(lambda: work(connections.get()))
        except BadInput as exc:
            return _refusal(provider, 400, str(exc))
        _log(provider, kind, read, summary)
        return _ack(provider)

    def china_route(provider: str, kind: str, reader: Callable[[Any], Read]) -> Route:
        async def endpoint(request: Request) -> Response:
            refused = token_refusal(request, provider)
            if refused is not None:
                return refused
            raw, refused = await body_of(request, provider)
            if refused is not None or raw is None:
                return refused or _refusal(provider, 400, "no body")
            try:
                # JSON whatever the Content-Type says (providers send text/plain or none at times)
                body = parsed_body(raw, "application/json")
            except BadInput as exc:
                return _refusal(provider, 400, str(exc))
            return await record(provider, kind, reader(body))

        return Route(PATHS[(provider, kind)], endpoint, methods=["POST"])

    def twilio_route(kind: str) -> Route:
        async def endpoint(request: Request) -> Response:
            env, public_url = twilio_check(config)
            token = os.environ.get(env)
            if not token or not public_url:
                return _refusal("twilio", 503, f"Twilio callbacks not configured: set ${env} and "
                                "[inbound.twilio] public_url")
            raw, refused = await body_of(request, "twilio")
            if refused is not None or raw is None:
                return refused or _refusal("twilio", 400, "no body")
            try:
                params = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                params = None
            query = request.url.query
            url = public_url + request.url.path + (f"?{query}" if query else "")
            if params is None or not twilio_signature.valid(
                    token, url, params, request.headers.get(twilio_signature.SIGNATURE_HEADER),
                    request.headers.get(twilio_signature.SETTINGS_HEADER)):
                return _refusal("twilio", 403, "missing or wrong X-Twilio-Signature (checked for the URL "
                                f"{public_url}{request.url.path}…)")
            form = dict(params)
            if kind == "receipts":
                return await record("twilio", kind, twilio_receipt(form, dict(request.query_params)))
            return await record("twilio", kind, twilio_reply(form, config, settings_channel("twilio")))

        return Route(PATHS[("twilio", kind)], endpoint, methods=["POST"])

    def settings_channel(provider: str) -> str:
        return str(provider_settings(config, provider).get("channel") or "sms")

    return [
        china_route("aliyun", "receipts", lambda body: aliyun_receipts(body, config, settings_channel("aliyun"))),
        china_route("aliyun", "replies", lambda body: aliyun_replies(body, config, settings_channel("aliyun"))),
        china_route("tencent", "receipts", tencent_receipts),
        china_route("tencent", "replies", lambda body: tencent_replies(body, config, settings_channel("tencent"))),
        twilio_route("receipts"),
        twilio_route("replies"),
    ]


def startup_warnings(config: Config) -> list[str]:
    """What `winback serve` says at start about provider callbacks configured in winback.toml but not usable yet."""
    warnings = []
    # a channel sending through the provider expects its receipts, even without an [inbound.PROVIDER] table
    # (its token_env has a default)
    transports = {str(table.get("transport", "")) for table in config.channels.values() if isinstance(table, dict)}
    for provider in ("aliyun", "tencent"):
        if provider in inbound_settings(config) or provider in transports:
            env = str(provider_settings(config, provider).get("token_env") or DEFAULT_TOKEN_ENV[provider])
            if not os.environ.get(env):
                warnings.append(f"${env} is not set: /callbacks/{provider}/… will be refused (503) until it is")
    if "twilio" in inbound_settings(config) or "twilio" in transports:
        env, public_url = twilio_check(config)
        if not os.environ.get(env) or not public_url:
            warnings.append(f"/callbacks/twilio/… need ${env} and [inbound.twilio] public_url (or the channel's "
                            "status_callback): refused (503) until both are set")
    return warnings


def _log(provider: str, kind: str, read: Read, summary: Mapping[str, Any]) -> None:
    """One line per callback that had something a person should know: unmatched ids, skipped records."""
    unmatched = int(summary.get("unmatched", 0) or 0)
    if unmatched:
        log.warning("%s %s: %d of %d receipts matched no send (unknown id; recorded unmatched)", provider, kind,
                    unmatched, summary.get("records", 0))
    if read.skipped:
        log.warning("%s %s: %d record(s) skipped: %s", provider, kind, len(read.skipped), "; ".join(read.skipped[:5]))
