"""Freezing the audience: the segment's members written into the ledger in ONE transaction, arm fixed by hash.

Holdout and variant come from a hash of the campaign's salt and the user id (`hash mod 10000 < pct × 100` is
holdout), so the same user lands in the same arm however often the plan is computed, and the split can be
re-derived later. Holdout rows are final at once; everyone else starts `planned` (or `skipped` when they have no
address on the channel). Policy (consent, suppression, caps, quiet hours, budget) is decided later, at claim
time, so that an opt-out committed between launch and dispatch still stops the send.
"""

from __future__ import annotations

import sqlite_utils

from console import audit
from console.campaigns import ledger
from console.campaigns.audience import (
    MEMBERS,
    RANKED,
    audience_sql,
    launch_refusal,
    next_run,
    register_assigner,
)
from console.campaigns.ledger import CampaignStatus
from console.campaigns.model import Campaign
from console.campaigns.plan import rank_audience
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.uplift.features import record_features
from storage import temp_store
from storage.tx import immediate


class NoLongerDue(BadInput):
    """run-due listed a recurring campaign as due, but another process ran it before this one got the lock."""


def freeze(db: sqlite_utils.Database, campaign: Campaign, *, dry_run: bool, config: Config | None = None,
           due_by: int | None = None) -> tuple[int, int]:
    """Start a new run: write its audience into `sends` and set the campaign running. Returns (run, recipients).

    One transaction: either the whole audience is in the ledger with the campaign running, or nothing changed.
    A ranked campaign (rank_by and budget) freezes the plan's audience above the cut-off, in rank order, so the
    dispatcher's in-order budget booking spends on the best first (needs *config*: policy and cost estimates).
    With *due_by* (run-due), the campaign must still be scheduled for no later than that, checked in the same
    transaction: NoLongerDue otherwise (a second run-due listed it before the first one's run moved next_run_at).
    """
    register_assigner(db, campaign)
    counts_for_caps = int(not dry_run and not campaign.exempt_caps)
    # Sorting a million-member audience must not hold it all in RAM: let the sorter spill to a temp file — only
    # when that drops no temp table of the caller's (storage/temp_store.py: switching drops them all).
    spilled = temp_store.spill_to_disk(db.conn)
    try:
        return _freeze(db, campaign, dry_run=dry_run, counts_for_caps=counts_for_caps, config=config, due_by=due_by)
    finally:
        temp_store.restore(db.conn, spilled)


def _freeze(db: sqlite_utils.Database, campaign: Campaign, *, dry_run: bool, counts_for_caps: int,
            config: Config | None, due_by: int | None) -> tuple[int, int]:
    with immediate(db):
        refusal = launch_refusal(db, campaign)
        if refusal:
            raise BadInput(refusal)
        if due_by is not None:
            latest = db.execute("SELECT status, next_run_at, (SELECT MAX(run) FROM campaign_runs WHERE campaign_id = "
                                "c.id), hold_reason FROM campaigns c WHERE c.id = ?", [campaign.id]).fetchone()
            if latest[3] is not None:   # a scheduled real send another run-due held meanwhile (confirmation.py)
                raise NoLongerDue(f"held by another process meanwhile: {latest[3]}")
            if latest[0] != "scheduled" or latest[1] is None or latest[1] > due_by:
                raise NoLongerDue(f"run by another process meanwhile (run {latest[2]})")
        real_runs = db.execute("SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 0",
                               [campaign.id]).fetchone()[0]
        now = now_ts()
        run = next_run(db, campaign.id)
        # A real run after dry runs is measured on its own; a recurring campaign applies its re-entry rule.
        ranked = campaign.rank_by is not None and campaign.budget is not None
        if ranked:
            if config is None:
                raise BadInput(f"campaign {campaign.name!r} is ranked: launching it needs the workspace settings")
            # the same audience the plan shows (plan builds it the same way), computed inside this transaction
            rank_audience(db, config, campaign, now=now, real=not dry_run)
            register_assigner(db, campaign)
        select, params = audience_sql(db, campaign, run=run if real_runs else 1, now=now, ranked=ranked)
        order = "seg.rank" if ranked else "seg.user_id"
        params.update({"wb_cid": campaign.id, "wb_run": run, "wb_channel": campaign.channel,
                       "wb_dry": int(dry_run), "wb_caps": counts_for_caps, "wb_now": now})
        db.execute(
            "INSERT INTO campaign_runs (campaign_id, run, dry_run, started_at, started_by) VALUES (?, ?, ?, ?, ?)",
            [campaign.id, run, int(dry_run), now, audit.current_operator()],
        )
        ledger.freeze_audience(db, select, order, params)
        record_features(db, campaign.id, run, now)  # L (issue 15): features as at send time, for uplift models
        db.execute(f"DROP TABLE temp.{MEMBERS}")
        db.execute(f"DROP TABLE IF EXISTS temp.{RANKED}")
        recipients = db.execute("SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND run = ?",
                                [campaign.id, run]).fetchone()[0]
        ledger.move_campaign(db, campaign.id, CampaignStatus.RUNNING, dry_run=int(dry_run), pause_reason=None,
                             completed_at=None)
        db.execute("UPDATE campaigns SET launched_at = COALESCE(launched_at, ?) WHERE id = ?", [now, campaign.id])
        if not dry_run and real_runs == 0:
            # outcomes are measured from the first real launch
            db.execute("UPDATE campaigns SET launched_at = ? WHERE id = ?", [now, campaign.id])
        audit.record(db, "campaign.launch", campaign=campaign.name, run=run, real=not dry_run,
                     recipients=recipients)
    return run, recipients
