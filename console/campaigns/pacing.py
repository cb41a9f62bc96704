"""Pacing and budget: a channel's sending windows shared by every process, a provider's request to wait, and the
campaign's budget booked at claim time.

- Each claimed batch books its channel's next sending window (channel_pacing.next_free_at), so a channel's rate
  holds across processes; the channel's token bucket paces the workers within the window.
- A provider that asks (Retry-After) to wait longer than max_backoff is not called again until then, by any
  dispatcher (channel_pacing.wait_until) — held the moment the answer comes (console.campaigns.handoff's on_wait).
- The budget is booked in ledger order inside the claim transaction: what would take spending past it is
  `over_budget`. Real runs share one budget; a dry run is measured on its own. A recall program's step campaigns
  share the program's budget instead (all its steps and runs; its dry runs apart from its real ones).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import sqlite_utils

from console.channels import Channel, Message, Result
from console.channels.base import Hooks
from console.clock import now_ts, ts_to_iso
from console.policy.budget import program_spent
from storage.tx import immediate


class Costed(Protocol):
    send_id: int
    cost: float


def book_window(db: sqlite_utils.Database, channel: str, rate: float, messages: int) -> float:
    """Book the channel's next sending window for this batch (inside the claim transaction), so that the
    channel's rate holds across every process sending on it. Returns when the window starts (0: now)."""
    if not rate or not messages:
        return 0.0
    row = db.execute("SELECT next_free_at FROM channel_pacing WHERE channel = ?", [channel]).fetchone()
    start = max(time.time(), row[0] if row else 0.0)
    db.execute("INSERT INTO channel_pacing (channel, next_free_at) VALUES (?, ?) ON CONFLICT (channel) "
               "DO UPDATE SET next_free_at = excluded.next_free_at", [channel, start + messages / rate])
    return start


def send_in_window(channel: Channel, start: float, messages: list[Message], hooks: Hooks) -> list[Result]:
    """Wait for the batch's booked window, then hand it to the channel (runs in the sender thread). A stopped
    batch (hooks' `stop`: paused, cancelled, Ctrl-C) stops waiting; the channel then hands none of it over."""
    delay = start - time.time()
    stop = hooks["stop"]
    if delay > 0:
        stop.wait(delay)
    return channel.send(messages, **hooks)


def provider_wait(db: sqlite_utils.Database, channel: str, now: int | None = None) -> tuple[int, str] | None:
    """(until, reason) while the channel's provider has asked us (Retry-After) to stay away; None otherwise."""
    now = now if now is not None else now_ts()
    row = db.execute("SELECT wait_until, wait_reason FROM channel_pacing WHERE channel = ? AND wait_until > ?",
                     [channel, now]).fetchone()
    return (int(row[0]), str(row[1] or "")) if row else None


def set_provider_wait(db: sqlite_utils.Database, channel: str, until: int, reason: str) -> None:
    """Hold the channel until `until` (never shortens a longer hold another process recorded)."""
    with immediate(db):
        db.execute("INSERT INTO channel_pacing (channel, next_free_at, wait_until, wait_reason) VALUES (?, 0, ?, ?) "
                   "ON CONFLICT (channel) DO UPDATE SET wait_reason = CASE WHEN COALESCE(wait_until, 0) < "
                   "excluded.wait_until THEN excluded.wait_reason ELSE wait_reason END, wait_until = "
                   "MAX(COALESCE(wait_until, 0), excluded.wait_until)", [channel, until, reason])


def hold_for_provider(db: sqlite_utils.Database, channel: str, seconds: float, error: str,
                      now: int) -> tuple[int, str]:
    """The provider asked (Retry-After) to be left alone `seconds` from `now`: hold the channel for every
    dispatcher until then. Returns (until, reason): the reason names the wait and what the provider said."""
    until = now + max(1, int(round(seconds)))
    reason = f"{channel} provider asked to wait {seconds:.0f}s (Retry-After), until {ts_to_iso(until)}: {error}"[:500]
    set_provider_wait(db, channel, until, reason)
    return until, reason


def over_budget(db: sqlite_utils.Database, campaign_id: int, run: int, *, dry_run: bool, budget: float | None,
                eligible: Sequence[Costed]) -> set[int]:
    """send ids (in ledger order) that would take spending past the campaign's budget; books the rest on the run
    (inside the claim transaction)."""
    wanted = sum(p.cost for p in eligible)
    pooled = program_budget(db, campaign_id, dry_run=dry_run)
    if pooled is not None:
        budget, spent = pooled   # a recall program's step: the program's budget, over all its steps and runs
    elif budget is None:
        book(db, campaign_id, run, wanted)
        return set()
    else:
        # Real runs share one budget; a dry run is measured on its own.
        scope = "dry_run = 0" if not dry_run else f"run = {int(run)}"
        spent = db.execute(f"SELECT COALESCE(SUM(spent), 0) FROM campaign_runs WHERE campaign_id = ? AND {scope}",
                           [campaign_id]).fetchone()[0]
    over, booked = set(), 0.0
    for p in eligible:
        if spent + booked + p.cost > budget + 1e-9:
            over.add(p.send_id)
        else:
            booked += p.cost
    book(db, campaign_id, run, booked)
    return over


def program_budget(db: sqlite_utils.Database, campaign_id: int, *, dry_run: bool) -> tuple[float, float] | None:
    """(budget, spent) of the recall program this campaign is a step of, when the program has a budget (else
    None): one ceiling over every step and run of the program, its dry runs measured apart from its real ones."""
    row = db.execute("SELECT p.id, p.budget FROM campaigns c JOIN programs p ON p.id = c.program_id "
                     "WHERE c.id = ? AND p.budget IS NOT NULL", [campaign_id]).fetchone()
    return None if row is None else (float(row[1]), program_spent(db, int(row[0]), dry_run=dry_run))


def book(db: sqlite_utils.Database, campaign_id: int, run: int, amount: float) -> None:
    """Count `amount` as spent by the run (negative: refund what was booked but not sent)."""
    if amount:
        db.execute("UPDATE campaign_runs SET spent = spent + ? WHERE campaign_id = ? AND run = ?",
                   [amount, campaign_id, run])


__all__ = ["book", "book_window", "hold_for_provider", "over_budget", "program_budget", "program_spent",
           "provider_wait", "send_in_window", "set_provider_wait"]
