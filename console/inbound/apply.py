"""The writes inbound messages make: receipts into the ledger, opt-outs into the suppression list.

Each call is one write transaction (BEGIN IMMEDIATE): a batch is read and checked completely first, and any bad
record raises BadInput before anything is written. Receipts are matched set-based (a temporary table joined to
`sends` on message_id, then provider_id), so a provider's daily report of 100,000 lines is one pass, not
100,000 lookups from Python.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import sqlite_utils

from console import audit
from console.campaigns import brakes, journal_fold, ledger, spent
from console.campaigns.answers import (  # a reply's and an unsubscribe's writes, beside the brakes they check
    USER_ADDRESS_COLUMN,
    PausedBy,
    Reply,
    ReplySummary,
    apply_replies,
    apply_unsubscribe,
    normal_or_none,
)
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.inbound.mapping import ReceiptMapping, pick, text_of
from console.policy import journal
from console.policy.optout import is_opt_out
from console.policy.provider_opt_outs import opt_out_source
from console.policy.suppression import Entry, insert_entry, normalise_address, record_opt_out
from console.unsubscribe import verify_unsubscribe_token
from storage.tx import immediate

# Ledger status a receipt moves a send to, and the states it may move from: console.campaigns.ledger.RECEIPT_MOVES.
TRANSITIONS = ledger.RECEIPT_MOVES
# Receipt kinds that put the address on the suppression list, with the suppression reason.
SUPPRESSING = {"bounced": "bounce", "complaint": "complaint"}


def _numbered(records: Iterable[dict[str, Any]], numbers: Sequence[int] | None):
    """(number, record) pairs: the given numbers (file lines), else 1, 2, 3..."""
    return zip(numbers, records, strict=True) if numbers is not None else enumerate(records, start=1)


@dataclass
class Receipt:
    seq: int
    message_id: str | None
    provider_id: str | None
    kind: str
    provider_status: str
    detail: str | None
    # The recipient's normalised address, for providers whose id is shared by every number of one request
    # (Aliyun's BizId, OutId): with it, a receipt matches only the send to that address (console/inbound/callbacks).
    address: str | None = None


def read_receipts(records: Iterable[dict[str, Any]], mapping: ReceiptMapping, *, label: str = "record",
                  numbers: Sequence[int] | None = None) -> list[Receipt]:
    """Check every record against the mapping; BadInput naming each bad record (and nothing returned)."""
    fields = mapping.fields
    out: list[Receipt] = []
    errors: list[str] = []
    for seq, record in _numbered(records, numbers):
        try:
            message_id = text_of(pick(record, fields["message_id"]))
            provider_id = text_of(pick(record, fields["provider_id"]))
            status = text_of(pick(record, fields["status"]))
            detail = text_of(pick(record, fields["error"]))
            if message_id is None and provider_id is None:
                raise BadInput(f"no {fields['message_id']!r} or {fields['provider_id']!r} to match a send by")
            if status is None:
                raise BadInput(f"no {fields['status']!r}")
            kind = mapping.kind_of(status)
            if kind is None:
                raise BadInput(f"status {status!r} is not in the status mapping ([inbound.receipts.<channel>.statuses])")
        except BadInput as exc:
            errors.append(f"{label} {seq}: {exc}")
            continue
        out.append(Receipt(seq, message_id, provider_id, kind, status, detail))
    if errors:
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise BadInput("; ".join(errors[:20]) + more + ". Nothing was recorded.")
    return out


def receipt_key(channel: str, receipt: Receipt) -> str:
    """What makes two receipts the same one: channel, message and provider ids, the provider's status word and
    detail (not where it came from: the callback and the daily report of one delivery are one receipt)."""
    parts = [channel, receipt.message_id, receipt.provider_id, receipt.provider_status, receipt.detail]
    if receipt.address is not None:   # one shared BizId, several numbers: each number's receipt is its own
        parts.append(receipt.address)
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


class ReceiptSummary(TypedDict):
    """What apply_receipts did: `winback receipts import --json`, the inbound servers' answer."""
    records: int
    matched: int
    unmatched: int
    updated: int
    ignored: int
    duplicates: int
    suppressed: int
    paused: list[PausedBy]


def apply_receipts(
    db: sqlite_utils.Database, config: Config, channel: str, receipts: list[Receipt], *, source: str
) -> ReceiptSummary:
    """Record receipts, advance the ledger, suppress hard bounces and complaints, then check the brakes.

    A receipt already recorded (the same channel, ids, status and detail — a provider retrying its callback, a
    report imported twice, a replay) is counted in `duplicates` and changes nothing."""
    now = now_ts()
    summary: ReceiptSummary = {"records": len(receipts), "matched": 0, "unmatched": 0, "updated": 0,
                               "ignored": 0, "duplicates": 0, "suppressed": 0, "paused": []}
    with immediate(db):
        db.execute("DROP TABLE IF EXISTS temp.inbound_receipts")
        db.execute(
            "CREATE TEMP TABLE inbound_receipts (seq INTEGER PRIMARY KEY, message_id TEXT, "
            "provider_id TEXT, kind TEXT, provider_status TEXT, detail TEXT, send_id INTEGER, dedup_key TEXT, "
            "address TEXT)"
        )
        db.conn.executemany(
            "INSERT INTO temp.inbound_receipts (seq, message_id, provider_id, kind, provider_status, detail, "
            "dedup_key, address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.seq, r.message_id, r.provider_id, r.kind, r.provider_status, r.detail, receipt_key(channel, r),
              r.address) for r in receipts],
        )
        # Duplicates — of a receipt recorded before, or of an earlier record in this batch — are dropped here.
        before = db.execute("SELECT COUNT(*) FROM temp.inbound_receipts").fetchone()[0]
        db.execute("CREATE INDEX temp.inbound_receipts_key ON inbound_receipts(dedup_key, seq)")
        db.execute(
            "DELETE FROM temp.inbound_receipts WHERE EXISTS (SELECT 1 FROM receipts r "
            "WHERE r.dedup_key = inbound_receipts.dedup_key) OR seq > (SELECT MIN(t.seq) FROM temp.inbound_receipts t "
            "WHERE t.dedup_key = inbound_receipts.dedup_key)"
        )
        summary["duplicates"] = before - db.execute("SELECT COUNT(*) FROM temp.inbound_receipts").fetchone()[0]
        db.execute(
            """UPDATE temp.inbound_receipts SET send_id = COALESCE(
                   (SELECT s.id FROM sends s WHERE s.message_id = inbound_receipts.message_id AND s.channel = ?
                      AND (inbound_receipts.address IS NULL OR s.address = inbound_receipts.address)
                    ORDER BY s.id DESC LIMIT 1),
                   (SELECT s.id FROM sends s WHERE s.provider_id = inbound_receipts.provider_id AND s.channel = ?
                      AND (inbound_receipts.address IS NULL OR s.address = inbound_receipts.address)
                    ORDER BY s.id DESC LIMIT 1))""",
            [channel, channel],
        )
        counts = db.execute(
            "SELECT COUNT(send_id), COUNT(*) - COUNT(send_id), SUM(kind = 'ignore') FROM temp.inbound_receipts"
        ).fetchone()
        summary["matched"], summary["unmatched"], summary["ignored"] = counts[0], counts[1], counts[2] or 0
        # what was spent before these receipts: one that says its failure was not billed gives the booked cost
        # back to the budgets (console.campaigns.spent)
        spent.note_spent(db, "temp.inbound_receipts")
        db.execute(
            """INSERT INTO receipts (received_at, channel, kind, send_id, campaign_id, user_id, provider_status,
                                     detail, source, dedup_key)
               SELECT ?, ?, t.kind, t.send_id, s.campaign_id, s.user_id, t.provider_status, t.detail, ?, t.dedup_key
               FROM temp.inbound_receipts t LEFT JOIN sends s ON s.id = t.send_id
               WHERE t.kind != 'ignore' ORDER BY t.seq""",
            [now, channel, source],
        )
        # The latest receipt for a send decides (a batch may hold "failed" then "delivered" for one message).
        db.execute("CREATE INDEX IF NOT EXISTS temp.inbound_receipts_send ON inbound_receipts(send_id, seq)")
        db.execute("DROP TABLE IF EXISTS temp.inbound_latest")
        db.execute(
            """CREATE TEMP TABLE inbound_latest AS
               SELECT t.send_id AS send_id, t.kind AS kind, COALESCE(t.detail, t.provider_status) AS detail
               FROM temp.inbound_receipts t
               WHERE t.send_id IS NOT NULL AND t.kind != 'ignore'
                 AND t.seq = (SELECT MAX(t2.seq) FROM temp.inbound_receipts t2
                              WHERE t2.send_id = t.send_id AND t2.kind != 'ignore')"""
        )
        summary["updated"] += ledger.apply_receipts(db, "temp.inbound_latest", now)
        spent.refund_unbilled(db)
        # Hard bounces and complaints: few per batch, so each goes through the policy's own insert.
        for row in db.execute(
            """SELECT DISTINCT t.kind, s.address, s.user_id, s.channel FROM temp.inbound_receipts t
               JOIN sends s ON s.id = t.send_id WHERE t.kind IN ('bounced', 'complaint')"""
        ).fetchall():
            kind, address, user_id, send_channel = row
            reason = SUPPRESSING[kind]
            normal = normal_or_none(address, send_channel, config)
            # A bounce is about the address; a complaint is about the person too.
            entries = [Entry(send_channel, reason, address=normal)] if normal else []
            if kind == "complaint" or not normal:
                entries.append(Entry(send_channel, reason, user_id=user_id))
            for entry in entries:
                summary["suppressed"] += insert_entry(db, entry, source=f"receipt:{source}", at=now)[1]
        # A failure saying the recipient opted out at the provider (Twilio 21610 in a status callback) is an
        # opt-out, as from the send answer (console.policy.provider_opt_outs)
        for detail, address, send_channel in db.execute(
            """SELECT DISTINCT t.detail, s.address, s.channel FROM temp.inbound_receipts t
               JOIN sends s ON s.id = t.send_id WHERE t.kind = 'failed' AND t.detail IS NOT NULL""").fetchall():
            opted_out = opt_out_source(detail)
            if opted_out and address:
                record_opt_out(db, config, send_channel, address, source=opted_out, at=now)
        campaigns = [r[0] for r in db.execute(
            "SELECT DISTINCT s.campaign_id FROM temp.inbound_receipts t JOIN sends s ON s.id = t.send_id"
        ).fetchall()]
        audit.record(db, "inbound.receipts", channel=channel, source=source,
                     **{k: v for k, v in summary.items() if k != "paused"})
        for campaign_id in campaigns:
            brake = brakes.check(db, config, campaign_id)
            if brake:
                summary["paused"].append({"campaign_id": campaign_id, "reason": brake.reason})
        db.execute("DELETE FROM temp.inbound_receipts")
        db.execute("DROP TABLE temp.inbound_latest")
    return summary


def read_replies(records: Iterable[dict[str, Any]], fields: dict[str, str], channel: str, config: Config, *,
                 label: str = "record", numbers: Sequence[int] | None = None) -> list[Reply]:
    """Check every reply record: a readable sender address and a text. BadInput naming each bad record."""
    out: list[Reply] = []
    errors: list[str] = []
    for seq, record in _numbered(records, numbers):
        try:
            sender = text_of(pick(record, fields["from"]))
            text = pick(record, fields["text"])
            if sender is None:
                raise BadInput(f"no {fields['from']!r}")
            if text is None:
                raise BadInput(f"no {fields['text']!r}")
            text = str(text) if not isinstance(text, dict | list | bool) else None
            if text is None:
                raise BadInput(f"{fields['text']!r} is not text")
            out.append(Reply(seq, normalise_address(sender, channel, config.default_region), text))
        except BadInput as exc:
            errors.append(f"{label} {seq}: {exc}")
    if errors:
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise BadInput("; ".join(errors[:20]) + more + ". Nothing was recorded.")
    return out


def journal_replies(
    db: sqlite_utils.Database, config: Config, channel: str, replies: list[Reply], *, source: str
) -> ReplySummary:
    """Take replies as the inbound server does: into the opt-out journal first (durable at once, even while an
    import holds the database), then into the database if its write lock comes quickly. `pending` says they are
    only journaled for now (folded when the database is free, and before any later claim)."""
    path = journal.journal_for(db)
    if path is None:
        return apply_replies(db, config, channel, replies, source=source)
    now = now_ts()
    entries = [journal.new_entry("reply", channel, address=r.address, blocks=is_opt_out(r.text), at=now,
                                 text=r.text, source=source, scope=r.scope, key=r.key) for r in replies]
    journal.record(path, entries)
    summary = journal_fold.try_apply(db, config, entries)
    opt_outs = sum(e.blocks for e in entries)
    base: ReplySummary = {"records": len(replies), "opt_outs": opt_outs, "replies": len(replies) - opt_outs, "paused": []}
    if summary is None:
        return {**base, "pending": True}
    return {**base, "paused": summary.get("paused", []), "pending": False}


def unsubscribe(db: sqlite_utils.Database, config: Config, token: str) -> dict[str, Any] | None:
    """One-click unsubscribe (RFC 8058 POST): suppress the token's user on its channel. None for a token that
    does not verify (and nothing changes). Repeating it changes nothing more.

    Journaled first (durable at once, even while an import holds the database), then applied if the write lock
    comes quickly; `pending` says it is only journaled for now (folded when the database is free)."""
    found = verify_unsubscribe_token(db, token)
    if found is None:
        return None
    user_id, channel, campaign_id = found
    path = journal.journal_for(db)
    if path is None:
        return apply_unsubscribe(db, config, user_id, channel, campaign_id)
    column = USER_ADDRESS_COLUMN.get(channel)
    user = db.execute(f"SELECT id, {column or 'NULL'} FROM users WHERE id = ?", [user_id]).fetchone()
    if user is None:
        return None
    entry = journal.new_entry("unsubscribe", channel, user_id=user_id,
                              address=normal_or_none(user[1], channel, config), campaign_id=campaign_id)
    journal.record(path, [entry])
    summary = journal_fold.try_apply(db, config, [entry])
    result = {"user_id": user_id, "channel": channel, "campaign_id": campaign_id, "already": None, "paused": None,
              "pending": summary is None}
    if summary:
        result.update(already=summary.get("already"), paused=summary.get("paused"))
    return result


