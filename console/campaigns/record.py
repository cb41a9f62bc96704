"""A batch is back from the provider: count what it said, check the brakes, and react to a provider that could not
be reached or asked us to wait.

Its rows were recorded one by one as their answers came (console.campaigns.handoff writes them through
console.campaigns.ledger); here the dispatcher waits until the last is committed and draws the consequences:
- After each recorded batch of a real run the brakes are checked (console.campaigns.brakes): too many opt-outs,
  complaints or failures over the last sends pause the campaign, and the next claim sees it.
- A whole batch that reached nobody (connection refused …) is planned again; after `unreachable_retries` such
  batches in a row the campaign is paused with the reason.
- Retry-After beyond max_backoff holds the channel for every dispatcher (console.campaigns.pacing).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from console import audit
from console.campaigns import brakes, ledger, pacing
from console.campaigns.handoff import CLAIM_LOST, STOPPED, Handoff
from console.campaigns.ledger import CampaignStatus
from console.campaigns.runs import RunContext
from console.campaigns.summary import DispatchSummary
from console.channels import DEFERRED, FAILED, SENT, UNKNOWN, Result
from console.channels.base import PROVIDER_HELD, SKIPPED
from console.policy.provider_opt_outs import opt_out_source
from console.policy.suppression_entries import record_opt_out
from storage.tx import immediate


class Recorder:
    """The record step of one dispatcher; `notice` tells the operator (the CLI: a line on stderr)."""

    def __init__(self, ctx: RunContext, handoff: Handoff, summary: DispatchSummary, *,
                 notice: Callable[[str], None] | None):
        self.ctx = ctx
        self.handoff = handoff
        self.summary = summary
        self.notice = notice
        settings = ctx.config.channel(ctx.campaign.channel)
        # An unreachable provider: batches in a row that reached nobody, and how many to try before pausing.
        self._unreachable_streak = 0
        self.unreachable_tries = max(1, int(settings.get("unreachable_retries", 5)))
        self._backoff = float(settings.get("backoff", 0.2))
        self._max_backoff = float(settings.get("max_backoff", 10.0))

    def record(self, results: list[Result], now: int, *, leaving: bool = False) -> None:
        """Wait until the batch's last result is committed, count, check the brakes, and react to an unreachable
        provider or one that asked us to wait."""
        self.handoff.flush()
        s = self.summary
        sent = [r for r in results if r.status == SENT]
        unreachable = [r for r in results if r.status == DEFERRED and r.unreachable]
        # deferred, or unknown (an idempotent retry told to wait: console.channels.http), because the provider asked
        waits = [r for r in results if r.provider_wait]
        # not ours any more, or held back because the campaign was paused/cancelled mid-batch: not skipped
        lost = [r for r in results if r.status == SKIPPED and r.reason in (CLAIM_LOST, STOPPED)]
        # not handed over because the provider had asked to be left alone since the claim: deferred (handoff)
        held = sum(1 for r in results if r.status == SKIPPED and r.reason == PROVIDER_HELD)
        if not self.ctx.dry_run:
            self._provider_opt_outs([r for r in results if r.status == FAILED])
        # A brake that trips pauses the campaign (running → paused, audited); the next claim reads the status.
        if not self.ctx.dry_run and brakes.check(self.ctx.db, self.ctx.config, self.ctx.campaign.id) is not None:
            s.stopped_by = "brake"
        s.unknown += sum(1 for r in results if r.status == UNKNOWN)
        s.sent += len(sent)
        # throttled MAX_ATTEMPTS times: the hand-off recorded it failed, not deferred (ledger.record_deferred)
        gave_up = sum(1 for r in results if r.status == DEFERRED and r.send_id in self.handoff.gave_up)
        s.failed += sum(1 for r in results if r.status == FAILED) + gave_up
        s.deferred += sum(1 for r in results if r.status == DEFERRED and not r.unreachable) + held - gave_up
        s.skipped.update(r.reason for r in results
                         if r.status == SKIPPED and r.reason not in (CLAIM_LOST, STOPPED, PROVIDER_HELD))
        s.claimed -= len(unreachable) + len(lost)
        if waits:
            self._provider_asks_to_wait(waits, now)
        # our side cannot make the request, or the provider refused it unread (a wrong key, the clock): waiting will
        # not help, so the run pauses even when another request of the batch went through
        cannot_send = any(r.stop_run for r in unreachable)
        if unreachable and (not sent or cannot_send):
            self._unreachable_streak += 1
            if not leaving:
                # the words of a request that was tried (not 'not attempted: …' of the rest of the batch)
                error = next((r.error for r in unreachable if r.attempted and r.error), unreachable[0].error)
                self._provider_unreachable(error or "provider unreachable", cannot_send=cannot_send)
        elif results:
            self._unreachable_streak = 0

    def _provider_opt_outs(self, failed: list[Result]) -> None:
        """A refusal saying the recipient opted out at the provider (Twilio 21610: they replied STOP to it) is an
        opt-out, as an inbound STOP is: the address and the person suppressed, consent withdrawn — else every later
        campaign would try them again (console.policy.provider_opt_outs)."""
        for r in failed:
            source = opt_out_source(r.error)
            row = self.ctx.db.execute("SELECT address FROM sends WHERE id = ?", [r.send_id]).fetchone() \
                if source else None
            if source and row and row[0]:
                record_opt_out(self.ctx.db, self.ctx.config, self.ctx.campaign.channel, row[0], source=source)

    def _provider_asks_to_wait(self, waits: list[Result], now: int) -> None:
        """The provider answered Retry-After beyond max_backoff: nobody calls this channel before then."""
        channel = self.ctx.campaign.channel
        # held when the answer came (the hand-off's on_wait): held again from now, the hold would outlast the
        # provider's time by as long as the batch went on since
        held = pacing.provider_wait(self.ctx.db, channel, 0) if self.handoff.held_until is not None else None
        if held is None:   # a channel that does not say when the answer comes
            asked = max(r.retry_after or 0 for r in waits if r.attempted) if any(r.attempted for r in waits) else \
                max(r.retry_after or 0 for r in waits)
            error = next((r.error for r in waits if r.attempted), waits[0].error) or ""
            held = pacing.hold_for_provider(self.ctx.db, channel, asked, error, now)
        reason = held[1]
        if self.notice:
            deferred = sum(1 for r in waits if r.status == DEFERRED)
            self.notice(f"{reason} — {deferred} message(s) deferred until then; nothing more is sent on "
                        f"{channel} before it")

    def _provider_unreachable(self, error: str, *, cannot_send: bool = False) -> None:
        """A whole batch could not reach the provider (its rows are planned again). Wait and let the loop try
        again — or, after `unreachable_retries` batches in a row, pause the campaign with the reason. When our own
        side cannot make the request (`cannot_send`), waiting will not help: pause at once."""
        tries = self._unreachable_streak
        campaign = self.ctx.campaign
        if tries >= self.unreachable_tries or cannot_send:
            reason = (f"{campaign.channel}: {error}; nothing was sent to the recipients still planned"
                      if cannot_send else
                      f"{campaign.channel} provider unreachable after {tries} tries ({error}); nothing was "
                      "sent to the recipients still planned")
            db = self.ctx.db
            with immediate(db):
                if ledger.move_campaign(db, campaign.id, CampaignStatus.PAUSED, when={CampaignStatus.RUNNING},
                                        pause_reason=reason):
                    audit.record(db, "campaign.pause", campaign=campaign.name, reason=reason)
            self.summary.stopped_by = "channel_error" if cannot_send else "unreachable"
            if self.notice:
                self.notice(f"giving up: {reason}")
            return
        delay = min(self._max_backoff, max(1.0, self._backoff * 2 ** tries))
        if self.notice:
            self.notice(f"{campaign.channel} provider unreachable (try {tries} of {self.unreachable_tries}): "
                        f"{error} — nothing sent, trying again in {delay:.0f}s")
        time.sleep(delay)


__all__ = ["Recorder"]
