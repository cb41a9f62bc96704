"""What comes back from the outside: delivery receipts, SMS replies, one-click unsubscribes (docs/inbound.md).

This package's top level imports no web framework, so the send pipeline can make unsubscribe tokens cheaply:

- `unsubscribe_token(db, user_id, channel, campaign_id)` → the token that goes into `/u/{token}` links;
- `verify_unsubscribe_token(db, token)` → (user_id, channel, campaign_id), or None for anything forged.

The web app is console.inbound.app (Starlette); the writes it makes are console.inbound.apply.
"""

from __future__ import annotations

from console.unsubscribe import unsubscribe_token, verify_unsubscribe_token

__all__ = ["unsubscribe_token", "verify_unsubscribe_token"]
