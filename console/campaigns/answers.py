"""What a person's answer writes: a reply (an opt-out — STOP, 退订, R … — suppresses the sender at once) and a
one-click unsubscribe, each with its receipt tied to the campaign it answers and that campaign's brakes checked.

Called when the database is free (console/inbound/apply.py) and when the opt-out journal is folded
(console/campaigns/journal_fold.py, also from the dispatcher's claim): here, beside the brakes, so that neither
the journal (console.policy) nor the claim has to import console.inbound, which imports them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import sqlite_utils

from console import audit
from console.campaigns import brakes
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.policy.consent import record_consent
from console.policy.optout import is_opt_out
from console.policy.suppression import Entry, insert_entry, normalise_address, record_opt_out
from storage.tx import immediate

# Where each channel's address lives on the user.
USER_ADDRESS_COLUMN = {"sms": "phone", "call": "phone", "email": "email", "push": "push_token"}


@dataclass
class Reply:
    seq: int
    address: str
    text: str
    # Where the provider scopes the reply (Aliyun's sign_name, Tencent's sign, Twilio's To number): kept in the
    # suppression's source. Suppressions are per channel, not per signature, so the number is stopped on the
    # whole channel.
    scope: str | None = None
    # The provider's own id for this reply (Aliyun sequence_id, Twilio MessageSid …): a provider posting the same
    # reply again (it retries a callback it thinks failed) is recorded once (receipts.dedup_key).
    key: str | None = None


def reply_key(channel: str, provider_key: str) -> str:
    """receipts.dedup_key of a reply the provider identified (kept apart from receipt keys by its prefix)."""
    return hashlib.sha256(json.dumps(["reply", channel, provider_key], ensure_ascii=False).encode()).hexdigest()


def normal_or_none(address: str | None, channel: str, config: Config) -> str | None:
    if not address:
        return None
    try:
        return normalise_address(address, channel, config.default_region)
    except BadInput:
        return None


class PausedBy(TypedDict):   # a campaign a brake paused while receipts or replies were applied
    campaign_id: int
    reason: str


class ReplySummary(TypedDict):
    """What applying (or journaling) replies did: `winback receipts import --replies --json`, the inbound servers."""
    records: int
    opt_outs: int
    replies: int
    paused: list[PausedBy]
    duplicates: NotRequired[int]   # replies seen before (the same key): nothing changed for them
    pending: NotRequired[bool]     # inbound.apply.journal_replies: only journaled for now


def apply_replies(
    db: sqlite_utils.Database, config: Config, channel: str, replies: list[Reply], *, source: str,
    received_at: int | None = None,
) -> ReplySummary:
    """Record replies; an opt-out (STOP, 退订, R, ...) suppresses the sender on this channel at once, which stops
    every send to them not yet claimed, and counts against the campaign they last heard from (brakes)."""
    now = now_ts() if received_at is None else received_at
    summary: ReplySummary = {"records": len(replies), "opt_outs": 0, "replies": 0, "paused": []}
    campaigns: set[int] = set()
    column = USER_ADDRESS_COLUMN.get(channel, "phone")
    with immediate(db):
        for reply in replies:
            dedup_key = reply_key(channel, reply.key) if reply.key else None
            if dedup_key and db.execute("SELECT 1 FROM receipts WHERE dedup_key = ?", [dedup_key]).fetchone():
                summary["duplicates"] = summary.get("duplicates", 0) + 1
                continue
            opt_out = is_opt_out(reply.text)
            # The campaign this reply answers: the latest message we handed over to a user with that address
            # (through the users' address index, then the ledger's per-user index: no ledger scan). Never a dry
            # run's or the demo's simulated rows: nothing of theirs reached anyone, so nothing can be answered.
            last = db.execute(
                f"""SELECT s.id, s.campaign_id, s.user_id FROM users u JOIN sends s ON s.user_id = u.id
                   WHERE u.{column} = ? AND s.channel = ? AND s.dry_run = 0
                     AND s.status IN ('sent', 'delivered', 'claimed', 'unknown')
                   ORDER BY COALESCE(s.sent_at, s.claimed_at) DESC, s.id DESC LIMIT 1""",
                [reply.address, channel],
            ).fetchone()
            send_id, campaign_id, user_id = last if last else (None, None, None)
            if user_id is None:
                row = db.execute(
                    f"SELECT id FROM users WHERE {column} = ? ORDER BY id LIMIT 1", [reply.address]
                ).fetchone()
                user_id = row[0] if row else None
            db.execute(
                """INSERT INTO receipts (received_at, channel, kind, send_id, campaign_id, user_id,
                                         provider_status, detail, source, dedup_key)
                   VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)""",
                [now, channel, "opt_out" if opt_out else "reply", send_id, campaign_id, user_id,
                 reply.text[:500], source, dedup_key],
            )
            if opt_out:
                scoped = f" ({reply.scope})" if reply.scope else ""
                record_opt_out(db, config, channel, reply.address, source=f"inbound:{channel}{scoped}", at=now)
                summary["opt_outs"] += 1
                if campaign_id is not None:
                    campaigns.add(campaign_id)
            else:
                summary["replies"] += 1
        for campaign_id in sorted(campaigns):
            brake = brakes.check(db, config, campaign_id)
            if brake:
                summary["paused"].append({"campaign_id": campaign_id, "reason": brake.reason})
    return summary


def apply_unsubscribe(db: sqlite_utils.Database, config: Config, user_id: int, channel: str, campaign_id: int, *,
                      at: int | None = None) -> dict[str, Any] | None:
    """The writes of a one-click unsubscribe: the person suppressed (whatever address they have later) and the
    address they had, consent withdrawn, one receipt, audited, brakes checked. None if the user is gone."""
    column = USER_ADDRESS_COLUMN.get(channel)
    now = now_ts() if at is None else at
    with immediate(db):
        user = db.execute(
            f"SELECT id, {column or 'NULL'} FROM users WHERE id = ?", [user_id]
        ).fetchone()
        if user is None:
            return None
        address = normal_or_none(user[1], channel, config)
        # The person is suppressed (whatever address they have later) and so is the address they had.
        _, created = insert_entry(db, Entry(channel, "opt_out", user_id=user_id), source="unsubscribe", at=now)
        if created:
            if address:
                record_opt_out(db, config, channel, address, source="unsubscribe", at=now)
            else:
                record_consent(db, user_id, channel, "withdrawn", source="unsubscribe", at=now)
            send = db.execute(
                "SELECT id FROM sends WHERE campaign_id = ? AND user_id = ? ORDER BY run DESC LIMIT 1",
                [campaign_id, user_id],
            ).fetchone()
            db.execute(
                """INSERT INTO receipts (received_at, channel, kind, send_id, campaign_id, user_id, source)
                   VALUES (?, ?, 'unsubscribe', ?, ?, ?, 'unsubscribe')""",
                [now, channel, send[0] if send else None, campaign_id, user_id],
            )
            audit.record(db, "inbound.unsubscribe", user_id=user_id, channel=channel, campaign_id=campaign_id)
        paused = brakes.check(db, config, campaign_id) if created else None
    return {"user_id": user_id, "channel": channel, "campaign_id": campaign_id, "already": not created,
            "paused": paused.reason if paused else None}
