"""The ledger's side of a batch with the provider: per message, before it leaves and as soon as its fate is known.

While a claimed batch is with the channel, its workers call these hooks (console.channels.base):
- `before_each(message)`: in one write transaction, check the row is still ours, re-check opt-outs and consent
  committed since the claim (console.campaigns.recheck), that the provider has not asked (Retry-After, perhaps of
  another dispatcher) to be left alone meanwhile — else PROVIDER_HELD: deferred `provider_wait` until then — and,
  if it may go, stamp `handed_at` — committed before the request leaves. A crash after this point leaves the row `unknown` (it may have arrived); before it, the row
  certainly never left and recovery puts it back to `planned`.
- `on_result(result)`: record sent / failed / deferred / unknown / skipped for that row.
- `on_wait(seconds, error)`: the provider asked (Retry-After) to be left alone: the channel is held for every
  dispatcher (console.campaigns.pacing) in its own transaction, committed before the worker waits or gives up — so
  no other process calls the provider meanwhile, not only once the message ends.
- `stop`: the batch's console.channels.Stop, which the dispatcher sets when it sees a pause or cancel, or leaves
  (Ctrl-C): the channel hands nothing more over and ends its waits (console.campaigns.dispatch).
- Pause and cancel mid-batch: the same transaction reads the campaign's status. Once another process paused or
  cancelled it, no further message of the batch is handed over: the hook answers STOPPED, the channel returns it
  never attempted, and the row goes back to `planned` (resume sends it) or `cancelled` (ledger.release_stopped),
  not spent. What was already handed over is on the wire and is recorded as its answer comes.

A channel's workers are threads and a SQLite connection belongs to one thread, so one writer thread with its own
connection does all of this. Requests queue up and each transaction takes all that are waiting (group commit): with
N workers a transaction usually settles N results and marks N next messages. A worker's result is queued before
its next mark, so at any moment each worker has at most one row handed but unrecorded — a crash strands at most
`concurrency` rows per dispatcher.

While a batch is out (from its claim until the dispatcher's `flush`), the same writer keeps it from looking
abandoned: a few times per lease it extends the leases of the rows still ours and refreshes the run's heartbeat
(console.campaigns.holders.renew) — within a group's transaction when there is one, else on its own after waking
from an idle wait. A batch slowed by rate limits or a slow provider past its lease or the heartbeat window is then
never taken over by another process's `resume` or run-due while this dispatcher lives; once it dies, its leases
lapse and recovery works as before. Times are the ledger's clock (console.clock.now_ts, WINBACK_NOW in tests).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from console.campaigns import holders, ledger, pacing
from console.campaigns.ledger import CampaignStatus, SendState
from console.campaigns.recheck import Recheck
from console.campaigns.runs import HEARTBEAT_STALE
from console.channels import DEFERRED, FAILED, SENT, UNKNOWN, Message, Result
from console.channels.base import HOLD_BATCH, PROVIDER_HELD, SKIPPED, Hooks, Stop
from console.clock import now_ts
from storage.db import connect
from storage.tx import immediate

MAX_ATTEMPTS = 8           # a message throttled this many times is recorded failed ('throttled')
CLAIM_LOST = "claim_lost"  # before_each: the row is no longer ours (its lease lapsed and another process took it)
# before_each: the campaign was paused or cancelled since the claim: not handed over (nor the rest of the batch)
STOPPED = HOLD_BATCH
_GROUP = 256               # most requests settled in one transaction
RENEW_MIN = 5              # seconds (ledger clock): leases and heartbeat are renewed at most this often …
RENEW_POLL = 1.0           # … and an idle writer wakes this often (real seconds) to see whether one is due


@dataclass
class _Mark:
    message: Message
    recheck: Recheck
    done: Future


@dataclass
class _Record:
    result: Result


@dataclass
class _Hold:
    seconds: float
    error: str
    done: Future


class _Flush:
    def __init__(self) -> None:
        self.done: Future = Future()


class Handoff:
    """The writer thread for one dispatcher. `start()`, then hooks per batch (`hooks(recheck)`), `flush()` at the end
    of each batch (raises what the writer met), `close()` when the dispatcher leaves."""

    def __init__(self, db_path: str, campaign_id: int, run_id: int, holder: str, *, channel: str,
                 cost_of: Callable[[int], float], lease: int = 120):
        self.db_path = db_path
        self.channel = channel            # the channel's name: what a provider's Retry-After holds
        # the batch's stop (hooks()), and the hold its on_wait wrote (the recorder does not write it again)
        self.stop = Stop()
        self.held_until: int | None = None
        # the batch's rows a throttling answer recorded failed (MAX_ATTEMPTS reached): the recorder counts them failed
        self.gave_up: set[int] = set()
        self.campaign_id = campaign_id
        self.run = run_id
        self.holder = holder
        self.cost_of = cost_of            # the cost booked at claim for a row (refunded when it was not sent)
        self.lease = lease                # seconds a claim's lease runs (the claimer's)
        # renewed a third of the way into the shorter of the lease and the heartbeat window: two misses to spare
        self._renew_every = max(RENEW_MIN, min(lease, HEARTBEAT_STALE) // 3)
        self._renewed_at: int | None = None   # when the batch in hand was claimed or last renewed; None: no batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- the hooks ------------------------------------------------------------------------------------------
    def hooks(self, recheck: Recheck) -> Hooks:
        # before_each runs before every request that may be the one that reaches the provider — again after a 429
        # or a refused connection (the message certainly did not arrive: an opt-out or pause since then still
        # stops it) — but NOT before an idempotent retry (the same request again with the same Idempotency-Key
        # after a 5xx or a cut connection, console.channels.http): the first may already be with the person, so
        # its verdict could only record as never sent (skipped, planned, refunded) a message that may have
        # arrived. Nothing per attempt is lost: handed_at keeps its first stamp, attempts are counted per claim,
        # and the channel's credentials are the same for every request. tests/test_send_leftovers_retry.py
        def before_each(message: Message) -> str | None:
            mark = _Mark(message, recheck, Future())
            self._queue.put(mark)
            return mark.done.result()     # returns once the hand-off is committed (or raises what went wrong)

        def on_result(result: Result) -> None:
            self._queue.put(_Record(result))

        def on_wait(seconds: float, error: str) -> None:
            hold = _Hold(seconds, error, Future())
            self._queue.put(hold)
            hold.done.result()            # returns once the hold is committed (or raises what went wrong)

        self._renewed_at = now_ts()   # called for a batch just claimed: its leases and heartbeat are fresh
        self.stop, self.held_until, self.gave_up = Stop(), None, set()
        return {"before_each": before_each, "on_result": on_result, "on_wait": on_wait, "stop": self.stop}

    def flush(self) -> None:
        """Wait until every result queued so far is committed; raise the writer's error if it met one."""
        item = _Flush()
        self._queue.put(item)
        item.done.result()
        self._renewed_at = None   # the batch is recorded: nothing of it is claimed by us any more
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="winback-ledger", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    # -- the writer thread ----------------------------------------------------------------------------------
    def _serve(self) -> None:
        db: sqlite_utils.Database | None = None
        try:
            db = connect(self.db_path)
            while True:
                try:
                    item = self._queue.get(timeout=RENEW_POLL)
                except queue.Empty:
                    # nothing to write (a request is slow, or the batch waits for its rate): still, keep it ours
                    now = now_ts()
                    if self._renewal_due(now):
                        try:
                            with immediate(db):
                                self._renew(db, now)
                        except sqlite3.OperationalError:
                            continue   # the database is busy: tried again at the next wake (the lease has time)
                        self._renewed_at = now
                    continue
                if item is None:
                    return
                group = [item]
                while len(group) < _GROUP:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._queue.put(None)   # finish this group first, then stop
                        break
                    group.append(more)
                self._settle(db, group)
        except BaseException as exc:  # noqa: BLE001 - no worker may wait forever on a writer that is gone
            self._error = self._error or exc
            self._fail_all(exc)
        finally:
            if db is not None:
                db.close()

    def _fail_all(self, exc: BaseException) -> None:
        """The writer cannot go on: every waiting and later request fails with its error (nothing is handed over)."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Mark | _Hold):
                item.done.set_exception(exc)
            elif isinstance(item, _Flush):
                item.done.set_result(None)

    def _settle(self, db: sqlite_utils.Database, group: list[Any]) -> None:
        verdicts: dict[int, str | None] = {}
        try:
            now = now_ts()
            renew = self._renewal_due(now)
            with immediate(db):
                if renew:
                    self._renew(db, now)
                reopened = False   # a row given back (deferred, planned again) by this group
                hold: list[tuple[int, str] | None] = []   # the provider's hold, read once for the held rows
                for item in group:
                    if isinstance(item, _Record):
                        reopened |= self._write(db, item.result, now, hold)
                    elif isinstance(item, _Hold):
                        until, _ = pacing.hold_for_provider(db, self.channel, item.seconds, item.error, now)
                        self.held_until = max(self.held_until or 0, until)
                        hold.clear()
                if reopened and ledger.campaign_status(db, self.campaign_id) == CampaignStatus.CANCELLED:
                    # cancelled while the batch was out: cancel swept the open rows before these were given back
                    # (deferred or planned again), so they are swept now — else they stay open for ever
                    ledger.cancel_open(db, self.campaign_id, now)
                marks = [item for item in group if isinstance(item, _Mark)]
                if marks:
                    verdicts = self._mark(db, marks, now)
            if renew:
                self._renewed_at = now
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting worker / the dispatcher, not lost
            self._error = self._error or exc
            for item in group:
                if isinstance(item, _Mark | _Hold):
                    item.done.set_exception(exc)
                elif isinstance(item, _Flush):
                    item.done.set_result(None)
            return
        # only now, with the transaction committed, may the requests leave (and the held worker wait)
        for item in group:
            if isinstance(item, _Mark):
                item.done.set_result(verdicts[id(item)])
            elif isinstance(item, _Flush | _Hold):
                item.done.set_result(None)

    def _renewal_due(self, now: int) -> bool:
        since = self._renewed_at
        return since is not None and now - since >= self._renew_every

    def _renew(self, db: sqlite_utils.Database, now: int) -> None:
        """Inside the caller's transaction: the batch's leases and the run's heartbeat run from `now` again."""
        holders.renew(db, self.campaign_id, self.run, self.holder, now, self.lease)

    def _mark(self, db: sqlite_utils.Database, marks: list[_Mark], now: int) -> dict[int, str | None]:
        """Verdicts for messages about to leave (keyed by id(mark)); the ones that may go are stamped handed_at."""
        ours = ledger.still_ours(db, [m.message.send_id for m in marks], self.holder)
        # paused or cancelled by another process since the claim: what is not yet on the wire stays here (read in
        # this transaction, so a pause committed before it stops these messages and one after it finds them handed)
        stopped = ledger.campaign_status(db, self.campaign_id) in (CampaignStatus.PAUSED, CampaignStatus.CANCELLED)
        # the provider asked (Retry-After) to be left alone since the claim — perhaps another dispatcher was told:
        # nothing more of this batch calls it before then (deferred `provider_wait`, see _write)
        held = not stopped and pacing.provider_wait(db, self.channel, now) is not None
        verdicts: dict[int, str | None] = {}
        by_check: dict[int, list[_Mark]] = {}
        for m in marks:
            if m.message.send_id not in ours:
                verdicts[id(m)] = CLAIM_LOST
            elif stopped:
                verdicts[id(m)] = STOPPED
            elif held:
                verdicts[id(m)] = PROVIDER_HELD
            else:
                by_check.setdefault(id(m.recheck), []).append(m)
        go: list[tuple[int, int]] = []
        for same in by_check.values():
            blocked = same[0].recheck.blocked(db, [(m.message.user_id, m.message.to) for m in same])
            for m in same:
                verdicts[id(m)] = blocked.get(m.message.user_id)
                if verdicts[id(m)] is None:
                    go.append((now, m.message.send_id))
        ledger.mark_handed(db, go)
        return verdicts

    def _write(self, db: sqlite_utils.Database, r: Result, now: int, hold: list[tuple[int, str] | None]) -> bool:
        """One result into the ledger (and the run's spending: what was not sent is refunded). True when the row
        was given back open (deferred), for the caller's look at a cancel. `hold`: the provider's hold once read
        by this group (empty: not yet)."""
        sid = r.send_id
        cost = self.cost_of(sid)   # forgets it too: this row's claim is settled
        if r.status == SENT:
            ledger.record_sent(db, sid, r.provider_id, now)
            return False
        changed = False
        # not attempted by this batch (held back after another message's answer): the row may be another
        # dispatcher's by now (our lease lapsed), so it is written only while still ours
        mine = None if r.attempted else self.holder
        if r.status == SKIPPED:
            if r.reason == CLAIM_LOST:
                return False   # not ours any more: whoever holds the row now records it
            if r.reason == STOPPED:
                changed = ledger.release_stopped(db, self.campaign_id, sid, self.holder, now)
            elif r.reason == PROVIDER_HELD:
                # never handed over; due again when the provider's time comes (the claim waits for it anyway)
                if not hold:
                    hold.append(pacing.provider_wait(db, self.channel, now))
                held = hold[0]
                changed = ledger.record_deferred(
                    db, sid, reason="provider_wait", error=f"not attempted: {held[1] if held else 'provider wait'}"
                    [:500], not_before=held[0] if held else now + 1, give_up_after=None, attempted=False, now=now,
                    holder=self.holder)
            else:
                changed = ledger.record_skipped(db, sid, r.reason, self.holder, now)
        elif r.status == FAILED:
            changed = ledger.record_failed(db, sid, r.error, now)
        elif r.status == DEFERRED and r.unreachable:
            # never left the machine: certainly not sent, so back to planned as if never claimed (not an attempt)
            changed = ledger.release_unsent(db, sid, r.error, now, holder=mine)
        elif r.status == DEFERRED:
            # a provider's "wait an hour" is not a failed attempt; a message throttled MAX_ATTEMPTS times is failed
            changed = ledger.record_deferred(
                db, sid, reason="provider_wait" if r.provider_wait else "throttled", error=r.error,
                not_before=now + max(1, int(round(r.retry_after or 1))),
                give_up_after=None if r.provider_wait else MAX_ATTEMPTS, attempted=r.attempted, now=now,
                holder=mine)
            if changed and not r.provider_wait and db.execute(
                    "SELECT status FROM sends WHERE id = ?", [sid]).fetchone()[0] == SendState.FAILED:
                self.gave_up.add(sid)
        elif r.status == UNKNOWN:
            ledger.record_unknown(db, sid, r.error, now)
            return False
        if changed and cost:
            # a refused, throttled, skipped or never-sent message is not spent (booked again when re-claimed)
            pacing.book(db, self.campaign_id, self.run, -cost)
        return changed and (r.status == DEFERRED or r.reason == PROVIDER_HELD)

__all__ = ["CLAIM_LOST", "MAX_ATTEMPTS", "STOPPED", "Handoff"]
