"""The workspace secret: generated once, kept in the `settings` table, used to derive unguessable values.

Coupon codes (console/message_context.py) and unsubscribe tokens (inbound) are keyed hashes under this
secret, so they can be recomputed and checked later without storing one row per recipient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _stdlib_secrets

import sqlite_utils

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
