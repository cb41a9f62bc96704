"""Read, render and claim a batch: candidates are read (nothing advances), rendered and validated outside any
transaction, then claimed in one write transaction that re-checks campaign status, consent, suppression, caps,
quiet hours and budget (console.campaigns.integrations.evaluate_policy) and marks the rows `claimed` with a lease
— or, in a dry run, records them as would-send at once (console.campaigns.ledger)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from console.campaigns import dry_codes, integrations, ledger, pacing
from console.campaigns.journal_fold import apply_pending_optouts  # D: opt-out journal (issue 19.1)
from console.campaigns.ledger import CampaignStatus, SendState
from console.campaigns.recheck import Recheck, marks_now
from console.campaigns.runs import RunContext, heartbeat, message_ids
from console.channels import Message
from console.channels.preheader import with_preheader
from console.config import ConfigError
from console.errors import WinbackError
from console.messages import RenderedMessage
from storage.tx import immediate

Candidate = tuple[int, int, str, str | None]   # send id, user id, arm, address


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


@dataclass
class Claimed:
    """What one claim transaction decided."""

    rows: list[Prepared] = field(default_factory=list)   # claimed (a dry run: recorded as would-send)
    deferred: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    window_start: float = 0.0          # when the batch may start sending (channel pacing)
    recheck: Recheck | None = None     # the hand-off's last look: what changed since this claim


def payload_hash(message: Message) -> str:
    """A short fingerprint of exactly what was (or would be) sent: address, subject, text and HTML."""
    joined = "\x1f".join((message.to or "", message.subject or "", message.text, message.html or ""))
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=12).hexdigest()


class Claimer:
    """Candidates → prepared → claimed, for one dispatcher of a run."""

    def __init__(self, ctx: RunContext, *, batch_size: int, lease: int, rate: float,
                 partition: tuple[int, int] | None):
        self.ctx = ctx
        self.batch_size = batch_size
        self.lease = lease
        self.rate = rate
        # (k, n): only rows with id % n == k — one of n dispatchers sharing a run without rendering twice.
        self.partition = partition
        self.offer = integrations.get_offer(ctx.db, ctx.campaign.offer)
        self.templates = {v.label: v.template for v in ctx.campaign.variants}
        self._unsubscribe: Callable[[int], str | None] | None = None   # user id → link; made by prepare
        self._message_id = message_ids(ctx.campaign, ctx.run, ctx.config)
        self._renderers: dict[str, integrations.Render] = {}
        # a dry run records no code the approved template could not carry: nobody would get it (dry_codes)
        self._codes = not (ctx.dry_run and dry_codes.withheld(ctx.db, ctx.config, ctx.campaign))

    # -- read: reading changes nothing ------------------------------------------------------------------------
    def candidates(self, now: int) -> list[Candidate]:
        # These rows are only candidates until the claim transaction takes them. Two queries, each walking the
        # (campaign_id, status) index in id order, so a batch costs O(batch).
        k, n = self.partition or (0, 1)
        c = self.ctx
        rows: list[Candidate] = c.db.execute(
            "SELECT id, user_id, arm, address FROM sends WHERE campaign_id = ? AND status = ? AND run = ? "
            "AND id % ? = ? ORDER BY id LIMIT ?",
            [c.campaign.id, SendState.PLANNED, c.run, n, k, self.batch_size]).fetchall()
        if len(rows) < self.batch_size:
            rows += c.db.execute(
                "SELECT id, user_id, arm, address FROM sends WHERE campaign_id = ? AND status = ? "
                "AND run = ? AND not_before <= ? AND id % ? = ? ORDER BY id LIMIT ?",
                [c.campaign.id, SendState.DEFERRED, c.run, now, n, k, self.batch_size - len(rows)]).fetchall()
        return rows

    # -- prepare: render and validate, outside any transaction -------------------------------------------------
    def prepare(self, rows: list[Candidate]) -> list[Prepared]:
        c = self.ctx
        by_arm: dict[str, list[Candidate]] = {}
        for row in rows:
            by_arm.setdefault(row[2], []).append(row)
        if self._unsubscribe is None:
            self._unsubscribe = integrations.unsubscribe_links(c.db, c.config, c.campaign.channel, c.campaign.id)
        out: list[Prepared] = []
        for arm, arm_rows in by_arm.items():
            template = self.templates[arm]   # candidates are variant rows (the holdout is never planned)
            user_ids = [r[1] for r in arm_rows]
            try:
                if arm not in self._renderers:
                    self._renderers[arm] = integrations.renderer(c.db, c.config, template, offer=self.offer,
                                                                 campaign=c.campaign)
                rendered = self._renderers[arm](user_ids)
            except ConfigError:
                # winback.toml, not the recipients: nothing is recorded for this batch (it is read, not claimed,
                # so its rows stay planned/deferred) and the run stops here; once the file is fixed, resume or
                # run-due sends them. A batch already with the provider is recorded on the way out (dispatch).
                raise
            except WinbackError as exc:
                rendered = {uid: RenderedMessage(uid, c.campaign.channel, error=str(exc)) for uid in user_ids}
            for send_id, user_id, _arm, address in arm_rows:
                out.append(self._prepare_one(send_id, user_id, address, rendered.get(user_id)))
        out.sort(key=lambda p: p.send_id)
        return out

    def _prepare_one(self, send_id: int, user_id: int, address: str | None,
                     r: RenderedMessage | None) -> Prepared:
        if r is None or r.error:
            return Prepared(send_id, user_id, address, None, "render_error",
                            r.error if r else "nothing rendered")
        channel = self.ctx.channel
        problem = channel.validate(address)
        if problem:
            return Prepared(send_id, user_id, address, None, "invalid_address", problem)
        fields = dict(r.fields) if r.fields else {}
        if r.title is not None:
            fields["title"] = r.title
        if r.link is not None:
            fields["link"] = r.link
        fields["external_id"] = r.external_id
        if r.name and self.ctx.campaign.channel == "email":   # the To's display name (console/channels/recipient.py)
            fields.setdefault("name", r.name)
        assert self._unsubscribe is not None  # prepare makes it before the first row
        msg = Message(send_id, user_id, address, r.text, self.ctx.campaign.name,
                      self._message_id(user_id), subject=r.subject, html=with_preheader(r.html, r.preheader),
                      parts=r.parts or 1, cost=r.cost, coupon_code=r.coupon_code if self._codes else None,
                      unsubscribe_url=self._unsubscribe(user_id), fields=fields)
        msg.cost = float(r.cost) if r.cost is not None else channel.cost(msg)
        return Prepared(send_id, user_id, address, msg, cost=msg.cost, payload_hash=payload_hash(msg))

    # -- claim: one write transaction ------------------------------------------------------------------------
    def claim(self, prepared: list[Prepared], now: int) -> Claimed:
        c = self.ctx
        db = c.db
        t = integrations.POLICY_TABLE
        out = Claimed()
        with immediate(db):
            # D (issue 19.1): fold opt-outs journaled while the database was busy before deciding anything.
            apply_pending_optouts(db, c.config)
            if ledger.campaign_status(db, c.campaign.id) != CampaignStatus.RUNNING:
                return out  # paused or cancelled by another process: the loop reads it and stops
            heartbeat(c)
            integrations.create_policy_table(db)
            db.conn.executemany(
                f"INSERT INTO {t} (user_id, send_id, address, channel, reason, cost) VALUES (?, ?, ?, ?, ?, ?)",
                [(p.user_id, p.send_id, p.address, c.campaign.channel, p.reason, p.cost) for p in prepared])
            # Another dispatcher may have taken some rows since we read them.
            db.execute(f"DELETE FROM {t} WHERE NOT EXISTS (SELECT 1 FROM sends s WHERE s.id = {t}.send_id "
                       f"AND s.status IN {ledger.in_list((SendState.PLANNED, SendState.DEFERRED))})")
            integrations.evaluate_policy(db, c.config, channel=c.campaign.channel,
                                         exempt_caps=c.campaign.exempt_caps, now=now, real=not c.dry_run)
            verdicts = {r[0]: (r[1], r[2]) for r in db.execute(f"SELECT send_id, reason, not_before FROM {t}")}
            # A dry run does not wait for quiet hours: who a real run would defer is rendered, costed and recorded
            # with the time it would go (sent = would send, reason quiet_hours, not_before).
            would_wait = {sid: nb for sid, (reason, nb) in verdicts.items()
                          if c.dry_run and reason == "quiet_hours" and nb}
            over = pacing.over_budget(
                db, c.campaign.id, c.run, dry_run=c.dry_run, budget=c.campaign.budget,
                eligible=[p for p in prepared if p.send_id in verdicts
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
                    out.rows.append(p)
                elif reason == "quiet_hours" and not_before:
                    defers.append((reason, not_before, now, p.send_id))
                else:
                    skips.append((reason, p.error, now, p.send_id))
            ledger.skip(db, skips)
            ledger.defer(db, defers)
            # Everything up to now was part of this verdict; the per-message re-check reads only what comes after.
            out.recheck = Recheck(c.config, c.campaign.channel, marks_now(db))
            # Dry-run: nothing leaves the machine, so claim and record are one step in one transaction.
            external = c.channel.external
            ledger.claim(db, [(p.send_id, p.payload_hash, p.ready.parts, p.cost, p.ready.coupon_code,
                               p.ready.message_id, "quiet_hours" if p.send_id in would_wait else None,
                               would_wait.get(p.send_id)) for p in out.rows],
                         holder=c.holder, now=now, lease_until=now + self.lease if external else None,
                         dry_run_sent=not external)
            db.execute(f"DROP TABLE temp.{t}")
            out.window_start = pacing.book_window(db, c.campaign.channel, self.rate, len(out.rows))
            out.deferred = len(defers)
            out.skipped.update(s[0] for s in skips)
            if not external:
                c.channel.send([p.ready for p in out.rows])   # the dry-run transport sends nothing
        return out


__all__ = ["Candidate", "Claimed", "Claimer", "Prepared", "payload_hash"]
