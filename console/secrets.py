"""Secrets: the workspace secret, and the channel secrets named by environment variable (checked, scrubbed).

The workspace secret is generated once, kept in the `settings` table and used to derive unguessable values.

Coupon codes (console/message_context.py) and unsubscribe tokens (inbound) are keyed hashes under this
secret, so they can be recomputed and checked later without storing one row per recipient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as _stdlib_secrets
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from console.errors import ChannelSecretError, ChannelSettingError

SETTING_KEY = "workspace_secret"

# Crockford base32 without I, L, O, U: nothing a customer can misread when typing a code.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def workspace_secret(db: sqlite_utils.Database) -> bytes:
    """The workspace's 32-byte secret, created on first use (race-safe: the first writer wins)."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
    if row is None:
        db.execute(
            "INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)",
            [SETTING_KEY, _stdlib_secrets.token_hex(32)],
        )
        row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
    return bytes.fromhex(row[0])


def keyed_hash(secret: bytes, *parts: object) -> bytes:
    """HMAC-SHA256 of the parts joined unambiguously."""
    message = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).digest()


_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CODE_ALPHABET.encode())


def readable_code(digest: bytes, length: int = 10) -> str:
    """*length* characters of Crockford base32 from a digest (5 bits each: 10 characters = 50 bits)."""
    return base64.b32encode(digest[:20]).translate(_CROCKFORD)[:length].decode()


def coupon_code(secret: bytes, campaign: object, user_id: int) -> str:
    """The coupon code of one recipient in one campaign: unique, unguessable, recomputable."""
    return readable_code(keyed_hash(secret, "coupon", campaign, user_id))


# -- secrets named by environment variable (channel tokens, SMTP credentials) -------------------------------------
# winback.toml names a variable (token_env = "WB_SMS_TOKEN"); the value lives only in the environment. It is checked
# before a launch writes anything, and never written to the database, a log or an error message.


def secret_problem(value: str) -> str | None:
    """What makes an environment value unusable as a secret, in words that never include the value; None if fine.

    A stray `\\r` (an env file saved with CRLF) or any other control character cannot go into an HTTP header or an
    SMTP login: the HTTP library refuses the request (echoing the header), or the server refuses the login.
    """
    if value == "":
        return "is empty"
    for i, ch in enumerate(value):
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            name = {"\r": "a carriage return (\\r: a file saved with Windows line endings?)",
                    "\n": "a line break (\\n)", "\t": "a tab"}.get(ch, f"control character U+{ord(ch):04X}")
            return f"ends with {name}" if i == len(value) - 1 else f"holds {name}"
    if value != value.strip():
        return "starts or ends with a space"
    return None


def env_secret(settings: dict[str, Any], key: str, where: str) -> str | None:
    """The secret held in the environment variable that `settings[key]` names; None when the key is not set.

    A named variable that is missing, empty or holds a control character or surrounding whitespace is a
    ChannelSecretError naming the variable (never its value): the channel cannot be used as configured.
    """
    env_name = settings.get(key)
    if not env_name:
        return None
    return checked_env(str(env_name), f"{where} {key} = {env_name!r}", key=key)


def required_env_secret(settings: dict[str, Any], key: str, where: str, holding: str = "it") -> str:
    """env_secret for a setting the channel cannot do without: unset is a ChannelSettingError naming the setting
    (winback.toml's mistake: open_channel says it with the file and the line)."""
    value = env_secret(settings, key, where)
    if value is None:
        what = f"write {key} = \"NAME\" (the environment variable holding {holding})"
        raise ChannelSettingError(f"{where} needs {key} = \"NAME\" (the environment variable holding {holding})",
                                  key=key, problem=f"missing: {what}" if key not in settings
                                  else f"{settings[key]!r}: {what}", missing=key not in settings)
    return value


def checked_env(env_name: str, where: str, *, key: str | None = None) -> str:
    """The value of environment variable `env_name`, validated as a secret (see env_secret). `key`: the setting
    that names it (within its channel's table), for the words that say where winback.toml names it."""
    value = os.environ.get(env_name)
    if value is None:
        raise ChannelSecretError(f"{where}: environment variable {env_name} is not set", env=env_name, key=key,
                                 problem="is not set: set it in the environment winback runs in")
    problem = secret_problem(value)
    if problem:
        raise ChannelSecretError(f"{where}: environment variable {env_name} {problem}; fix the value where it is "
                                 "set (nothing was sent)", env=env_name, key=key,
                                 problem=f"{problem}: fix the value where it is set")
    return value


SCRUBBED = "[secret]"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every known secret value (as written, and as repr() would escape it) replaced by [secret].

    For error texts a transport builds from a library's exception or a provider's reply: a provider that echoes
    the Authorization header, an HTTP library that quotes the illegal header value it refused.
    """
    for secret in secrets:
        if not secret or len(secret) < 4:   # too short to tell from ordinary text (and not a real credential)
            continue
        for form in {secret, secret.strip(), repr(secret)[1:-1], repr(secret.encode("utf-8"))[2:-1]}:
            if len(form) >= 4:
                text = text.replace(form, SCRUBBED)
    return text
