"""Why a run's messages failed: the provider's error code and words per failed, bounced or unknown recipient, and
the same errors grouped with their counts (`winback campaign failures`).

The ledger keeps the provider's answer in `sends.error` as the channel wrote it — "Aliyun SendBatchSms:
isv.MOBILE_NUMBER_ILLEGAL: 号码格式错误", "LimitExceeded.PhoneNumberDailyLimit: 单个手机号日下发条数超过设定的上限",
"HTTP 400 {…}", or as a delivery receipt wrote it — "MK:0005: 运营商内部错误", "error 30007: …". `split_error`
(console.provider_errors) reads the provider's code out of it when there is one, so that a thousand failures read
as one line per cause: "isv.MOBILE_NUMBER_ILLEGAL ×37 — 号码格式错误".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

import sqlite_utils

from console.campaigns import model, tallies
from console.campaigns.tallies import Recipient
from console.provider_errors import short_error, split_error

NOT_SENT_STATES = ("failed", "bounced", "unknown")   # a message that did not (surely) reach its recipient
TEXT_WIDTH = 160   # a group's words are cut here: an HTTP body can be long, and the per-recipient list has it all


class ErrorGroup(TypedDict):
    """Recipients of one state whose provider answer had the same code and words."""

    state: str
    code: str | None
    text: str
    count: int


class NotSent(TypedDict):
    """One recipient whose message failed or is unknown, contact details masked."""

    external_id: str
    address: str               # masked, as everywhere else
    arm: str
    state: str
    code: str | None
    text: str
    attempts: int
    updated_at: int


def error_groups(db: sqlite_utils.Database, name: str, *, run: int | None = None,
                 states: tuple[str, ...] = NOT_SENT_STATES) -> list[ErrorGroup]:
    """The run's (default: latest) not-sent recipients grouped by state and provider error, the largest first."""
    campaign = model.get(db, name)
    if run is None:
        run = db.execute("SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ?", [campaign.id]).fetchone()[0]
    marks = ",".join("?" * len(states))
    # one GROUP BY over the run's not-sent rows (index sends_campaign_status); the same words fold into one group
    return group_errors(db.execute(f"SELECT status, error, COUNT(*) FROM sends WHERE campaign_id = ? AND run = ? "
                                   f"AND status IN ({marks}) GROUP BY status, error", [campaign.id, run, *states]))


def group_errors(counted: Iterable[tuple[str, str | None, int]]) -> list[ErrorGroup]:
    """(state, provider error, how many) grouped by state, code and words, the largest first — from a GROUP BY,
    or from a page of recipients that already holds every row of a state (each counted 1)."""
    groups: dict[tuple[str, str | None, str], int] = {}
    for state, error, n in counted:
        code, text = split_error(error)
        key = (state, code, _short(text) or "(the provider gave no reason)")
        groups[key] = groups.get(key, 0) + n
    return sorted(({"state": s, "code": c, "text": t, "count": n} for (s, c, t), n in groups.items()),
                  key=lambda g: (-g["count"], g["state"], g["code"] or "", g["text"]))


def not_sent(db: sqlite_utils.Database, name: str, *, run: int | None = None,
             states: tuple[str, ...] = NOT_SENT_STATES, limit: int = 50) -> list[NotSent]:
    """The run's not-sent recipients with the provider's code and words, newest change first, at most `limit`."""
    rows: list[Recipient] = []
    for state in states:
        rows.extend(tallies.recipients(db, name, state, run=run, limit=limit))
    rows.sort(key=lambda r: (r["updated_at"], r["id"]), reverse=True)
    out: list[NotSent] = []
    for r in rows[:limit]:
        code, text = split_error(r["error"])
        out.append({"external_id": r["external_id"], "address": r["address"], "arm": r["arm"],
                    "state": r["status"], "code": code, "text": text or (r["reason"] or ""),
                    "attempts": r["attempts"], "updated_at": r["updated_at"]})
    return out


def counts(db: sqlite_utils.Database, name: str, *, run: int | None = None,
           states: tuple[str, ...] = NOT_SENT_STATES) -> dict[str, int]:
    """How many recipients of the run are in each of `states`."""
    return {state: tallies.recipient_count(db, name, state, run=run) for state in states}


def group_line(group: ErrorGroup) -> str:
    """'isv.MOBILE_NUMBER_ILLEGAL ×37 — 号码格式错误' (no code: '×2 — no reply: …')."""
    return (f"{group['code']} " if group["code"] else "") + f"×{group['count']:,} — {group['text']}"


def _short(text: str) -> str:
    return text if len(text) <= TEXT_WIDTH else text[:TEXT_WIDTH - 1] + "…"


def groups_words(groups: list[ErrorGroup], most: int = 3) -> str:
    """The largest groups in a few words, for a title: 'isv.MOBILE_NUMBER_ILLEGAL ×37 · HTTP 400 ×2 · 1 more'."""
    shown = [f"{g['code'] or _short(g['text'])[:40]} ×{g['count']:,}" for g in groups[:most]]
    more = len(groups) - most
    return " · ".join(shown + ([f"{more} more"] if more > 0 else []))


__all__ = ["NOT_SENT_STATES", "ErrorGroup", "NotSent", "counts", "error_groups", "group_errors", "group_line", "groups_words",
           "not_sent", "short_error", "split_error"]
