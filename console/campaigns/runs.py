"""Who sends a run, and its beginning and end: the dispatcher's identity and heartbeat, claims lost with a dispatcher
that died, and closing a run with nothing left to do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from console.campaigns import holders, ledger, model
from console.campaigns.ledger import CampaignStatus, SendState
from console.channels import Channel
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from storage.tx import immediate

HEARTBEAT_STALE = 300      # seconds without a sign of life (a claim, a renewal) after which a dispatcher is presumed gone


@dataclass(frozen=True)
class RunContext:
    """What the parts of one dispatcher share: the run it sends, on which channel, as whom."""

    db: sqlite_utils.Database
    config: Config
    campaign: model.Campaign
    run: int
    dry_run: bool
    channel: Channel
    holder: str

    def count(self, where: str) -> int:
        """Rows of this run matching `where` (SQL written here, never operator input)."""
        return int(self.db.execute(f"SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND run = ? AND {where}",
                                   [self.campaign.id, self.run]).fetchone()[0])


def dispatcher_id() -> str:
    """This process, `host:pid` (a dispatcher's own id is holders.new_holder(): unique within the process)."""
    return holders.process_id()


class BeingSent(BadInput):
    """Another dispatcher — in another process or this one — is sending the run: one dispatcher per run."""

    def __init__(self, campaign: str, holder: str):
        here = " (in this process)" if holders.held_here(holder) else ""
        super().__init__(f"campaign {campaign!r} is being sent right now by {holder}{here}; "
                         "`winback campaign pause` stops it, `resume` continues it later")
        self.holder = holder


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
    """A claim made by a dispatcher that is certainly gone (holders.is_dead: `host:pid` and `host:pid:token`)."""
    return holders.is_dead(holder)


def _alive(holder: str | None, heartbeat_at: int | None, now: int) -> bool:
    """Is the dispatcher that said `holder` on a run still sending it? One of this process that has not left is,
    whatever its heartbeat; another is while its heartbeat is fresh and its process (on this host) exists."""
    if not holder:
        return False
    if holders.held_here(holder):
        return True
    return (heartbeat_at or 0) >= now - HEARTBEAT_STALE and not holders.is_dead(holder)


def active_dispatcher(db: sqlite_utils.Database, campaign_id: int, now: int | None = None) -> str | None:
    """The id of a dispatcher still working on the campaign's latest run (this process's too), or None.

    Alive means: it is a dispatcher of this process that has not left, or its heartbeat (refreshed at every claim
    and while a batch is with the provider) is under HEARTBEAT_STALE seconds old and, on this host, its process
    exists.
    """
    now = now if now is not None else now_ts()
    row = db.execute("SELECT dispatcher, heartbeat_at FROM campaign_runs WHERE campaign_id = ? ORDER BY run DESC "
                     "LIMIT 1", [campaign_id]).fetchone()
    if row is None or not _alive(row[0], row[1], now):
        return None
    return str(row[0])


def take_run(ctx: RunContext) -> None:
    """Become the run's dispatcher — or raise BeingSent when another live one is (in this process as in another).
    Checked and written in one transaction, so of two dispatchers starting together exactly one goes on."""
    db, campaign = ctx.db, ctx.campaign
    now = now_ts()
    with immediate(db):
        row = db.execute("SELECT dispatcher, heartbeat_at FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                         [campaign.id, ctx.run]).fetchone()
        if row is not None and row[0] != ctx.holder and _alive(row[0], row[1], now):
            raise BeingSent(campaign.name, str(row[0]))
        db.execute("UPDATE campaign_runs SET dispatcher = ?, heartbeat_at = ? WHERE campaign_id = ? AND run = ?",
                   [ctx.holder, now, campaign.id, ctx.run])


def heartbeat(ctx: RunContext, *, leaving: bool = False) -> None:
    """Say who is sending this run (so run-due and resume do not start a second dispatcher), or that we left."""
    db, campaign_id = ctx.db, ctx.campaign.id
    with immediate(db):
        if leaving:
            db.execute("UPDATE campaign_runs SET dispatcher = NULL WHERE campaign_id = ? AND run = ? "
                       "AND dispatcher = ?", [campaign_id, ctx.run, ctx.holder])
        else:
            db.execute("UPDATE campaign_runs SET dispatcher = ?, heartbeat_at = ? WHERE campaign_id = ? "
                       "AND run = ?", [ctx.holder, now_ts(), campaign_id, ctx.run])


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
            "SELECT DISTINCT claimed_by FROM sends WHERE campaign_id = ? AND status = ?",
            [campaign_id, SendState.CLAIMED])]
        lost: list[tuple[str, str, list[Any]]] = [("lease_expired", "lease_until < ?", [now])]
        lost += [("dispatcher_died", "claimed_by IS ?", [h]) for h in holders if _holder_is_dead(h)]
        return sum(ledger.recover_lost(db, campaign_id, now, where, params, why) for why, where, params in lost)


def finish_run(db: sqlite_utils.Database, campaign: model.Campaign, run: int) -> None:
    """Close a run with nothing left to do: completed, or scheduled again for a recurring real campaign."""
    now = now_ts()
    with immediate(db):
        dry = db.execute("SELECT dry_run FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                         [campaign.id, run]).fetchone()[0]
        # a dry run's deferrals are its finding (when a real send would reach them), not work left to do
        waiting = (SendState.PLANNED, SendState.CLAIMED) if dry else ledger.OPEN
        left = db.execute("SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND run = ? "
                          f"AND status IN {ledger.in_list(waiting)}", [campaign.id, run]).fetchone()[0]
        if left:
            return
        db.execute("UPDATE campaign_runs SET finished_at = ? WHERE campaign_id = ? AND run = ? "
                   "AND finished_at IS NULL", [now, campaign.id, run])
        if campaign.every_days and not dry:
            started = db.execute("SELECT started_at FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                                 [campaign.id, run]).fetchone()[0]
            ledger.move_campaign(db, campaign.id, CampaignStatus.SCHEDULED, when={CampaignStatus.RUNNING},
                                 next_run_at=started + campaign.every_days * model.DAY)
        else:
            ledger.move_campaign(db, campaign.id, CampaignStatus.COMPLETED, when={CampaignStatus.RUNNING},
                                 completed_at=now)


__all__ = ["HEARTBEAT_STALE", "BeingSent", "RunContext", "active_dispatcher", "dispatcher_id", "finish_run",
           "heartbeat", "latest_run", "message_ids", "recover_lost_claims", "take_run"]
