"""The dispatcher: claim a batch → commit → send → record, until the run is done, paused or cancelled.

Exactness rules (docs/campaigns.md):
- Nothing advances when rows are *read*. Rows advance only inside BEGIN IMMEDIATE transactions: the claim
  (re-checking campaign status, consent, suppression, caps, quiet hours and budget, then marking `claimed` with a
  lease) and the record (sent / failed / deferred).
- Per message, while a batch is with the provider (console.campaigns.handoff): immediately before the request
  leaves, opt-outs and consent committed since the claim are re-checked (console.campaigns.recheck) and the row is
  stamped `handed_at` (committed first); its result is recorded as soon as it returns.
- A claimed row whose dispatcher died: `unknown` if it was handed over (it may have arrived — never resent), back
  to `planned` if not (it certainly never left). So a crash leaves at most `concurrency` rows unknown per dispatcher.
- A provider that asks (Retry-After) to wait longer than max_backoff is not called again until then, by any
  dispatcher (channel_pacing.wait_until): the run ends `waiting`, like quiet-hours deferrals.
- Pause and cancel are read at every claim, so another process's pause takes effect within one batch.
- While one batch is with the provider, the next is read and rendered (not claimed) — the CPU work overlaps the
  network wait without widening the in-flight window.
- Each claimed batch books its channel's next sending window (channel_pacing), so a channel's rate holds across
  processes; the channel's token bucket paces the workers within the window.
- Dry-run sends nothing, so its claim, "send" and record are one transaction. Quiet hours do not hold a dry run
  up: a recipient a real run would defer is rendered, costed and recorded as would-send (`sent`, reason
  `quiet_hours`, not_before = when a real run would send it).
- After each recorded batch of a real run the brakes are checked (console.brakes): too many opt-outs,
  complaints or failures over the last sends pause the campaign, and the next claim sees it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from console import brakes
from console.campaigns import integrations, model
from console.campaigns.handoff import CLAIM_LOST, Handoff
from console.campaigns.recheck import Recheck, marks_now
from console.channels import DEFERRED, FAILED, SENT, UNKNOWN, Channel, Message, Result, open_channel
from console.channels.base import SKIPPED
from console.clock import now_ts, ts_to_iso
from console.config import Config
from console.errors import WinbackError
from console.policy.journal import apply_pending_optouts  # D: opt-out journal (issue 19.1)
from console.policy.tx import immediate

DEFAULT_BATCH_REAL = 200
DEFAULT_BATCH_DRY = 5000
HEARTBEAT_STALE = 300      # seconds without a claim after which a dispatcher is presumed gone

Progress = Callable[[int, int | None], None]


@dataclass
class DispatchSummary:
    campaign: str
    run: int
    dry_run: bool
    outcome: str = "running"  # completed | paused | cancelled | waiting | in_flight | interrupted | partition_done
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0                  # sent but no reply, or handed over by a dispatcher that died
    recovered: int = 0                # of those: handed over by a dispatcher that died (unknown on resume)
    skipped: Counter = field(default_factory=Counter)
    next_at: int | None = None        # waiting: when deferred rows become due
    seconds: float = 0.0
    pause_reason: str | None = None   # paused: why (an operator's reason, or the brake that tripped)
    stopped_by: str | None = None     # 'brake', 'unreachable' or 'channel_error' when winback itself paused the run
                                      # (scripts: exit 1)
    wait_reason: str | None = None    # waiting: why, when it is not deferred rows (the provider asked us to wait)
    would_wait: int = 0               # dry run: recipients a real run would defer (quiet hours), from next_at …
    wait_last_at: int | None = None   # … to wait_last_at

    def add(self, other: DispatchSummary) -> None:
        """Fold in what a helper dispatcher on the same run did."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.failed += other.failed
        self.deferred += other.deferred
        self.unknown += other.unknown
        self.recovered += other.recovered
        self.would_wait += other.would_wait
        self.skipped.update(other.skipped)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DispatchSummary:
        out = cls(data["campaign"], data["run"], data["dry_run"], outcome=data["outcome"])
        for key in ("claimed", "sent", "failed", "deferred", "unknown"):
            setattr(out, key, data[key])
        out.recovered = data.get("recovered", 0)
        out.would_wait = data.get("would_wait", 0)
        out.skipped.update(data["skipped"])
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "run": self.run, "dry_run": self.dry_run, "outcome": self.outcome,
                "claimed": self.claimed, "sent": self.sent, "failed": self.failed, "deferred": self.deferred,
                "unknown": self.unknown, "recovered_unknown": self.recovered,
                "skipped": dict(self.skipped), "next_at": self.next_at, "seconds": round(self.seconds, 3),
                "pause_reason": self.pause_reason, "stopped_by": self.stopped_by, "wait_reason": self.wait_reason,
                "would_wait": self.would_wait, "wait_last_at": self.wait_last_at}


def dispatcher_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def message_ids(campaign: model.Campaign, run: int, config: Config) -> Callable[[int], str]:
    """user_id → a Message-ID derived from campaign, run and user: the same recipient always gets the same id."""
    sender = str(config.channel(campaign.channel).get("from", ""))
    domain = sender.rsplit("@", 1)[-1].strip("> ") if "@" in sender else "winback.invalid"
    prefix = f"<wb.{campaign.id}.{run}."
    suffix = f".{campaign.salt[:6]}@{domain}>"
    return lambda user_id: f"{prefix}{user_id}{suffix}"


def latest_run(db: sqlite_utils.Database, campaign_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM campaign_runs WHERE campaign_id = ? ORDER BY run DESC LIMIT 1",
                         [campaign_id]))
    return rows[0] if rows else None


def _holder_is_dead(holder: str | None) -> bool:
    """A claim made by a process on this host that no longer runs."""
    if not holder:
        return True
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def active_dispatcher(db: sqlite_utils.Database, campaign_id: int, now: int | None = None) -> str | None:
    """host:pid of a dispatcher still working on the campaign's latest run, or None.

    Alive means: it claimed a batch within the last HEARTBEAT_STALE seconds and, when it runs on this host, its
    process exists.
    """
    now = now if now is not None else now_ts()
    row = db.execute("SELECT dispatcher, heartbeat_at FROM campaign_runs WHERE campaign_id = ? ORDER BY run DESC "
                     "LIMIT 1", [campaign_id]).fetchone()
    if row is None or row[0] is None or (row[1] or 0) < now - HEARTBEAT_STALE:
        return None
    if row[0] == dispatcher_id() or _holder_is_dead(row[0]):
        return None
    return row[0]


def recover_lost_claims(db: sqlite_utils.Database, campaign_id: int, now: int | None = None) -> int:
    """Claimed rows whose dispatcher is gone (lease expired, or its process on this host is dead). Returns how many
    became `unknown`.

    A row stamped `handed_at` may or may not have reached the provider: `unknown`, never resent (at-most-once); the
    operator reconciles it against the provider's records (`campaign requeue --not-sent`, receipts). A row without
    the stamp certainly never left: back to `planned` (its booked cost refunded), or `cancelled` when the campaign
    was cancelled meanwhile.
    """
    now = now if now is not None else now_ts()
    with immediate(db):
        holders = [r[0] for r in db.execute(
            "SELECT DISTINCT claimed_by FROM sends WHERE campaign_id = ? AND status = 'claimed'", [campaign_id])]
        dead = [h for h in holders if _holder_is_dead(h)]
        status = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
        back = "cancelled" if status and status[0] == "cancelled" else "planned"
        changed = 0
        lost = [("lease_expired", "lease_until < ?", [now])]
        lost += [("dispatcher_died", "claimed_by IS ?", [holder]) for holder in dead]
        for why, where, params in lost:
            rows = f"campaign_id = ? AND status = 'claimed' AND {where}"
            # never handed over: refund what the claim booked, then give the rows back
            db.execute(f"UPDATE campaign_runs SET spent = spent - (SELECT COALESCE(SUM(cost), 0) FROM sends "
                       f"WHERE {rows} AND handed_at IS NULL AND sends.run = campaign_runs.run) "
                       "WHERE campaign_id = ?", [campaign_id, *params, campaign_id])
            db.execute(
                f"UPDATE sends SET status = ?, reason = ?, error = NULL, lease_until = NULL, claimed_at = NULL, "
                f"claimed_by = NULL, attempts = MAX(0, attempts - 1), updated_at = ? "
                f"WHERE {rows} AND handed_at IS NULL",
                [back, "cancelled" if back == "cancelled" else None, now, campaign_id, *params])
            changed += db.execute(
                f"UPDATE sends SET status = 'unknown', reason = ?, updated_at = ? WHERE {rows}",
                [why, now, campaign_id, *params]).rowcount
    return changed


@dataclass
class Prepared:
    """A candidate row, rendered and checked, ready to be claimed."""

    send_id: int
    user_id: int
    address: str | None
    message: Message | None
    reason: str | None = None     # render_error / invalid_address before policy
    error: str | None = None
    cost: float = 0.0
    payload_hash: str | None = None   # computed while rendering, outside the claim's write lock

    @property
    def ready(self) -> Message:
        """The message to hand over: every row without a reason has one, and only those are claimed."""
        assert self.message is not None, f"send {self.send_id} has no message ({self.reason})"
        return self.message


class Dispatcher:
    """Runs one campaign run to its end (or until paused, cancelled, waiting on deferrals, or told to stop)."""

    def __init__(self, db: sqlite_utils.Database, config: Config, campaign: model.Campaign, run: int, *,
                 dry_run: bool, channel: Channel | None = None, batch_size: int | None = None,
                 lease_seconds: int | None = None, progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None, max_wait: float = 120.0,
                 partition: tuple[int, int] | None = None, notice: Callable[[str], None] | None = None):
        self.db = db
        self.config = config
        self.campaign = campaign
        self.run = run
        self.dry_run = dry_run
        self._own_channel = channel is None
        self.channel = channel or open_channel(campaign.channel, config, campaign=campaign.name, dry_run=dry_run)
        settings = config.channel(campaign.channel)
        default_batch = DEFAULT_BATCH_REAL if self.channel.external else DEFAULT_BATCH_DRY
        self.batch_size = int(batch_size or settings.get("batch", default_batch))
        rate = float(settings.get("rate", 0) or 0)
        self.rate = rate if self.channel.external else 0.0
        self._window_start = 0.0   # when the batch just claimed may start sending (channel pacing)
        # The lease must outlast the slowest batch (its sending window, rate limit, retries), or a live send would
        # look lost.
        self.lease = int(lease_seconds or settings.get("lease_seconds", 0)
                         or max(120, 3 * self.batch_size / rate + 60 if rate else 120))
        self.progress = progress
        self.should_stop = should_stop
        self.max_wait = max_wait
        # (k, n): only rows with id % n == k — one of n dispatchers sharing a run without rendering twice.
        self.partition = partition
        self.holder = dispatcher_id()
        self.summary = DispatchSummary(campaign.name, run, dry_run)
        self.offer = integrations.get_offer(db, campaign.offer)
        self.templates = {v.label: v.template for v in campaign.variants}
        self._unsubscribe: Callable[[int], str | None] | None = None   # user id → link; made by _prepare
        self._message_id = message_ids(campaign, run, config)
        self._renderers: dict[str, integrations.Render] = {}
        self._cost_of: dict[int, float] = {}   # claimed, not yet recorded: refunded if not sent
        # An unreachable provider (connection refused …): batches in a row that reached nobody, and how many such
        # batches to try before pausing the campaign. `notice` tells the operator (the CLI: a line on stderr).
        self.notice = notice
        self._unreachable_streak = 0
        self.unreachable_tries = max(1, int(settings.get("unreachable_retries", 5)))
        self._backoff = float(settings.get("backoff", 0.2))
        self._max_backoff = float(settings.get("max_backoff", 10.0))
        # Per message, the ledger's side of a batch with the provider (re-check, hand-off stamp, result).
        self._recheck: Recheck | None = None
        self.handoff = (Handoff(_database_file(db), campaign.id, run, self.holder,
                                cost_of=lambda send_id: self._cost_of.pop(send_id, 0.0))
                        if self.channel.external else None)

    # -- the loop -------------------------------------------------------------------------------------------
    def run_to_end(self) -> DispatchSummary:
        """Claim → send → record, batch after batch. While one batch is with the provider (in a sender thread),
        the next one is read and rendered — but not claimed: at most one batch is ever claimed and unrecorded."""
        started = time.monotonic()
        sending: Future | None = None   # the batch with the provider
        sender = ThreadPoolExecutor(1, thread_name_prefix="winback-sender") if self.channel.external else None
        if self.handoff is not None:
            self.handoff.start()
        try:
            self._heartbeat()
            self._recovered(recover_lost_claims(self.db, self.campaign.id))
            total = self._count("status IN ('planned','deferred','claimed')")
            done = 0
            while True:
                if self.should_stop and self.should_stop():
                    self.summary.outcome = "interrupted"
                    break
                status = self._status()
                if status != "running":
                    self.summary.outcome = status
                    if status == "paused":
                        self.summary.pause_reason = self.db.execute(
                            "SELECT pause_reason FROM campaigns WHERE id = ?", [self.campaign.id]).fetchone()[0]
                    break
                now = now_ts()
                hold = None if self.dry_run else provider_wait(self.db, self.campaign.channel, now)
                if hold is not None:
                    # the provider asked us to stay away: finish the batch in hand, then wait (or end `waiting`)
                    if sending is not None:
                        self._record(sending.result(), now_ts())
                        sending = None
                        continue
                    if self._wait_for_provider(now, *hold):
                        continue
                    break
                rows = self._candidates(now)
                if not rows:
                    if sending is not None:
                        self._record(sending.result(), now_ts())
                        sending = None
                        continue
                    if self._finish_or_wait(now):
                        continue
                    break
                prepared = self._prepare(rows, now)
                if sending is not None:
                    self._record(sending.result(), now_ts())
                    sending = None
                    if provider_wait(self.db, self.campaign.channel, now_ts()) is not None:
                        continue   # that batch was told to wait: claim nothing more until then
                claimed = self._claim(prepared, now_ts())
                if claimed and sender is not None and self.handoff is not None and self._recheck is not None:
                    sending = sender.submit(self._send_in_window, self._window_start,
                                            [p.ready for p in claimed], self.handoff.hooks(self._recheck))
                done += len(rows)
                if self.progress:
                    self.progress(min(done, total), total)
        finally:
            try:
                if sending is not None:
                    # whatever happened here, what the provider said about the batch in hand is recorded
                    self._record(sending.result(), now_ts(), leaving=True)
            finally:
                # even when that failed (the ledger writer's error is raised above): stop the threads, leave the run
                if sender is not None:
                    sender.shutdown(wait=True)
                if self.handoff is not None:
                    self.handoff.close()
                self._heartbeat(leaving=True)
                if self._own_channel:
                    self.channel.close()
                self.summary.seconds = time.monotonic() - started
        return self.summary

    def _recovered(self, n: int) -> None:
        """Claims of a dispatcher that died, now `unknown`: counted apart so resume can tell the operator."""
        self.summary.unknown += n
        self.summary.recovered += n

    def _heartbeat(self, leaving: bool = False) -> None:
        """Say who is sending this run (so run-due and resume do not start a second dispatcher), or that we left."""
        if leaving:
            with immediate(self.db):
                self.db.execute("UPDATE campaign_runs SET dispatcher = NULL WHERE campaign_id = ? AND run = ? "
                                "AND dispatcher = ?", [self.campaign.id, self.run, self.holder])
            return
        with immediate(self.db):
            self.db.execute("UPDATE campaign_runs SET dispatcher = ?, heartbeat_at = ? WHERE campaign_id = ? "
                            "AND run = ?", [self.holder, now_ts(), self.campaign.id, self.run])

    def _status(self) -> str:
        """The campaign's status as the loop sees it before each batch (pause and cancel land here)."""
        return campaign_status(self.db, self.campaign.id)

    def _count(self, where: str) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND run = ? AND {where}",
                               [self.campaign.id, self.run]).fetchone()[0]

    def _candidates(self, now: int) -> list[tuple]:
        # Reading changes nothing: these rows are only candidates until the claim transaction takes them.
        # Two queries, each walking the (campaign_id, status) index in id order, so a batch costs O(batch).
        k, n = self.partition or (0, 1)
        rows = self.db.execute(
            "SELECT id, user_id, arm, address FROM sends WHERE campaign_id = ? AND status = 'planned' AND run = ? "
            "AND id % ? = ? ORDER BY id LIMIT ?", [self.campaign.id, self.run, n, k, self.batch_size]).fetchall()
        if len(rows) < self.batch_size:
            rows += self.db.execute(
                "SELECT id, user_id, arm, address FROM sends WHERE campaign_id = ? AND status = 'deferred' "
                "AND run = ? AND not_before <= ? AND id % ? = ? ORDER BY id LIMIT ?",
                [self.campaign.id, self.run, now, n, k, self.batch_size - len(rows)]).fetchall()
        return rows

    def _finish_or_wait(self, now: int) -> bool:
        """No row is due. Finish the run, wait a little for soon-due deferrals, or return. True = loop again."""
        if self.partition is not None:
            self.summary.outcome = "partition_done"   # the dispatcher that started us finishes the run
            return False
        self._recovered(recover_lost_claims(self.db, self.campaign.id, now))
        next_at = self.db.execute(
            "SELECT MIN(not_before) FROM sends WHERE campaign_id = ? AND run = ? AND status = 'deferred'",
            [self.campaign.id, self.run]).fetchone()[0]
        in_flight = self._count("status = 'claimed'")
        # A dry run sends nothing, so there is nothing to wait for: its quiet-hours deferrals are reported (they
        # stay `deferred` with their not_before) and the run ends now, leaving the campaign free to launch for real.
        if (next_at is None or self.dry_run) and in_flight == 0:
            finish_run(self.db, self.campaign, self.run)
            self.summary.outcome = campaign_status(self.db, self.campaign.id)
            if self.summary.outcome == "scheduled":
                self.summary.outcome = "completed"
            self.summary.next_at = next_at
            if self.dry_run:
                self._report_would_wait()
            return False
        frozen = bool(os.environ.get("WINBACK_NOW"))
        wait_until = next_at if next_at is not None else now + 1
        if not frozen and wait_until - now <= self.max_wait:
            time.sleep(max(0.05, min(1.0, wait_until - time.time())))
            return True
        self.summary.outcome = "waiting" if next_at is not None else "in_flight"
        self.summary.next_at = next_at
        return False

    def _report_would_wait(self) -> None:
        """A dry run's finding: who a real run would defer for quiet hours, and from when until when (all
        dispatchers of the run: they share the ledger)."""
        n, first, last = self.db.execute(
            "SELECT COUNT(*), MIN(not_before), MAX(not_before) FROM sends WHERE campaign_id = ? AND run = ? "
            "AND status = 'sent' AND reason = 'quiet_hours'", [self.campaign.id, self.run]).fetchone()
        self.summary.would_wait = n
        if n:
            self.summary.next_at, self.summary.wait_last_at = first, last

    def _wait_for_provider(self, now: int, until: int, reason: str) -> bool:
        """The provider asked us to wait until `until`. Sleep if that is soon (True: loop again); else end the
        pass `waiting` with the reason — the campaign stays running and run-due or resume continues it."""
        frozen = bool(os.environ.get("WINBACK_NOW"))
        if not frozen and until - now <= self.max_wait:
            time.sleep(max(0.05, min(1.0, until - time.time())))
            return True
        self.summary.outcome = "waiting"
        self.summary.next_at = until
        self.summary.wait_reason = reason
        return False

    # -- prepare: render and validate, outside any transaction -------------------------------------------------
    def _prepare(self, rows: list[tuple], now: int) -> list[Prepared]:
        by_arm: dict[str, list[tuple]] = {}
        for row in rows:
            by_arm.setdefault(row[2], []).append(row)
        if self._unsubscribe is None:
            self._unsubscribe = integrations.unsubscribe_links(self.db, self.config, self.campaign.channel,
                                                               self.campaign.id)
        out: list[Prepared] = []
        for arm, arm_rows in by_arm.items():
            template = self.templates[arm]   # candidates are variant rows (the holdout is never planned)
            user_ids = [r[1] for r in arm_rows]
            try:
                if arm not in self._renderers:
                    self._renderers[arm] = integrations.renderer(self.db, self.config, template, offer=self.offer,
                                                                 campaign=self.campaign)
                rendered = self._renderers[arm](user_ids)
            except WinbackError as exc:
                rendered = {uid: integrations.Rendered(uid, error=str(exc)) for uid in user_ids}
            for send_id, user_id, _arm, address in arm_rows:
                out.append(self._prepare_one(send_id, user_id, address, rendered.get(user_id)))
        out.sort(key=lambda p: p.send_id)
        return out

    def _prepare_one(self, send_id: int, user_id: int, address: str | None,
                     r: integrations.Rendered | None) -> Prepared:
        if r is None or r.error:
            return Prepared(send_id, user_id, address, None, "render_error",
                            r.error if r else "nothing rendered")
        problem = self.channel.validate(address)
        if problem:
            return Prepared(send_id, user_id, address, None, "invalid_address", problem)
        fields = dict(r.fields) if r.fields else {}
        if r.title is not None:
            fields["title"] = r.title
        if r.link is not None:
            fields["link"] = r.link
        fields["external_id"] = r.external_id
        assert self._unsubscribe is not None  # _prepare makes it before the first row
        msg = Message(send_id, user_id, address, r.text, self.campaign.name,
                      self._message_id(user_id), subject=r.subject, html=r.html,
                      parts=r.parts or 1, cost=r.cost, coupon_code=r.coupon_code,
                      unsubscribe_url=self._unsubscribe(user_id), fields=fields)
        msg.cost = float(r.cost) if r.cost is not None else self.channel.cost(msg)
        return Prepared(send_id, user_id, address, msg, cost=msg.cost, payload_hash=payload_hash(msg))

    # -- claim: one write transaction ------------------------------------------------------------------------
    def _claim(self, prepared: list[Prepared], now: int) -> list[Prepared]:
        db = self.db
        t = integrations.POLICY_TABLE
        claimed: list[Prepared] = []
        with immediate(db):
            # D (issue 19.1): fold opt-outs journaled while the database was busy before deciding anything.
            apply_pending_optouts(db, self.config)
            if campaign_status(db, self.campaign.id) != "running":
                return []  # paused or cancelled by another process: the loop reads it and stops
            self._heartbeat()
            integrations.create_policy_table(db)
            db.conn.executemany(
                f"INSERT INTO {t} (user_id, send_id, address, channel, reason, cost) VALUES (?, ?, ?, ?, ?, ?)",
                [(p.user_id, p.send_id, p.address, self.campaign.channel, p.reason, p.cost) for p in prepared])
            # Another dispatcher may have taken some rows since we read them.
            db.execute(f"DELETE FROM {t} WHERE NOT EXISTS (SELECT 1 FROM sends s WHERE s.id = {t}.send_id "
                       "AND s.status IN ('planned', 'deferred'))")
            integrations.evaluate_policy(db, self.config, channel=self.campaign.channel,
                                         exempt_caps=self.campaign.exempt_caps, now=now, real=not self.dry_run)
            verdicts = {r[0]: (r[1], r[2]) for r in db.execute(f"SELECT send_id, reason, not_before FROM {t}")}
            # A dry run does not wait for quiet hours: who a real run would defer is rendered, costed and recorded
            # with the time it would go (sent = would send, reason quiet_hours, not_before).
            would_wait = {sid: nb for sid, (reason, nb) in verdicts.items()
                          if self.dry_run and reason == "quiet_hours" and nb}
            over = self._over_budget([p for p in prepared if p.send_id in verdicts
                                      and (verdicts[p.send_id][0] is None or p.send_id in would_wait)])
            skips, defers = [], []
            for p in prepared:
                if p.send_id not in verdicts:
                    continue
                reason, not_before = verdicts[p.send_id]
                if p.send_id in would_wait:
                    reason = None
                if reason is None and p.send_id in over:
                    reason = "over_budget"
                if reason is None:
                    claimed.append(p)
                elif reason == "quiet_hours" and not_before:
                    defers.append((reason, not_before, now, p.send_id))
                else:
                    skips.append((reason, p.error, now, p.send_id))
            db.conn.executemany("UPDATE sends SET status = 'skipped', reason = ?, error = ?, updated_at = ? "
                                "WHERE id = ?", skips)
            db.conn.executemany("UPDATE sends SET status = 'deferred', reason = ?, not_before = ?, updated_at = ? "
                                "WHERE id = ?", defers)
            # Dry-run: nothing leaves the machine, so claim and record are one step in one transaction.
            external = self.channel.external
            status, sent_at, lease = ("claimed", None, now + self.lease) if external else ("sent", now, None)
            # What each claimed row records goes into a temp table, then one set-based UPDATE writes them all.
            db.execute("DROP TABLE IF EXISTS temp.claim_batch")
            db.execute("CREATE TEMP TABLE claim_batch (send_id INTEGER PRIMARY KEY, payload_hash TEXT, parts INTEGER, "
                       "cost REAL, coupon_code TEXT, message_id TEXT, reason TEXT, not_before INTEGER)")
            db.conn.executemany(
                "INSERT INTO temp.claim_batch VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(p.send_id, p.payload_hash, p.ready.parts, p.cost, p.ready.coupon_code, p.ready.message_id,
                  "quiet_hours" if p.send_id in would_wait else None, would_wait.get(p.send_id))
                 for p in claimed])
            # Everything up to now was part of this verdict; the per-message re-check reads only what comes after.
            self._recheck = Recheck(self.config, self.campaign.channel, marks_now(db))
            db.execute(
                "UPDATE sends SET status = ?, sent_at = ?, reason = c.reason, error = NULL, not_before = c.not_before, "
                "claimed_at = ?, lease_until = ?, claimed_by = ?, attempts = attempts + 1, handed_at = NULL, "
                "payload_hash = c.payload_hash, parts = c.parts, cost = c.cost, coupon_code = c.coupon_code, "
                "message_id = c.message_id, updated_at = ? FROM temp.claim_batch c WHERE sends.id = c.send_id "
                # the IN makes SQLite walk the batch and seek the ledger by id (without it, it scans the ledger)
                "AND sends.id IN (SELECT send_id FROM temp.claim_batch)",
                [status, sent_at, now, lease, self.holder, now])
            db.execute("DROP TABLE temp.claim_batch")
            db.execute(f"DROP TABLE temp.{t}")
            self._cost_of.update((p.send_id, p.cost) for p in claimed)
            self._window_start = self._book_window(len(claimed))
            self.summary.claimed += len(claimed)
            self.summary.deferred += len(defers)
            self.summary.skipped.update(s[0] for s in skips)
            if not self.channel.external:
                self.channel.send([p.ready for p in claimed])   # the dry-run transport sends nothing
                self.summary.sent += len(claimed)
                self._cost_of.clear()
        return claimed

    def _book_window(self, messages: int) -> float:
        """Book the channel's next sending window for this batch (inside the claim transaction), so that the
        channel's rate holds across every process sending on it. Returns when the window starts."""
        if not self.rate or not messages:
            return 0.0
        row = self.db.execute("SELECT next_free_at FROM channel_pacing WHERE channel = ?",
                              [self.campaign.channel]).fetchone()
        start = max(time.time(), row[0] if row else 0.0)
        self.db.execute("INSERT INTO channel_pacing (channel, next_free_at) VALUES (?, ?) ON CONFLICT (channel) "
                        "DO UPDATE SET next_free_at = excluded.next_free_at",
                        [self.campaign.channel, start + messages / self.rate])
        return start

    def _send_in_window(self, start: float, messages: list[Message], hooks: dict[str, Any]) -> list[Result]:
        delay = start - time.time()
        if delay > 0:
            time.sleep(delay)
        return self.channel.send(messages, **hooks)

    def _over_budget(self, eligible: list[Prepared]) -> set[int]:
        """send ids (in ledger order) that would take spending past the campaign's budget; books the rest."""
        budget = self.campaign.budget
        wanted = sum(p.cost for p in eligible)
        if budget is None:
            self._book(wanted)
            return set()
        # Real runs share one budget; a dry run is measured on its own.
        scope = "dry_run = 0" if not self.dry_run else f"run = {int(self.run)}"
        spent = self.db.execute(f"SELECT COALESCE(SUM(spent), 0) FROM campaign_runs WHERE campaign_id = ? "
                                f"AND {scope}", [self.campaign.id]).fetchone()[0]
        over, booked = set(), 0.0
        for p in eligible:
            if spent + booked + p.cost > budget + 1e-9:
                over.add(p.send_id)
            else:
                booked += p.cost
        self._book(booked)
        return over

    def _book(self, amount: float) -> None:
        if amount:
            self.db.execute("UPDATE campaign_runs SET spent = spent + ? WHERE campaign_id = ? AND run = ?",
                            [amount, self.campaign.id, self.run])

    # -- record: what the provider said ----------------------------------------------------------------------
    def _record(self, results: list[Result], now: int, *, leaving: bool = False) -> None:
        """A batch is back. Its rows were recorded one by one as their answers came (console.campaigns.handoff);
        here: wait until the last is committed, count, check the brakes, and react to an unreachable provider or
        one that asked us to wait."""
        assert self.handoff is not None
        self.handoff.flush()
        sent = [r for r in results if r.status == SENT]
        unreachable = [r for r in results if r.status == DEFERRED and r.unreachable]
        waits = [r for r in results if r.status == DEFERRED and r.provider_wait]
        lost = [r for r in results if r.status == SKIPPED and r.reason == CLAIM_LOST]
        # A brake that trips pauses the campaign (running → paused, audited); the next claim reads the status.
        if not self.dry_run and brakes.check(self.db, self.config, self.campaign.id) is not None:
            self.summary.stopped_by = "brake"
        self.summary.unknown += sum(1 for r in results if r.status == UNKNOWN)
        self.summary.sent += len(sent)
        self.summary.failed += sum(1 for r in results if r.status == FAILED)
        self.summary.deferred += sum(1 for r in results if r.status == DEFERRED and not r.unreachable)
        self.summary.skipped.update(r.reason for r in results if r.status == SKIPPED and r.reason != CLAIM_LOST)
        self.summary.claimed -= len(unreachable) + len(lost)
        if waits:
            self._provider_asks_to_wait(waits, now)
        if unreachable and not sent:
            self._unreachable_streak += 1
            if not leaving:
                self._provider_unreachable(unreachable[0].error or "provider unreachable",
                                           cannot_send=any(r.stop_run for r in unreachable))
        elif results:
            self._unreachable_streak = 0

    def _provider_asks_to_wait(self, waits: list[Result], now: int) -> None:
        """The provider answered Retry-After beyond max_backoff: nobody calls this channel before then."""
        asked = max(r.retry_after or 0 for r in waits if r.attempted) if any(r.attempted for r in waits) else \
            max(r.retry_after or 0 for r in waits)
        until = now + max(1, int(round(asked)))
        error = next((r.error for r in waits if r.attempted), waits[0].error) or ""
        reason = (f"{self.campaign.channel} provider asked to wait {asked:.0f}s (Retry-After), until "
                  f"{ts_to_iso(until)}: {error}")[:500]
        set_provider_wait(self.db, self.campaign.channel, until, reason)
        if self.notice:
            self.notice(f"{reason} — {len(waits)} message(s) deferred until then; nothing more is sent on "
                        f"{self.campaign.channel} before it")

    def _provider_unreachable(self, error: str, *, cannot_send: bool = False) -> None:
        """A whole batch could not reach the provider (its rows are planned again). Wait and let the loop try
        again — or, after `unreachable_retries` batches in a row, pause the campaign with the reason. When our own
        side cannot make the request (`cannot_send`), waiting will not help: pause at once."""
        tries = self._unreachable_streak
        if tries >= self.unreachable_tries or cannot_send:
            reason = (f"{self.campaign.channel}: the request could not be made ({error}); nothing was sent to the "
                      "recipients still planned" if cannot_send else
                      f"{self.campaign.channel} provider unreachable after {tries} tries ({error}); nothing was "
                      "sent to the recipients still planned")
            with immediate(self.db):
                changed = self.db.execute("UPDATE campaigns SET status = 'paused', pause_reason = ? WHERE id = ? "
                                          "AND status = 'running'", [reason, self.campaign.id]).rowcount
                if changed:
                    from console import audit

                    audit.record(self.db, "campaign.pause", campaign=self.campaign.name, reason=reason)
            self.summary.stopped_by = "channel_error" if cannot_send else "unreachable"
            if self.notice:
                self.notice(f"giving up: {reason}")
            return
        delay = min(self._max_backoff, max(1.0, self._backoff * 2 ** tries))
        if self.notice:
            self.notice(f"{self.campaign.channel} provider unreachable (try {tries} of {self.unreachable_tries}): "
                        f"{error} — nothing sent, trying again in {delay:.0f}s")
        time.sleep(delay)


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


def _database_file(db: sqlite_utils.Database) -> str:
    """The main database's file: the hand-off writer opens its own connection to it (one per thread)."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return str(file)
    raise WinbackError("a real send needs the workspace database on disk (an in-memory database cannot be shared "
                       "with the sending threads)")


def campaign_status(db: sqlite_utils.Database, campaign_id: int) -> str:
    return db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()[0]


def payload_hash(message: Message) -> str:
    """A short fingerprint of exactly what was (or would be) sent: address, subject, text and HTML."""
    joined = "\x1f".join((message.to or "", message.subject or "", message.text, message.html or ""))
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=12).hexdigest()


def finish_run(db: sqlite_utils.Database, campaign: model.Campaign, run: int) -> None:
    """Close a run with nothing left to do: completed, or scheduled again for a recurring real campaign."""
    now = now_ts()
    with immediate(db):
        dry = db.execute("SELECT dry_run FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                         [campaign.id, run]).fetchone()[0]
        # a dry run's deferrals are its finding (when a real send would reach them), not work left to do
        waiting = "('planned','claimed')" if dry else "('planned','deferred','claimed')"
        left = db.execute("SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND run = ? "
                          f"AND status IN {waiting}", [campaign.id, run]).fetchone()[0]
        if left:
            return
        db.execute("UPDATE campaign_runs SET finished_at = ? WHERE campaign_id = ? AND run = ? "
                   "AND finished_at IS NULL", [now, campaign.id, run])
        if campaign.every_days and not dry:
            started = db.execute("SELECT started_at FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                                 [campaign.id, run]).fetchone()[0]
            db.execute("UPDATE campaigns SET status = 'scheduled', next_run_at = ? WHERE id = ? "
                       "AND status = 'running'", [started + campaign.every_days * model.DAY, campaign.id])
        else:
            db.execute("UPDATE campaigns SET status = 'completed', completed_at = ? WHERE id = ? "
                       "AND status = 'running'", [now, campaign.id])


def dispatch(db: sqlite_utils.Database, config: Config, campaign: model.Campaign | str, **options: Any
             ) -> DispatchSummary:
    """Dispatch the campaign's latest run (see Dispatcher for options)."""
    if not isinstance(campaign, model.Campaign):
        campaign = model.get(db, campaign)
    run = latest_run(db, campaign.id)
    if run is None:
        raise WinbackError(f"campaign {campaign.name!r} has not been launched")
    return Dispatcher(db, config, campaign, run["run"], dry_run=bool(run["dry_run"]), **options).run_to_end()


__all__ = ["DispatchSummary", "Dispatcher", "active_dispatcher", "dispatch", "finish_run", "recover_lost_claims"]
