"""Unsubscribe tokens: `{user}.{channel}.{campaign}.{mac}`, the mac a keyed signature (HMAC-SHA256 under the
workspace secret, console.secrets) of exactly those three values, truncated to 128 bits.

Nothing is stored per token: the server recomputes the signature and compares in constant time. Changing any
part of the token, or signing with another workspace's secret, gives a token that does not verify.
"""

from __future__ import annotations

import hmac
import re

import sqlite_utils

from console import secrets

MAC_HEX = 32  # 128 bits: forging one means guessing it
_TOKEN = re.compile(r"^([1-9][0-9]{0,18})\.([a-z]{1,16})\.([1-9][0-9]{0,18})\.([0-9a-f]{32})$")


def _mac(secret: bytes, user_id: int, channel: str, campaign_id: int) -> str:
    return secrets.keyed_hash(secret, "unsubscribe", user_id, channel, campaign_id).hex()[:MAC_HEX]


def token_for(secret: bytes, user_id: int, channel: str, campaign_id: int) -> str:
    """The token under an already-read workspace *secret* (renderers read the secret once per batch).

    The one place a token is made: `unsubscribe_token` and console.message_context both call it, so the links
    the renderer writes and the ones the server verifies cannot drift apart.
    """
    return f"{int(user_id)}.{channel}.{int(campaign_id)}.{_mac(secret, int(user_id), channel, int(campaign_id))}"


def unsubscribe_token(db: sqlite_utils.Database, user_id: int, channel: str, campaign_id: int) -> str:
    """The token for one recipient of one campaign on one channel (goes into the unsubscribe link)."""
    return token_for(secrets.workspace_secret(db), user_id, channel, campaign_id)


def verify_unsubscribe_token(db: sqlite_utils.Database, token: str) -> tuple[int, str, int] | None:
    """(user_id, channel, campaign_id) when the token is genuine, else None."""
    match = _TOKEN.match(token or "")
    if match is None:
        return None
    user_id, channel, campaign_id, mac = int(match[1]), match[2], int(match[3]), match[4]
    expected = _mac(secrets.workspace_secret(db), user_id, channel, campaign_id)
    if not hmac.compare_digest(expected, mac):
        return None
    return user_id, channel, campaign_id
