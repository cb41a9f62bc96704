"""Frequency caps: rules {channel | any, max N, rolling window}; all apply and the strictest wins.

Counted against the send ledger across all campaigns: rows with counts_for_caps = 1 (real, not exempt) whose
status means the message went out or may have — `claimed` (in flight in another process), `sent`, `delivered`,
`bounced`, `unknown`, timed by their claim (claimed_at). Dry-runs, holdouts, skips and failures do not count. A
dispatch claimed at t counts against a check at time `at` while t > at - window: a rule N/W therefore admits at
most N dispatches in any W seconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import sqlite_utils

from console import audit
from console.audit import current_operator
from console.clock import now_ts
from console.errors import BadInput, NotFound
from console.policy.consent import CHANNELS
from storage.tx import immediate

COUNTED_STATUSES = ("claimed", "sent", "delivered", "bounced", "unknown")
COUNTED_SQL = "(" + ", ".join(f"'{s}'" for s in COUNTED_STATUSES) + ")"
# When a counted dispatch happened: its claim time. From the claim on, the message may be with the provider, so it
# counts; the dispatcher stamps claimed_at on every row it claims, and the ledger's sends_caps index
# (user_id, claimed_at, channel, status, counts_for_caps) WHERE counts_for_caps = 1 covers this query: no table reads.
DISPATCH_TIME_SQL = "s.claimed_at"
CAP_CHANNELS = (*CHANNELS, "any")

_RULE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*([hd])\s*$", re.IGNORECASE)
_WINDOW = re.compile(r"^\s*(\d+)\s*([hd])\s*$", re.IGNORECASE)
_UNIT = {"h": 3600, "d": 86400}


@dataclass(frozen=True)
class CapRule:
    """At most `max_count` dispatches on `channel` ('any' = all channels) per rolling `window_seconds`."""

    channel: str
    max_count: int
    window_seconds: int
    id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.channel} {self.max_count}/{format_window(self.window_seconds)}"

    def applies_to(self, channel: str) -> bool:
        return self.channel in ("any", channel)


def format_window(seconds: int) -> str:
    """7d, 36h, ... (days when whole)."""
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h"


def _folded(text: str) -> str:
    """What a Chinese input method types ('３／７ｄ', 'ｓｍｓ') read as its ASCII twin (NFKC), as quiet hours are."""
    return unicodedata.normalize("NFKC", text or "")


def parse_window(text: str) -> int:
    """'7d' or '12h' → seconds."""
    m = _WINDOW.match(_folded(text))
    if not m or int(m.group(1)) == 0:
        raise BadInput(f"window {text!r} is not understood; write it like 7d or 12h")
    return int(m.group(1)) * _UNIT[m.group(2).lower()]


def parse_rule(channel: str, text: str) -> CapRule:
    """`sms`, `2/7d` → CapRule('sms', 2, 604800). Windows in hours (h) or days (d)."""
    channel = _folded(channel).strip().lower()
    if channel not in CAP_CHANNELS:
        raise BadInput(f"unknown cap channel {channel!r}; choose one of {', '.join(CAP_CHANNELS)}")
    m = _RULE.match(_folded(text))
    if not m:
        raise BadInput(f"cap {text!r} is not understood; write it like 2/7d (at most 2 per 7 days) or 1/12h")
    count, amount, unit = int(m.group(1)), int(m.group(2)), m.group(3).lower()
    if amount == 0:
        raise BadInput(f"cap {text!r}: the window must be longer than zero")
    return CapRule(channel=channel, max_count=count, window_seconds=amount * _UNIT[unit])


def list_rules(db: sqlite_utils.Database, channel: str | None = None) -> list[CapRule]:
    """All rules, or those that apply to *channel* (its own and 'any'), strictest-looking first."""
    rows = db.execute(
        "SELECT id, channel, max_count, window_seconds FROM caps ORDER BY channel = 'any', channel, window_seconds"
    ).fetchall()
    rules = [CapRule(id=r[0], channel=r[1], max_count=r[2], window_seconds=r[3]) for r in rows]
    return [r for r in rules if channel is None or r.applies_to(channel)]


class CapSet(TypedDict):
    rule: str                  # its label, e.g. "sms 2/7d"
    previous_max: int | None   # None: a new rule


def set_rule(db: sqlite_utils.Database, rule: CapRule) -> CapSet:
    """Add a rule, or change N of the rule with the same channel and window. Audited."""
    with immediate(db):
        before = db.execute(
            "SELECT max_count FROM caps WHERE channel = ? AND window_seconds = ?", [rule.channel, rule.window_seconds]
        ).fetchone()
        db.execute(
            "INSERT INTO caps (channel, max_count, window_seconds, created_at, created_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (channel, window_seconds) DO UPDATE SET max_count = excluded.max_count, "
            "created_at = excluded.created_at, created_by = excluded.created_by",
            [rule.channel, rule.max_count, rule.window_seconds, now_ts(), current_operator()],
        )
        audit.record(db, "caps.set", rule=rule.label, previous=None if before is None else before[0])
    return {"rule": rule.label, "previous_max": None if before is None else before[0]}


def remove_rules(db: sqlite_utils.Database, channel: str, window: str | None = None) -> list[str]:
    """Remove the rules of *channel* (only the one with *window* if given). Audited."""
    channel = channel.strip().lower()
    params: list[Any] = [channel]
    sql = "SELECT id, channel, max_count, window_seconds FROM caps WHERE channel = ?"
    if window:
        sql += " AND window_seconds = ?"
        params.append(parse_window(window))
    rules = [CapRule(id=r[0], channel=r[1], max_count=r[2], window_seconds=r[3]) for r in db.execute(sql, params)]
    if not rules:
        raise NotFound(f"no cap on {channel}" + (f" with window {window}" if window else ""))
    with immediate(db):
        db.execute(f"DELETE FROM caps WHERE id IN ({','.join(str(r.id) for r in rules)})")
        audit.record(db, "caps.remove", rules=[r.label for r in rules])
    return [r.label for r in rules]


def mark_capped(
    db: sqlite_utils.Database, rules: list[CapRule], channel: str, at: int, table: str = "policy_result",
    *, undecided: int | None = None, strategy: str = "auto",
) -> int:
    """Set-based: mark every still-undecided user in *table* for whom one more dispatch on *channel* at *at*
    would break any applicable rule; returns how many were marked. All rules are checked in one pass.

    strategy 'per_user' probes the ledger's sends_caps index for each user (right for a dispatcher's batch);
    'scan' reads the ledger table once in storage order, groups the counted rows by user and marks the users it
    finds over a cap (right when the audience is large next to the ledger: reading rows in index order would jump
    around the table for every row's status); 'auto' picks by size. Both apply exactly the same predicate.
    """
    rules = [r for r in rules if r.applies_to(channel)]
    if not rules:
        return 0
    params: dict[str, Any] = {"oldest": at - max(r.window_seconds for r in rules)}
    breaches = []
    for i, rule in enumerate(rules):
        params[f"since{i}"] = at - rule.window_seconds
        params[f"max{i}"] = rule.max_count
        on_channel = "" if rule.channel == "any" else f" AND s.channel = :chan{i}"
        if rule.channel != "any":
            params[f"chan{i}"] = rule.channel
        breaches.append(f"COALESCE(SUM({DISPATCH_TIME_SQL} > :since{i}{on_channel}), 0) >= :max{i}")
    breach = " OR ".join(breaches)
    counted = f"s.counts_for_caps = 1 AND {DISPATCH_TIME_SQL} > :oldest AND s.status IN {COUNTED_SQL}"
    if any(r.max_count == 0 for r in rules):
        # N = 0 blocks the channel outright: every undecided user is capped, history or not.
        return db.execute(f"UPDATE {table} SET reason = 'capped' WHERE reason IS NULL").rowcount
    if strategy == "auto":
        if undecided is None:
            undecided = db.execute(f"SELECT count(*) FROM {table} WHERE reason IS NULL").fetchone()[0]
        ledger = db.execute("SELECT COALESCE(max(id), 0) FROM sends").fetchone()[0]
        strategy = "scan" if ledger <= 4 * undecided else "per_user"
    if strategy == "scan":
        sql = (f"UPDATE {table} SET reason = 'capped' WHERE reason IS NULL AND user_id IN ("
               f" SELECT s.user_id FROM sends s NOT INDEXED WHERE {counted} GROUP BY s.user_id HAVING {breach})")
    else:
        # The aggregate over no rows still yields one row (of zeros), so users without history are decided too.
        sql = (f"UPDATE {table} SET reason = 'capped' WHERE reason IS NULL AND ("
               f" SELECT {breach} FROM sends s WHERE s.user_id = {table}.user_id AND {counted})")
    return db.execute(sql, params).rowcount


class CountedDispatch(TypedDict):   # counting_dispatches: a ledger row that counts against a cap
    id: int
    campaign: str | None           # None: its campaign row is gone
    channel: str
    status: str
    at: int                        # when it was claimed (DISPATCH_TIME_SQL)


def counting_dispatches(
    db: sqlite_utils.Database, user_id: int, rule: CapRule, at: int
) -> list[CountedDispatch]:
    """The ledger rows that count against *rule* for one user at *at* (for `winback why`), oldest first."""
    params: list[Any] = [user_id, at - rule.window_seconds]
    on_channel = ""
    if rule.channel != "any":
        on_channel = " AND s.channel = ?"
        params.append(rule.channel)
    return cast(list[CountedDispatch], list(
        db.query(
            f"SELECT s.id, c.name AS campaign, s.channel, s.status, {DISPATCH_TIME_SQL} AS at FROM sends s "
            f"LEFT JOIN campaigns c ON c.id = s.campaign_id WHERE s.user_id = ? AND s.counts_for_caps = 1 "
            f"AND s.status IN {COUNTED_SQL} AND {DISPATCH_TIME_SQL} > ?{on_channel} ORDER BY at, s.id",
            params,
        )
    ))
