"""Twilio's webhook signature (`X-Twilio-Signature`): Base64 of HMAC-SHA1, keyed with the account's auth token, of
the full URL Twilio requested (scheme, host, path and query) followed by every POST parameter's name and value,
sorted by name (and, for a repeated name, by value).

Twilio signs the URL it called — the public one. Behind a reverse proxy the request winback sees has another
scheme, host or port, so the URL is rebuilt from `[inbound.twilio] public_url` (console/inbound/callbacks.py).
Like Twilio's own validator, a URL is accepted with or without its default port (Twilio is inconsistent there).
Checked in tests against `twilio.request_validator.RequestValidator`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

SIGNATURE_HEADER = "x-twilio-signature"
# Twilio names the algorithm here when a webhook is signed with a shared key (default: HMAC-SHA1, auth token).
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
_ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def compute(auth_token: str, url: str, params: Iterable[tuple[str, str]], algorithm: str = "HMAC_SHA1") -> str:
    """The signature Twilio would send for a POST of *params* (name, value pairs; repeats allowed) to *url*."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    text = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), _ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode("ascii")


def algorithm_of(settings_header: str | None) -> str | None:
    """HMAC_SHA1 unless X-Twilio-Webhooks-Signature-Settings names another; None for one we do not know."""
    for part in (settings_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            algorithm = value.strip().upper()
            return algorithm if algorithm in _ALGORITHMS else None
    return "HMAC_SHA1"


def port_variants(url: str) -> list[str]:
    """*url* without any port, and with its port (the scheme's default when it has none): Twilio may have signed
    either (the same two forms Twilio's own validator tries)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    auth, _, hostport = netloc.rpartition("@")
    prefix = f"{auth}@" if auth else ""
    host = hostport.rsplit(":", 1)[0] if parts.port is not None else hostport
    without = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}"))
    return [without, with_port]


def valid(auth_token: str, url: str, params: list[tuple[str, str]], signature: str | None,
          settings_header: str | None = None) -> bool:
    """True when *signature* is Twilio's for this URL and these parameters (compared in constant time)."""
    if not signature:
        return False
    algorithm = algorithm_of(settings_header)
    if algorithm is None:
        return False
    given = signature.strip().encode("utf-8")
    return any(hmac.compare_digest(compute(auth_token, candidate, params, algorithm).encode("ascii"), given)
               for candidate in port_variants(url))
