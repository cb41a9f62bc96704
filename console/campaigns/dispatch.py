"""The dispatcher: claim a batch → commit → send → record, until the run is done, paused or cancelled.

Exactness rules (docs/campaigns.md):
- Nothing advances when rows are *read*. Rows advance only inside BEGIN IMMEDIATE transactions: the claim
  (re-checking campaign status, consent, suppression, caps, quiet hours and budget, then marking `claimed` with a
  lease) and the record (sent / failed / deferred). Every such write goes through console.campaigns.ledger.
- Per message, while a batch is with the provider (console.campaigns.handoff): immediately before the request
  leaves, opt-outs and consent committed since the claim are re-checked (console.campaigns.recheck) and the row is
  stamped `handed_at` (committed first); its result is recorded as soon as it returns.
- A claimed row whose dispatcher died: `unknown` if it was handed over (it may have arrived — never resent), back
  to `planned` if not (it certainly never left). So a crash leaves at most `concurrency` rows unknown per dispatcher.
- A provider that asks (Retry-After) to wait longer than max_backoff is not called again until then, by any
  dispatcher (channel_pacing.wait_until): the run ends `waiting`, like quiet-hours deferrals.
- Pause and cancel are read at every claim and, while a batch is with the provider, before each message is handed
  over (console.campaigns.handoff): another process's pause stops the batch between two sends. What is on the wire
  is recorded as it ends; the claimed rows not yet handed over go back to `planned` (or `cancelled`), not spent.
  While the batch is out they are also looked for every STOP_POLL seconds, so a channel waiting (a backoff, a
  provider's Retry-After) stops within moments (console.channels.base.Stop); Ctrl-C stops the batch the same way.
- While one batch is with the provider, the next is read and rendered (not claimed) — the CPU work overlaps the
  network wait without widening the in-flight window.
- Dry-run sends nothing, so its claim, "send" and record are one transaction. Quiet hours do not hold a dry run
  up: a recipient a real run would defer is rendered, costed and recorded as would-send (`sent`, reason
  `quiet_hours`, not_before = when a real run would send it).

The parts: this loop; claim.py (read, render, claim); record.py (what came back, brakes, unreachable provider);
pacing.py (sending windows, provider waits, budget); runs.py (who runs a run, lost claims, finishing a run);
holders.py (a dispatcher's own id, alive or gone, renewing its leases and heartbeat); ledger.py (every state change
of a send row and of the campaign).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from console.campaigns import holders, ledger, model, pacing
from console.campaigns.claim import Claimed, Claimer, Prepared, payload_hash
from console.campaigns.handoff import Handoff
from console.campaigns.ledger import CampaignStatus, SendState
from console.campaigns.pacing import provider_wait, set_provider_wait
from console.campaigns.record import Recorder
from console.campaigns.runs import (
    HEARTBEAT_STALE,
    RunContext,
    active_dispatcher,
    dispatcher_id,
    finish_run,
    heartbeat,
    latest_run,
    message_ids,
    recover_lost_claims,
    take_run,
)
from console.campaigns.summary import DispatchSummary
from console.channels import Channel, Result, open_channel
from console.clock import now_ts
from console.config import Config
from console.errors import WinbackError

DEFAULT_BATCH_REAL = 200
DEFAULT_BATCH_DRY = 5000
STOP_POLL = 0.5   # seconds: how often a pause or cancel is looked for while a batch is out

Progress = Callable[[int, int | None], None]


@dataclass
class DispatchOptions:
    """How to dispatch a run. Every field is optional; the channel's settings in winback.toml give the defaults."""

    channel: Channel | None = None          # an open channel to use (and leave open); else opened and closed here
    batch_size: int | None = None           # default: [channels.X] batch, else 200 real / 5000 dry
    lease_seconds: int | None = None        # default: [channels.X] lease_seconds, else from batch and rate
    progress: Progress | None = None        # (done, total) after each batch
    should_stop: Callable[[], bool] | None = None   # checked before each batch (the console's cancel)
    max_wait: float = 120.0                 # sleep for deferrals / provider waits due within this many seconds
    partition: tuple[int, int] | None = None   # (k, n): only rows with id % n == k (a helper process)
    notice: Callable[[str], None] | None = None  # tells the operator (the CLI: a line on stderr)
    holder: str | None = None               # the id to send as (run-due's hold on the run); default: a new one


class Dispatcher:
    """Runs one campaign run to its end (or until paused, cancelled, waiting on deferrals, or told to stop)."""

    def __init__(self, db: sqlite_utils.Database, config: Config, campaign: model.Campaign, run: int, *,
                 dry_run: bool, options: DispatchOptions | None = None):
        opts = options or DispatchOptions()
        self.db = db
        self.campaign = campaign
        self.run = run
        self.dry_run = dry_run
        self._own_channel = opts.channel is None
        self.channel = opts.channel or open_channel(campaign.channel, config, campaign=campaign.name,
                                                    dry_run=dry_run)
        # our own id (host:pid:token): another dispatcher of this process must not pass for us (console.campaigns.holders)
        self.ctx = RunContext(db, config, campaign, run, dry_run, self.channel, opts.holder or holders.new_holder())
        settings = config.channel(campaign.channel)
        default_batch = DEFAULT_BATCH_REAL if self.channel.external else DEFAULT_BATCH_DRY
        batch_size = int(opts.batch_size or settings.get("batch", default_batch))
        rate = float(settings.get("rate", 0) or 0)
        # The lease must outlast the slowest batch (its sending window, rate limit, retries), or a live send would
        # look lost.
        lease = int(opts.lease_seconds or settings.get("lease_seconds", 0)
                    or max(120, 3 * batch_size / rate + 60 if rate else 120))
        # a provider's Retry-After to an idempotent retry is waited in the channel at most this long (http.py)
        self.channel.hold_limit = float(lease)
        self.options = opts
        self.summary = DispatchSummary(campaign.name, run, dry_run)
        self.claimer = Claimer(self.ctx, batch_size=batch_size, lease=lease,
                               rate=rate if self.channel.external else 0.0, partition=opts.partition)
        self._cost_of: dict[int, float] = {}   # claimed, not yet recorded: refunded if not sent
        # Per message, the ledger's side of a batch with the provider (re-check, hand-off stamp, result).
        self.handoff: Handoff | None = None
        self.recorder: Recorder | None = None
        if self.channel.external:
            self.handoff = Handoff(_database_file(db), campaign.id, run, self.ctx.holder, channel=campaign.channel,
                                   lease=lease, cost_of=lambda send_id: self._cost_of.pop(send_id, 0.0))
            self.recorder = Recorder(self.ctx, self.handoff, self.summary, notice=opts.notice)

    # -- the loop -------------------------------------------------------------------------------------------
    def run_to_end(self) -> DispatchSummary:
        """Claim → send → record, batch after batch. While one batch is with the provider (in a sender thread),
        the next one is read and rendered — but not claimed: at most one batch is ever claimed and unrecorded."""
        started = time.monotonic()
        opts = self.options
        sending: Future[list[Result]] | None = None   # the batch with the provider
        sender = ThreadPoolExecutor(1, thread_name_prefix="winback-sender") if self.channel.external else None
        if self.handoff is not None:
            self.handoff.start()
        holders.hold(self.ctx.holder)   # alive in this process until we leave (below)
        ctrl_c = False
        try:
            if opts.partition is None:
                take_run(self.ctx)   # one dispatcher per run: BeingSent when a live one (here or elsewhere) has it
            else:
                heartbeat(self.ctx)   # a --workers helper shares the run by partition
            self._recovered(recover_lost_claims(self.db, self.campaign.id))
            total = self.ctx.count(f"status IN {ledger.in_list(ledger.OPEN)}")
            done = 0
            while True:
                if opts.should_stop and opts.should_stop():
                    self.summary.outcome = "interrupted"
                    break
                status = ledger.campaign_status(self.db, self.campaign.id)
                if status != CampaignStatus.RUNNING:
                    self.summary.outcome = status.value
                    if status == CampaignStatus.PAUSED:
                        self.summary.pause_reason = self.db.execute(
                            "SELECT pause_reason FROM campaigns WHERE id = ?", [self.campaign.id]).fetchone()[0]
                    break
                now = now_ts()
                hold = None if self.dry_run else provider_wait(self.db, self.campaign.channel, now)
                if hold is not None:
                    # the provider asked us to stay away: finish the batch in hand, then wait (or end `waiting`)
                    if sending is not None:
                        self._record(self._await(sending), now_ts())
                        sending = None
                        continue
                    if self._wait_for_provider(now, *hold):
                        continue
                    break
                rows = self.claimer.candidates(now)
                if not rows:
                    if sending is not None:
                        self._record(self._await(sending), now_ts())
                        sending = None
                        continue
                    if self._finish_or_wait(now):
                        continue
                    break
                prepared = self.claimer.prepare(rows)
                if sending is not None:
                    self._record(self._await(sending), now_ts())
                    sending = None
                    if provider_wait(self.db, self.campaign.channel, now_ts()) is not None:
                        continue   # that batch was told to wait: claim nothing more until then
                    if opts.should_stop and opts.should_stop():
                        continue   # told to stop while that batch was out: claim no other (the loop's top ends)
                claimed = self._claim(prepared, now_ts())
                if claimed.rows and sender is not None and self.handoff is not None and claimed.recheck is not None:
                    sending = sender.submit(pacing.send_in_window, self.channel, claimed.window_start,
                                            [p.ready for p in claimed.rows], self.handoff.hooks(claimed.recheck))
                done += len(rows)
                if opts.progress:
                    opts.progress(min(done, total), total)
        except KeyboardInterrupt:
            ctrl_c = True
            raise
        finally:
            try:
                if sending is not None:
                    # whatever happened here, what the provider said about the batch in hand is recorded. Paused,
                    # cancelled or Ctrl-C: nothing more of it is handed over and its waits end at once. Told to
                    # stop (should_stop: the console closing, a program's lost hold) or an error while the next
                    # batch was read (a setting gone bad meanwhile): it ends as it would — it was claimed and
                    # rendered with what was valid then, and stopping it half-way would decide its rows by timing.
                    assert self.handoff is not None
                    outcome = self.summary.outcome
                    if outcome in ("paused", "cancelled"):
                        self.handoff.stop.set(f"the campaign was {outcome}")
                    elif ctrl_c:
                        self.handoff.stop.set("the send was interrupted")
                    self._record(sending.result(), now_ts(), leaving=True)
            finally:
                # even when that failed (the ledger writer's error is raised above): stop the threads, leave the run
                if sender is not None:
                    sender.shutdown(wait=True)
                try:
                    if self.handoff is not None:
                        self.handoff.close()
                    heartbeat(self.ctx, leaving=True)
                finally:
                    # nothing of ours is on the wire any more: from here our leftover claims, if any, are a gone
                    # dispatcher's, recovered by the next one (in this process too)
                    holders.release(self.ctx.holder)
                if self._own_channel:
                    self.channel.close()
                self.summary.seconds = time.monotonic() - started
        return self.summary

    def _await(self, sending: Future[list[Result]]) -> list[Result]:
        """The batch's results, once the channel is done with it. Meanwhile, about every STOP_POLL seconds: was the
        campaign paused or cancelled (by any process)? Then the batch is stopped (Handoff.stop) — a channel waiting
        out a provider's Retry-After or a backoff ends the wait at once and hands nothing more over — instead of
        finding out at its next message, which may be minutes away. (Ctrl-C: run_to_end's `finally`.)"""
        assert self.handoff is not None   # only a real run hands batches to a sender
        stop = self.handoff.stop
        while True:
            try:
                return sending.result(timeout=STOP_POLL)
            except FutureTimeout:
                pass
            if not stop.is_set():
                status = ledger.campaign_status(self.db, self.campaign.id)
                if status in (CampaignStatus.PAUSED, CampaignStatus.CANCELLED):
                    stop.set(f"the campaign was {status.value}")

    def _claim(self, prepared: list[Prepared], now: int) -> Claimed:
        claimed = self.claimer.claim(prepared, now)
        s = self.summary
        s.claimed += len(claimed.rows)
        s.deferred += claimed.deferred
        s.skipped.update(claimed.skipped)
        if self.channel.external:
            self._cost_of.update((p.send_id, p.cost) for p in claimed.rows)
        else:
            s.sent += len(claimed.rows)   # a dry run records would-send in the claim itself
        return claimed

    def _record(self, results: list[Result], now: int, *, leaving: bool = False) -> None:
        assert self.recorder is not None   # only a real run hands batches to a sender
        self.recorder.record(results, now, leaving=leaving)

    def _recovered(self, n: int) -> None:
        """Claims of a dispatcher that died, now `unknown`: counted apart so resume can tell the operator."""
        self.summary.unknown += n
        self.summary.recovered += n

    def _finish_or_wait(self, now: int) -> bool:
        """No row is due. Finish the run, wait a little for soon-due deferrals, or return. True = loop again."""
        if self.options.partition is not None:
            self.summary.outcome = "partition_done"   # the dispatcher that started us finishes the run
            return False
        self._recovered(recover_lost_claims(self.db, self.campaign.id, now))
        next_at = self.db.execute(
            "SELECT MIN(not_before) FROM sends WHERE campaign_id = ? AND run = ? AND status = ?",
            [self.campaign.id, self.run, SendState.DEFERRED]).fetchone()[0]
        in_flight = self.ctx.count(f"status = '{SendState.CLAIMED.value}'")
        # A dry run sends nothing, so there is nothing to wait for: its quiet-hours deferrals are reported (they
        # stay `deferred` with their not_before) and the run ends now, leaving the campaign free to launch for real.
        if (next_at is None or self.dry_run) and in_flight == 0:
            finish_run(self.db, self.campaign, self.run)
            outcome = ledger.campaign_status(self.db, self.campaign.id)
            self.summary.outcome = "completed" if outcome == CampaignStatus.SCHEDULED else outcome.value
            self.summary.next_at = next_at
            if self.dry_run:
                self._report_would_wait()
            return False
        frozen = bool(os.environ.get("WINBACK_NOW"))
        wait_until = next_at if next_at is not None else now + 1
        if not frozen and wait_until - now <= self.options.max_wait:
            time.sleep(_nap(wait_until - now))
            return True
        self.summary.outcome = "waiting" if next_at is not None else "in_flight"
        self.summary.next_at = next_at
        return False

    def _report_would_wait(self) -> None:
        """A dry run's finding: who a real run would defer for quiet hours, and from when until when (all
        dispatchers of the run: they share the ledger)."""
        n, first, last = self.db.execute(
            "SELECT COUNT(*), MIN(not_before), MAX(not_before) FROM sends WHERE campaign_id = ? AND run = ? "
            "AND status = ? AND reason = 'quiet_hours'", [self.campaign.id, self.run, SendState.SENT]).fetchone()
        self.summary.would_wait = n
        if n:
            self.summary.next_at, self.summary.wait_last_at = first, last

    def _wait_for_provider(self, now: int, until: int, reason: str) -> bool:
        """The provider asked us to wait until `until`. Sleep if that is soon (True: loop again); else end the
        pass `waiting` with the reason — the campaign stays running and run-due or resume continues it."""
        frozen = bool(os.environ.get("WINBACK_NOW"))
        if not frozen and until - now <= self.options.max_wait:
            time.sleep(_nap(until - now))
            return True
        self.summary.outcome = "waiting"
        self.summary.next_at = until
        self.summary.wait_reason = reason
        return False


def _nap(seconds_left: int) -> float:
    """How long to sleep before looking again at something due `seconds_left` after this pass's `now` (the business
    clock, whole seconds: up to a second behind the machine's, so what falls due may be taken up to a second
    late). At most a second: each look is a write transaction (recovering lost claims), and while a run waits
    up to max_wait for a deferral, shorter naps would take the write lock several times a second."""
    return max(0.05, min(1.0, float(seconds_left)))


def _database_file(db: sqlite_utils.Database) -> str:
    """The main database's file: the hand-off writer opens its own connection to it (one per thread)."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return str(file)
    raise WinbackError("a real send needs the workspace database on disk (an in-memory database cannot be shared "
                       "with the sending threads)")


def campaign_status(db: sqlite_utils.Database, campaign_id: int) -> str:
    return ledger.campaign_status(db, campaign_id).value


def dispatch(db: sqlite_utils.Database, config: Config, campaign: model.Campaign | str, **options: Any
             ) -> DispatchSummary:
    """Dispatch the campaign's latest run (options: the fields of DispatchOptions)."""
    if not isinstance(campaign, model.Campaign):
        campaign = model.get(db, campaign)
    run = latest_run(db, campaign.id)
    if run is None:
        raise WinbackError(f"campaign {campaign.name!r} has not been launched")
    return Dispatcher(db, config, campaign, run["run"], dry_run=bool(run["dry_run"]),
                      options=DispatchOptions(**options)).run_to_end()


__all__ = ["DEFAULT_BATCH_DRY", "DEFAULT_BATCH_REAL", "HEARTBEAT_STALE", "DispatchOptions", "DispatchSummary",
           "Dispatcher", "Prepared", "active_dispatcher", "campaign_status", "dispatch", "dispatcher_id",
           "finish_run", "latest_run", "message_ids", "payload_hash", "provider_wait", "recover_lost_claims",
           "set_provider_wait"]
