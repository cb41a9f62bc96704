"""What the email API transports (SendGrid, Mailgun) share: one POST and what its outcome means, the sender
address, and the headers a winback email carries (the same as over SMTP: console/channels/smtp.py).

Outcomes (at-most-once: neither provider deduplicates for us):
- a connection that could not be made → Unreachable (nothing left); a request our side cannot build →
  RequestNotSent (nothing left, and retrying will not help);
- 429 → TemporaryFailure (retried with backoff, Retry-After honoured by the base class);
- 5xx, a cut connection or a read timeout after the request left → AmbiguousFailure (`unknown`: the provider may
  have queued the message, so it is never resent blindly);
- any other status ≥ 300 → PermanentFailure with the provider's own message;
- 2xx → the caller reads the provider id from the reply.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parseaddr
from typing import Any

import httpx

from console.channels.base import (
    AmbiguousFailure,
    ChannelSettingError,
    Message,
    PermanentFailure,
    TemporaryFailure,
    Unreachable,
)
from console.channels.http import RequestNotSent, _excerpt
from console.channels.replies import read_capped
from console.channels.retry_after import retry_after_seconds
from console.channels.smtp import _encode_header
from console.secrets import scrub

MAX_REPLY_BYTES = 64 * 1024


def endpoint_of(settings: dict[str, Any], default: str, where: str) -> str:
    """The `endpoint` setting (default: the provider's public API), checked to be an http(s) URL."""
    base = str(settings.get("endpoint") or default).rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ChannelSettingError(f"{where} endpoint = {base!r} is not an http(s) URL", key="endpoint",
                                  problem=f"{base!r} is not an http(s) URL: give one such as {default!r} (or leave "
                                          "it out)")
    try:
        httpx.URL(base)
    except httpx.InvalidURL as exc:
        raise ChannelSettingError(f"{where} endpoint = {base!r} is not a URL: {exc}", key="endpoint",
                                  problem=f"{base!r} is not a URL: {exc}") from exc
    return base


def address_setting(settings: dict[str, Any], key: str, where: str, *, required: bool) -> tuple[str, str] | None:
    """`from` / `reply_to` = "Name <address>" (or a bare address) as (name, address); None when absent."""
    raw = str(settings.get(key) or "").strip()
    if not raw:
        if required:
            need = f"{key} = \"Name <address@your-domain>\" (a sender your provider has verified)"
            raise ChannelSettingError(f"{where} needs {need}", key=key, missing=key not in settings,
                                      problem=f"{'missing' if key not in settings else 'empty'}: write {need}")
        return None
    name, address = parseaddr(raw)
    if "@" not in address or any(c in raw for c in "\r\n"):
        raise ChannelSettingError(f"{where} {key} = {raw!r} is not an email address (\"Name <address@domain>\")",
                                  key=key, problem=f"{raw!r} is not an email address: write \"Name <address@domain>\"")
    return name, address


def winback_headers(message: Message, mailto: str | None) -> dict[str, str]:
    """RFC 2369/8058 List-Unsubscribe (+ one-click POST) and the campaign, as the SMTP channel writes them."""
    headers: dict[str, str] = {}
    links = []
    if message.unsubscribe_url:
        links.append(f"<{message.unsubscribe_url}>")
    if mailto:
        links.append(f"<mailto:{mailto}?subject=unsubscribe>")
    if links:
        headers["List-Unsubscribe"] = ", ".join(links)
    if message.unsubscribe_url:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["X-Winback-Campaign"] = _encode_header(message.campaign)   # RFC 2047 when not ASCII, one line
    return headers


def bare_id(message: Message) -> str:
    """winback's message id without its angle brackets, as it travels in custom_args / v: variables (put back by
    console.inbound.provider_records.message_id_of)."""
    return message.message_id.strip().strip("<>")


def post(client: httpx.Client, url: str, provider: str, secrets: list[str],
         error_of: Callable[[bytes], str | None], **request: Any) -> tuple[httpx.Response, bytes, bool]:
    """POST once; (response, reply body, read whole) for a 2xx, else raise what the outcome means (module doc).
    Every error text is scrubbed of the channel's secrets."""
    try:
        built = client.build_request("POST", url, **request)
    except (TypeError, ValueError) as exc:
        raise RequestNotSent(scrub(f"request not sent: {type(exc).__name__}: {exc}", secrets)) from None
    try:
        response = client.send(built, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise Unreachable(scrub(f"cannot reach {url}: {type(exc).__name__}: {exc}", secrets)) from None
    except httpx.PoolTimeout as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
    except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
        raise RequestNotSent(scrub(f"request not sent: {type(exc).__name__}: {exc}", secrets)) from None
    except httpx.TransportError as exc:
        raise AmbiguousFailure(scrub(f"no reply from {provider}: {type(exc).__name__}: {exc} — it may have been "
                                     "queued, so it is not resent", secrets)) from None
    try:
        status = response.status_code
        raw, whole = read_capped(response, MAX_REPLY_BYTES)
    finally:
        response.close()
    words = scrub(error_of(raw) or _excerpt(raw), secrets)
    if status == 429:
        raise TemporaryFailure(f"{provider} HTTP 429 {words}", retry_after_seconds(response))
    if status >= 500:
        raise AmbiguousFailure(f"{provider} HTTP {status} after the request was sent: {words} — it may have been "
                               "queued, so it is not resent")
    if status >= 300:
        raise PermanentFailure(f"{provider} refused (HTTP {status}): {words}")
    return response, raw, whole

