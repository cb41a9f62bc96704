"""The dispatcher: claim a batch → commit → send → record, until the run is done, paused or cancelled.

Exactness rules (docs/campaigns.md):
- Nothing advances when rows are *read*. Rows advance only inside BEGIN IMMEDIATE transactions: the claim
  (re-checking campaign status, consent, suppression, caps, quiet hours and budget, then marking `claimed` with a
  lease) and the record (sent / failed / deferred).
- A claimed row whose dispatcher died becomes `unknown` — never resent. At most one batch per dispatcher is
  ever claimed-but-unrecorded, so `unknown` is bounded by the batch size.
- Pause and cancel are read at every claim, so another process's pause takes effect within one batch.
- While one batch is with the provider, the next is read and rendered (not claimed) — the CPU work overlaps the
  network wait without widening the in-flight window.
- Each claimed batch books its channel's next sending window (channel_pacing), so a channel's rate holds across
  processes; the channel's token bucket paces the workers within the window.
- Dry-run sends nothing, so its claim, "send" and record are one transaction.
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
from console.channels import DEFERRED, FAILED, SENT, UNKNOWN, Channel, Message, Result, open_channel
from console.clock import now_ts
from console.config import Config
from console.errors import WinbackError
from console.policy.journal import apply_pending_optouts  # D: opt-out journal (issue 19.1)
from console.policy.tx import immediate

MAX_ATTEMPTS = 8           # a message throttled this many times is recorded failed ('throttled')
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
    unknown: int = 0                  # sent but no reply, or claimed by a dispatcher that died
    recovered: int = 0                # of those: claimed by a dispatcher that died (turned unknown on resume)
    skipped: Counter = field(default_factory=Counter)
    next_at: int | None = None        # waiting: when deferred rows become due
    seconds: float = 0.0
    pause_reason: str | None = None   # paused: why (an operator's reason, or the brake that tripped)
    stopped_by: str | None = None     # 'brake' or 'unreachable' when winback itself paused the run (scripts: exit 1)

    def add(self, other: DispatchSummary) -> None:
        """Fold in what a helper dispatcher on the same run did."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.failed += other.failed
        self.deferred += other.deferred
        self.unknown += other.unknown
        self.recovered += other.recovered
        self.skipped.update(other.skipped)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DispatchSummary:
        out = cls(data["campaign"], data["run"], data["dry_run"], outcome=data["outcome"])
        for key in ("claimed", "sent", "failed", "deferred", "unknown"):
            setattr(out, key, data[key])
        out.recovered = data.get("recovered", 0)
        out.skipped.update(data["skipped"])
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "run": self.run, "dry_run": self.dry_run, "outcome": self.outcome,
                "claimed": self.claimed, "sent": self.sent, "failed": self.failed, "deferred": self.deferred,
                "unknown": self.unknown, "recovered_unknown": self.recovered,
                "skipped": dict(self.skipped), "next_at": self.next_at, "seconds": round(self.seconds, 3),
                "pause_reason": self.pause_reason, "stopped_by": self.stopped_by}


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
    """Claimed rows whose dispatcher is gone (lease expired, or its process on this host is dead) → `unknown`.

    Their message may or may not have reached the provider: we never resend them (at-most-once); the operator
    reconciles them against the provider's records.
    """
    now = now if now is not None else now_ts()
    with immediate(db):
        holders = [r[0] for r in db.execute(
            "SELECT DISTINCT claimed_by FROM sends WHERE campaign_id = ? AND status = 'claimed'", [campaign_id])]
        dead = [h for h in holders if _holder_is_dead(h)]
        changed = db.execute(
            "UPDATE sends SET status = 'unknown', reason = 'lease_expired', updated_at = ? "
            "WHERE campaign_id = ? AND status = 'claimed' AND lease_until < ?",
            [now, campaign_id, now]).rowcount
        for holder in dead:
            changed += db.execute(
                "UPDATE sends SET status = 'unknown', reason = 'dispatcher_died', updated_at = ? "
                "WHERE campaign_id = ? AND status = 'claimed' AND claimed_by IS ?",
                [now, campaign_id, holder]).rowcount
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
        self._unsubscribe = None
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

    # -- the loop -------------------------------------------------------------------------------------------
    def run_to_end(self) -> DispatchSummary:
        """Claim → send → record, batch after batch. While one batch is with the provider (in a sender thread),
        the next one is read and rendered — but not claimed: at most one batch is ever claimed and unrecorded."""
        started = time.monotonic()
        sending: Future | None = None   # the batch with the provider
        sender = ThreadPoolExecutor(1, thread_name_prefix="winback-sender") if self.channel.external else None
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
                claimed = self._claim(prepared, now_ts())
                if claimed and sender is not None:
                    sending = sender.submit(self._send_in_window, self._window_start,
                                            [p.message for p in claimed])
                done += len(rows)
                if self.progress:
                    self.progress(min(done, total), total)
        finally:
            if sending is not None:
                # whatever happened here, what the provider said about the batch in hand is recorded
                self._record(sending.result(), now_ts(), leaving=True)
            if sender is not None:
                sender.shutdown(wait=True)
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
            return False
        frozen = bool(os.environ.get("WINBACK_NOW"))
        wait_until = next_at if next_at is not None else now + 1
        if not frozen and wait_until - now <= self.max_wait:
            time.sleep(max(0.05, min(1.0, wait_until - time.time())))
            return True
        self.summary.outcome = "waiting" if next_at is not None else "in_flight"
        self.summary.next_at = next_at
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
            template = self.templates.get(arm)
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
            over = self._over_budget([p for p in prepared if p.send_id in verdicts and verdicts[p.send_id][0] is None])
            skips, defers = [], []
            for p in prepared:
                if p.send_id not in verdicts:
                    continue
                reason, not_before = verdicts[p.send_id]
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
                       "cost REAL, coupon_code TEXT, message_id TEXT)")
            db.conn.executemany(
                "INSERT INTO temp.claim_batch VALUES (?, ?, ?, ?, ?, ?)",
                [(p.send_id, p.payload_hash, p.message.parts, p.cost, p.message.coupon_code, p.message.message_id)
                 for p in claimed])
            db.execute(
                "UPDATE sends SET status = ?, sent_at = ?, reason = NULL, error = NULL, not_before = NULL, "
                "claimed_at = ?, lease_until = ?, claimed_by = ?, attempts = attempts + 1, "
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
                self.channel.send([p.message for p in claimed])   # the dry-run transport sends nothing
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

    def _send_in_window(self, start: float, messages: list[Message]) -> list[Result]:
        delay = start - time.time()
        if delay > 0:
            time.sleep(delay)
        return self.channel.send(messages)

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
        sent = [(now, r.provider_id, now, r.send_id) for r in results if r.status == SENT]
        failed = [(r.error, now, r.send_id) for r in results if r.status == FAILED]
        deferred = [(r.error, now + max(1, int(round(r.retry_after or 1))), now, r.send_id)
                    for r in results if r.status == DEFERRED and not r.unreachable]
        # never left the machine: certainly not sent, so back to planned as if never claimed (not an attempt)
        unreachable = [(r.error, now, r.send_id) for r in results if r.unreachable]
        unknown = [(r.error, now, r.send_id) for r in results if r.status == UNKNOWN]

        def write() -> None:
            # 'unknown' too: if our lease lapsed while the provider was slow, the provider's answer still wins.
            self.db.conn.executemany(
                "UPDATE sends SET status = 'sent', sent_at = ?, provider_id = ?, lease_until = NULL, "
                "reason = NULL, updated_at = ? WHERE id = ? AND status IN ('claimed', 'unknown')", sent)
            # a delivery receipt may have overtaken us: keep its verdict, add when it went and the provider's id
            self.db.conn.executemany(
                "UPDATE sends SET sent_at = COALESCE(sent_at, ?), provider_id = COALESCE(provider_id, ?), "
                "lease_until = NULL, updated_at = ? WHERE id = ? AND status IN ('delivered', 'bounced', 'failed') "
                "AND sent_at IS NULL", sent)
            self.db.conn.executemany(
                "UPDATE sends SET status = 'failed', reason = 'provider_refused', error = ?, lease_until = NULL, "
                "updated_at = ? WHERE id = ? AND status IN ('claimed', 'unknown')", failed)
            self.db.conn.executemany(
                "UPDATE sends SET status = CASE WHEN attempts >= " + str(MAX_ATTEMPTS) + " THEN 'failed' "
                "ELSE 'deferred' END, reason = 'throttled', error = ?, not_before = ?, lease_until = NULL, "
                "updated_at = ? WHERE id = ? AND status IN ('claimed', 'unknown')", deferred)
            self.db.conn.executemany(
                "UPDATE sends SET status = 'unknown', reason = 'no_reply', error = ?, lease_until = NULL, "
                "updated_at = ? WHERE id = ? AND status = 'claimed'", unknown)
            self.db.conn.executemany(
                "UPDATE sends SET status = 'planned', reason = NULL, error = ?, not_before = NULL, lease_until = NULL, "
                "claimed_at = NULL, claimed_by = NULL, attempts = MAX(0, attempts - 1), updated_at = ? "
                "WHERE id = ? AND status IN ('claimed', 'unknown')", unreachable)

        refund = sum(self._cost_of.pop(r.send_id, 0.0) for r in results if r.status in (FAILED, DEFERRED))
        for r in results:
            self._cost_of.pop(r.send_id, None)

        def write_and_refund() -> None:
            write()
            if refund:  # a refused or throttled message is not spent (its cost is booked again when re-claimed)
                self._book(-refund)

        with immediate(self.db):
            write_and_refund()
        # A brake that trips pauses the campaign (running → paused, audited); the next claim reads the status.
        if not self.dry_run and brakes.check(self.db, self.config, self.campaign.id) is not None:
            self.summary.stopped_by = "brake"
        self.summary.unknown += len(unknown)
        self.summary.sent += len(sent)
        self.summary.failed += len(failed)
        self.summary.deferred += len(deferred)
        self.summary.claimed -= len(unreachable)
        if unreachable and not sent:
            self._unreachable_streak += 1
            if not leaving:
                self._provider_unreachable(unreachable[0][0] or "provider unreachable")
        elif results:
            self._unreachable_streak = 0

    def _provider_unreachable(self, error: str) -> None:
        """A whole batch could not reach the provider (its rows are planned again). Wait and let the loop try
        again — or, after `unreachable_retries` batches in a row, pause the campaign with the reason."""
        tries = self._unreachable_streak
        if tries >= self.unreachable_tries:
            reason = (f"{self.campaign.channel} provider unreachable after {tries} tries ({error}); nothing was "
                      "sent to the recipients still planned")
            with immediate(self.db):
                changed = self.db.execute("UPDATE campaigns SET status = 'paused', pause_reason = ? WHERE id = ? "
                                          "AND status = 'running'", [reason, self.campaign.id]).rowcount
                if changed:
                    from console import audit

                    audit.record(self.db, "campaign.pause", campaign=self.campaign.name, reason=reason)
            self.summary.stopped_by = "unreachable"
            if self.notice:
                self.notice(f"giving up: {reason}")
            return
        delay = min(self._max_backoff, max(1.0, self._backoff * 2 ** tries))
        if self.notice:
            self.notice(f"{self.campaign.channel} provider unreachable (try {tries} of {self.unreachable_tries}): "
                        f"{error} — nothing sent, trying again in {delay:.0f}s")
        time.sleep(delay)


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
