"""The send ledger's states and the campaign lifecycle: the one module that writes `sends.status` and
`campaigns.status` (tests/test_ledger_owner.py fails on such a write anywhere else). docs/architecture.md draws both
state machines; SEND_MOVES and CAMPAIGN_MOVES are their tables.

Callers: freeze (the audience), the dispatcher's claim (console.campaigns.claim), the hand-off writer
(console.campaigns.handoff: handed_at and each result), recovery of lost claims, control (pause, resume, cancel),
reconcile (requeue --not-sent), brakes and an unreachable provider (pause), inbound receipts.

Every function runs inside the caller's write transaction (storage.tx.immediate) when there is one. Reads of
the ledger stay with their readers (tallies, screens); they use the state names below.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from enum import StrEnum
from typing import Any

import sqlite_utils

from console.errors import WinbackError
from storage.tx import immediate


class SendState(StrEnum):
    PLANNED = "planned"
    CLAIMED = "claimed"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    HOLDOUT = "holdout"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


S = SendState
C = CampaignStatus

# Which state a send row may move to from each state (the diagram above). Receipts may overtake our own record
# of a send (a fast provider), and a provider's late answer wins over `unknown`.
SEND_MOVES: dict[SendState, frozenset[SendState]] = {
    S.PLANNED: frozenset({S.CLAIMED, S.SENT, S.SKIPPED, S.DEFERRED, S.CANCELLED}),
    S.DEFERRED: frozenset({S.CLAIMED, S.SENT, S.SKIPPED, S.DEFERRED, S.CANCELLED}),
    S.CLAIMED: frozenset({S.SENT, S.FAILED, S.DEFERRED, S.UNKNOWN, S.SKIPPED, S.PLANNED, S.CANCELLED,
                          S.DELIVERED, S.BOUNCED}),
    S.UNKNOWN: frozenset({S.SENT, S.FAILED, S.DEFERRED, S.PLANNED, S.DELIVERED, S.BOUNCED}),
    S.SENT: frozenset({S.DELIVERED, S.FAILED, S.BOUNCED}),
    S.DELIVERED: frozenset({S.BOUNCED}),
    S.FAILED: frozenset(),
    S.BOUNCED: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
    S.HOLDOUT: frozenset(),
}
# Work not yet done: a run is over when none of its rows is in one of these.
OPEN = (S.PLANNED, S.DEFERRED, S.CLAIMED)
# Handed towards the provider, or it may have been: these count for frequency caps and their cost is spent.
HANDED = (S.CLAIMED, S.SENT, S.DELIVERED, S.BOUNCED, S.UNKNOWN)
# The provider took it.
ACCEPTED = (S.SENT, S.DELIVERED, S.BOUNCED)

CAMPAIGN_MOVES: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    C.DRAFT: frozenset({C.SCHEDULED, C.RUNNING, C.CANCELLED}),
    # a one-off unscheduled goes back to draft (or completed, after a dry run)
    C.SCHEDULED: frozenset({C.RUNNING, C.PAUSED, C.CANCELLED, C.DRAFT, C.COMPLETED}),
    C.RUNNING: frozenset({C.PAUSED, C.COMPLETED, C.SCHEDULED, C.CANCELLED}),
    C.PAUSED: frozenset({C.RUNNING, C.CANCELLED}),
    C.COMPLETED: frozenset({C.RUNNING, C.PAUSED, C.SCHEDULED}),   # scheduled: a real send after a dry run
    C.CANCELLED: frozenset(),
}
# Columns a status change may set alongside the status.
_CAMPAIGN_COLUMNS = frozenset({"pause_reason", "completed_at", "next_run_at", "dry_run", "launched_at"})


class IllegalTransition(WinbackError):
    """A status change the state machine does not allow (a bug, or a race the caller did not expect)."""

    exit_code = 1


def in_list(states: Iterable[SendState | CampaignStatus]) -> str:
    """SQL `('a','b')` for an IN clause of state names (the constants above only: never operator input)."""
    return "(" + ",".join(f"'{state.value}'" for state in states) + ")"


def may_move(old: str, new: str) -> bool:
    return SendState(new) in SEND_MOVES[SendState(old)]


# -- campaign status ---------------------------------------------------------------------------------------------
def campaign_status(db: sqlite_utils.Database, campaign_id: int) -> CampaignStatus:
    return CampaignStatus(db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()[0])


def move_campaign(db: sqlite_utils.Database, campaign_id: int, new: CampaignStatus, *,
                  when: Collection[CampaignStatus] | None = None, **columns: Any) -> bool:
    """Set the campaign's status to `new` (and `columns`: pause_reason, completed_at, …) in one write transaction.

    `when`: only from these states — otherwise nothing changes and False is returned (another process paused or
    finished it first: not an error). A move the state machine does not allow raises IllegalTransition.
    """
    unknown = set(columns) - _CAMPAIGN_COLUMNS
    if unknown:
        raise ValueError(f"move_campaign cannot set {sorted(unknown)}")
    new = CampaignStatus(new)
    with immediate(db):
        row = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
        if row is None:
            raise IllegalTransition(f"campaign {campaign_id} does not exist")
        old = CampaignStatus(row[0])
        if when is not None and old not in when:
            return False
        if new not in CAMPAIGN_MOVES[old]:
            raise IllegalTransition(f"campaign {campaign_id} cannot go from {old} to {new}")
        sets = "".join(f", {name} = ?" for name in columns)
        if old == C.SCHEDULED and new != C.SCHEDULED:
            # a scheduled launch's confirmation as a real send, and why run-due held it, are about that schedule
            # only (m019_scheduled_real): the launch, an unschedule or a cancel ends them
            sets += ", scheduled_real = 0, hold_reason = NULL"
        db.execute(f"UPDATE campaigns SET status = ?{sets} WHERE id = ? AND status = ?",
                   [new, *columns.values(), campaign_id, old])
    return True


def insert_past_campaign(db: sqlite_utils.Database, columns: dict[str, Any], *,
                         status: CampaignStatus = CampaignStatus.COMPLETED) -> int:
    """A campaign that ran elsewhere (a simulation, history brought in), inserted in its final state with its
    columns (names are code, never operator input). Returns its id. Inside the caller's transaction, if any."""
    _identifiers(columns)
    names = [*columns, "status"]
    cur = db.execute(f"INSERT INTO campaigns ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     [*columns.values(), CampaignStatus(status).value])
    return int(cur.lastrowid or 0)


def insert_past_sends(db: sqlite_utils.Database, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Ledger rows of a campaign that ran elsewhere, each already in its final state: `columns` must include
    `status`, and every row's status must be a SendState."""
    _identifiers(columns)
    at = list(columns).index("status")
    checked = ([*row[:at], SendState(row[at]).value, *row[at + 1:]] for row in rows)
    db.conn.executemany(f"INSERT INTO sends ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        checked)


def _identifiers(names: Iterable[str]) -> None:
    bad = [n for n in names if not n.isidentifier()]
    if bad:
        raise ValueError(f"not column names: {bad}")


# -- send rows: launch ------------------------------------------------------------------------------------------
def freeze_audience(db: sqlite_utils.Database, select: str, order: str, params: dict[str, Any]) -> None:
    """Write a run's audience (rows of `select`: user_id, arm, address) into the ledger: `holdout`, `skipped`
    (invalid_address: nothing to send to) or `planned`. params: the select's own and wb_cid, wb_run, wb_channel,
    wb_dry, wb_caps, wb_now."""
    db.execute(
        f"""
        INSERT OR IGNORE INTO sends (campaign_id, user_id, run, arm, channel, address, status, reason, dry_run,
                           counts_for_caps, updated_at)
        SELECT :wb_cid, a.user_id, :wb_run, a.arm, :wb_channel, a.address,
               CASE WHEN a.arm = 'holdout' THEN '{S.HOLDOUT}'
                    WHEN a.address IS NULL OR a.address = '' THEN '{S.SKIPPED}' ELSE '{S.PLANNED}' END,
               CASE WHEN a.arm != 'holdout' AND (a.address IS NULL OR a.address = '')
                    THEN 'invalid_address' END,
               :wb_dry, CASE WHEN a.arm = 'holdout' THEN 0 ELSE :wb_caps END, :wb_now
        FROM ({select} ORDER BY {order} LIMIT -1 OFFSET 0) a
        """,
        # ORDER BY: the ledger (and so the dispatch) goes in user order, or rank order. LIMIT/OFFSET keeps SQLite
        # from flattening the subquery, which would call wb_arm once per mention of `a.arm` instead of once per
        # user. OR IGNORE: a member listed twice by the segment's query still gets one row.
        params,
    )


# -- send rows: the claim ---------------------------------------------------------------------------------------
def skip(db: sqlite_utils.Database, rows: Sequence[tuple[str | None, str | None, int, int]]) -> None:
    """(reason, error, now, send_id): the policy said no at claim time."""
    db.conn.executemany(f"UPDATE sends SET status = '{S.SKIPPED}', reason = ?, error = ?, updated_at = ? "
                        "WHERE id = ?", rows)


def defer(db: sqlite_utils.Database, rows: Sequence[tuple[str, int, int, int]]) -> None:
    """(reason, not_before, now, send_id): not now (quiet hours)."""
    db.conn.executemany(f"UPDATE sends SET status = '{S.DEFERRED}', reason = ?, not_before = ?, updated_at = ? "
                        "WHERE id = ?", rows)


def claim(db: sqlite_utils.Database, rows: Sequence[tuple[Any, ...]], *, holder: str, now: int,
          lease_until: int | None, dry_run_sent: bool) -> None:
    """Claim rows (send_id, payload_hash, parts, cost, coupon_code, message_id, reason, not_before) for `holder`.

    A real run marks them `claimed` with a lease; a dry run, which sends nothing, records them `sent` (would send)
    in the same step. One set-based UPDATE through a temp table writes the whole batch.
    """
    status, sent_at = (S.SENT, now) if dry_run_sent else (S.CLAIMED, None)
    db.execute("DROP TABLE IF EXISTS temp.claim_batch")
    db.execute("CREATE TEMP TABLE claim_batch (send_id INTEGER PRIMARY KEY, payload_hash TEXT, parts INTEGER, "
               "cost REAL, coupon_code TEXT, message_id TEXT, reason TEXT, not_before INTEGER)")
    db.conn.executemany("INSERT INTO temp.claim_batch VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute(
        "UPDATE sends SET status = ?, sent_at = ?, reason = c.reason, error = NULL, not_before = c.not_before, "
        "claimed_at = ?, lease_until = ?, claimed_by = ?, attempts = attempts + 1, handed_at = NULL, "
        "payload_hash = c.payload_hash, parts = c.parts, cost = c.cost, coupon_code = c.coupon_code, "
        "message_id = c.message_id, updated_at = ? FROM temp.claim_batch c WHERE sends.id = c.send_id "
        # the IN makes SQLite walk the batch and seek the ledger by id (without it, it scans the ledger)
        "AND sends.id IN (SELECT send_id FROM temp.claim_batch)",
        [status, sent_at, now, lease_until, holder, now])
    db.execute("DROP TABLE temp.claim_batch")


# -- send rows: the hand-off and its results --------------------------------------------------------------------
def still_ours(db: sqlite_utils.Database, send_ids: Iterable[int], holder: str) -> set[int]:
    """Of these rows, the ones still claimed by `holder` (a lapsed lease may have let another process take one)."""
    return {r[0] for r in db.execute(
        f"SELECT id FROM sends WHERE id IN (SELECT value FROM json_each(?)) AND status = '{S.CLAIMED}' "
        "AND claimed_by = ?", ["[" + ",".join(str(int(i)) for i in send_ids) + "]", holder])}


def mark_handed(db: sqlite_utils.Database, rows: Sequence[tuple[int, int]]) -> None:
    """(now, send_id): the request is about to leave. Committed first: from here a lost row is `unknown`."""
    db.conn.executemany("UPDATE sends SET handed_at = COALESCE(handed_at, ?) WHERE id = ?", rows)


def record_sent(db: sqlite_utils.Database, send_id: int, provider_id: str | None, now: int) -> None:
    # 'unknown' too: if our lease lapsed while the provider was slow, the provider's answer still wins.
    db.execute(f"UPDATE sends SET status = '{S.SENT}', sent_at = ?, provider_id = ?, lease_until = NULL, "
               f"reason = NULL, updated_at = ? WHERE id = ? AND status IN {in_list((S.CLAIMED, S.UNKNOWN))}",
               [now, provider_id, now, send_id])
    # a delivery receipt may have overtaken us: keep its verdict, add when it went and the provider's id
    db.execute("UPDATE sends SET sent_at = COALESCE(sent_at, ?), provider_id = COALESCE(provider_id, ?), "
               f"lease_until = NULL, updated_at = ? WHERE id = ? AND status IN "
               f"{in_list((S.DELIVERED, S.BOUNCED, S.FAILED))} AND sent_at IS NULL",
               [now, provider_id, now, send_id])


def record_skipped(db: sqlite_utils.Database, send_id: int, reason: str | None, holder: str, now: int) -> bool:
    """The last look before hand-off stopped it (an opt-out since the claim): not an attempt."""
    return db.execute(
        f"UPDATE sends SET status = '{S.SKIPPED}', reason = ?, error = NULL, lease_until = NULL, handed_at = NULL, "
        f"attempts = MAX(0, attempts - 1), updated_at = ? WHERE id = ? AND status = '{S.CLAIMED}' "
        "AND claimed_by = ?", [reason, now, send_id, holder]).rowcount > 0


def record_failed(db: sqlite_utils.Database, send_id: int, error: str | None, now: int) -> bool:
    return db.execute(
        f"UPDATE sends SET status = '{S.FAILED}', reason = 'provider_refused', error = ?, lease_until = NULL, "
        f"updated_at = ? WHERE id = ? AND status IN {in_list((S.CLAIMED, S.UNKNOWN))}",
        [error, now, send_id]).rowcount > 0


def release_unsent(db: sqlite_utils.Database, send_id: int, error: str | None, now: int, *,
                   holder: str | None = None) -> bool:
    """Never left the machine (provider unreachable): certainly not sent, so planned again as if never claimed.
    `holder` (not attempted by its batch; so record_deferred): only its claim — another may have it on the wire."""
    return db.execute(
        f"UPDATE sends SET status = '{S.PLANNED}', reason = NULL, error = ?, not_before = NULL, lease_until = NULL, "
        "claimed_at = NULL, claimed_by = NULL, handed_at = NULL, attempts = MAX(0, attempts - 1), updated_at = ? "
        f"WHERE id = ? AND status IN {in_list((S.CLAIMED, S.UNKNOWN))} AND claimed_by IS COALESCE(?, claimed_by)",
        [error, now, send_id, holder]).rowcount > 0


def release_stopped(db: sqlite_utils.Database, campaign_id: int, send_id: int, holder: str, now: int) -> bool:
    """Claimed but not handed over when the campaign was paused or cancelled mid-batch: never attempted, so given
    back as if never claimed — `planned` (resume sends it), or `cancelled` when the campaign is cancelled by now
    (cancel's own sweep of planned rows may have run before this write)."""
    back = S.CANCELLED if campaign_status(db, campaign_id) == C.CANCELLED else S.PLANNED
    return db.execute(
        "UPDATE sends SET status = ?, reason = ?, error = NULL, not_before = NULL, lease_until = NULL, "
        "claimed_at = NULL, claimed_by = NULL, handed_at = NULL, attempts = MAX(0, attempts - 1), updated_at = ? "
        f"WHERE id = ? AND status = '{S.CLAIMED}' AND claimed_by = ?",
        [back, "cancelled" if back == S.CANCELLED else None, now, send_id, holder]).rowcount > 0


def record_deferred(db: sqlite_utils.Database, send_id: int, *, reason: str, error: str | None, not_before: int,
                    give_up_after: int | None, attempted: bool, now: int, holder: str | None = None) -> bool:
    """Try again at `not_before` — or `failed` once it has been attempted `give_up_after` times (None: never)."""
    give_up = "0" if give_up_after is None else f"attempts >= {int(give_up_after)}"
    return db.execute(
        f"UPDATE sends SET status = CASE WHEN {give_up} THEN '{S.FAILED}' ELSE '{S.DEFERRED}' END, reason = ?, "
        "error = ?, not_before = ?, lease_until = NULL, handed_at = NULL, attempts = attempts - ?, updated_at = ? "
        f"WHERE id = ? AND status IN {in_list((S.CLAIMED, S.UNKNOWN))} AND claimed_by IS COALESCE(?, claimed_by)",
        [reason, error, not_before, 0 if attempted else 1, now, send_id, holder]).rowcount > 0


def record_unknown(db: sqlite_utils.Database, send_id: int, error: str | None, now: int) -> None:
    """Handed over, no answer (a cut connection, a 5xx after the request left): it may have arrived."""
    db.execute(f"UPDATE sends SET status = '{S.UNKNOWN}', reason = 'no_reply', error = ?, lease_until = NULL, "
               f"updated_at = ? WHERE id = ? AND status = '{S.CLAIMED}'", [error, now, send_id])


# -- send rows: recovery, cancel, requeue, receipts -------------------------------------------------------------
def recover_lost(db: sqlite_utils.Database, campaign_id: int, now: int, where: str, params: Sequence[Any],
                 why: str) -> int:
    """Claimed rows matching `where` whose dispatcher is gone. Never handed over: refund what the claim booked and
    give them back (`planned`, or `cancelled` if the campaign was cancelled meanwhile). Handed over: `unknown`
    with `why` (never resent). Returns how many became unknown. Inside the caller's transaction."""
    back = S.CANCELLED if campaign_status(db, campaign_id) == C.CANCELLED else S.PLANNED
    rows = f"campaign_id = ? AND status = '{S.CLAIMED}' AND {where}"
    db.execute(f"UPDATE campaign_runs SET spent = spent - (SELECT COALESCE(SUM(cost), 0) FROM sends "
               f"WHERE {rows} AND handed_at IS NULL AND sends.run = campaign_runs.run) "
               "WHERE campaign_id = ?", [campaign_id, *params, campaign_id])
    db.execute(
        f"UPDATE sends SET status = ?, reason = ?, error = NULL, lease_until = NULL, claimed_at = NULL, "
        f"claimed_by = NULL, attempts = MAX(0, attempts - 1), updated_at = ? "
        f"WHERE {rows} AND handed_at IS NULL",
        [back, "cancelled" if back == S.CANCELLED else None, now, campaign_id, *params])
    return int(db.execute(f"UPDATE sends SET status = '{S.UNKNOWN}', reason = ?, updated_at = ? WHERE {rows}",
                          [why, now, campaign_id, *params]).rowcount)


def cancel_open(db: sqlite_utils.Database, campaign_id: int, now: int) -> int:
    """Every recipient not yet handed to a provider (planned or deferred) → cancelled. Returns how many."""
    return int(db.execute(
        f"UPDATE sends SET status = '{S.CANCELLED}', reason = 'cancelled', updated_at = ? "
        f"WHERE campaign_id = ? AND status IN {in_list((S.PLANNED, S.DEFERRED))}", [now, campaign_id]).rowcount)


def requeue_unknown(db: sqlite_utils.Database, send_ids: Sequence[int], now: int) -> int:
    """`unknown` rows the provider says it never got → planned again (the next claim books and sends them)."""
    marks = ",".join("?" * len(send_ids))
    return int(db.execute(
        f"UPDATE sends SET status = '{S.PLANNED}', reason = NULL, error = NULL, not_before = NULL, "
        f"lease_until = NULL, claimed_at = NULL, claimed_by = NULL, handed_at = NULL, updated_at = ? "
        f"WHERE id IN ({marks}) AND status = '{S.UNKNOWN}'", [now, *send_ids]).rowcount)


# What the provider's query API may settle an `unknown` row as (campaign reconcile).
SETTLED = (S.SENT, S.DELIVERED, S.FAILED)


def settle_unknown(db: sqlite_utils.Database, rows: Sequence[tuple[int, SendState, str | None, str | None]],
                   now: int) -> int:
    """(send_id, sent|delivered|failed, provider_id, detail): the provider's records settle `unknown` rows
    (reconcile). It took them, so they stay spent and counted; `failed` is a delivery failure it reported.
    Rows no longer `unknown` (a receipt came first) are left alone. Returns rows changed."""
    changed = 0
    for send_id, state, provider_id, detail in rows:
        state = SendState(state)
        if state not in SETTLED:
            raise IllegalTransition(f"reconcile cannot settle a send as {state}")
        changed += db.execute(
            f"UPDATE sends SET status = ?, provider_id = COALESCE(?, provider_id), "
            f"sent_at = COALESCE(sent_at, handed_at, claimed_at, ?), lease_until = NULL, "
            f"reason = CASE WHEN ? = '{S.FAILED}' THEN 'provider_refused' ELSE 'reconciled' END, "
            f"error = CASE WHEN ? = '{S.FAILED}' THEN ? ELSE NULL END, updated_at = ? "
            f"WHERE id = ? AND status = '{S.UNKNOWN}'",
            [state.value, provider_id, now, state.value, state.value, detail, now, send_id]).rowcount
    return changed


def mark_no_record(db: sqlite_utils.Database, send_ids: Sequence[int], now: int) -> int:
    """`unknown` rows the provider's query API has no record of: still `unknown` (nothing is resent by itself),
    reason `no_provider_record`, so that `campaign reconcile --requeue` / `requeue --not-sent` can send them once."""
    if not send_ids:
        return 0
    marks = ",".join("?" * len(send_ids))
    return int(db.execute(f"UPDATE sends SET reason = 'no_provider_record', updated_at = ? "
                          f"WHERE id IN ({marks}) AND status = '{S.UNKNOWN}'", [now, *send_ids]).rowcount)


# A receipt kind → the state it moves a send to, and the states it may move it from. A receipt proves a claimed
# or unknown send did reach the provider; a hard bounce may follow a delivery report (email bounces late).
RECEIPT_MOVES: dict[str, tuple[SendState, tuple[SendState, ...]]] = {
    "delivered": (S.DELIVERED, (S.CLAIMED, S.SENT, S.UNKNOWN)),
    "failed": (S.FAILED, (S.CLAIMED, S.SENT, S.UNKNOWN)),
    "bounced": (S.BOUNCED, (S.CLAIMED, S.SENT, S.UNKNOWN, S.DELIVERED)),
}


def apply_receipts(db: sqlite_utils.Database, latest: str, now: int) -> int:
    """Advance sends by their latest receipt: `latest` is a table (send_id, kind, detail). Returns rows changed."""
    changed = 0
    for kind, (new_status, allowed) in RECEIPT_MOVES.items():
        changed += db.execute(
            f"""UPDATE sends SET status = ?, updated_at = ?,
                       error = CASE WHEN ? = 'delivered' THEN sends.error ELSE l.detail END
                FROM {latest} l
                WHERE l.send_id = sends.id AND l.kind = ? AND sends.status IN {in_list(allowed)}""",
            [new_status, now, new_status, kind]).rowcount
    return changed


__all__ = ["ACCEPTED", "CAMPAIGN_MOVES", "HANDED", "OPEN", "RECEIPT_MOVES", "SEND_MOVES", "CampaignStatus",
           "IllegalTransition", "SETTLED", "SendState", "apply_receipts", "campaign_status", "cancel_open", "claim", "defer",
           "freeze_audience", "insert_past_campaign", "insert_past_sends", "mark_handed", "mark_no_record", "may_move",
           "move_campaign", "record_deferred", "record_failed", "record_sent", "record_skipped", "record_unknown",
           "recover_lost", "release_stopped", "release_unsent", "requeue_unknown", "settle_unknown", "skip", "still_ours"]
