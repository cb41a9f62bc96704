"""A campaign's audience before it is frozen: who is a member, which arm each lands in (by hash), the SQL that
reads them with their address, and whether a new run may start at all.

Shared by the plan (console/campaigns/plan.py counts it) and the freeze (console/campaigns/freeze.py writes it
into the ledger), so the two cannot disagree about who is in the audience.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import sqlite_utils

from console.campaigns import integrations, ledger
from console.campaigns.ledger import CampaignStatus
from console.campaigns.model import Campaign, Variant
from console.channel_names import ADDRESS_COLUMN

HOLDOUT = "holdout"


def arm_assigner(salt: str, holdout_pct: float, variants: Sequence[Variant]) -> Callable[[int], str]:
    """A function user_id → arm label ('holdout' or a variant label), deterministic for this salt."""
    threshold = round(holdout_pct * 100)
    labels: list[str] = []
    bounds: list[int] = []
    total = 0
    for v in variants:
        total += max(1, v.weight)
        labels.append(v.label)
        bounds.append(total)
    prefix = f"{salt}:".encode()

    def assign(user_id: int) -> str:
        n = int.from_bytes(hashlib.blake2b(prefix + str(user_id).encode(), digest_size=8).digest(), "big")
        if n % 10000 < threshold:
            return HOLDOUT
        pick = (n // 10000) % total
        for label, bound in zip(labels, bounds, strict=True):
            if pick < bound:
                return label
        return labels[-1]  # pragma: no cover

    return assign


def register_assigner(db: sqlite_utils.Database, campaign: Campaign) -> None:
    """Make `wb_arm(user_id)` available to SQL on this connection."""
    assign = arm_assigner(campaign.salt, campaign.holdout_pct, campaign.variants)
    db.conn.create_function("wb_arm", 1, assign, deterministic=True)


MEMBERS = "campaign_members"
RANKED = "campaign_ranked"   # a ranked campaign's audience above the cut-off (plan.rank_audience)


def load_members(db: sqlite_utils.Database, campaign: Campaign, *, ranked: bool = False) -> None:
    """Write the segment's members into `temp.campaign_members(user_id PRIMARY KEY, rank)` — for a ranked
    launch, the audience above the ranking's cut-off with its rank (temp.campaign_ranked).

    The segment's own query runs as given, with its own parameters (positional or named, whatever its author
    chose): nothing rewrites its SQL, so a `?` or `:name` inside one of its string literals cannot be mistaken for
    a parameter. The primary key also drops a member listed twice and keeps the members in user order.
    """
    db.execute(f"DROP TABLE IF EXISTS temp.{MEMBERS}")
    db.execute(f"CREATE TEMP TABLE {MEMBERS} (user_id INTEGER PRIMARY KEY, rank INTEGER)")
    if ranked:
        db.execute(f"INSERT INTO temp.{MEMBERS} (user_id, rank) SELECT user_id, rank FROM temp.{RANKED}")
        return
    seg_sql, seg_params = integrations.segment_members_sql(db, campaign.segment)
    db.execute(f"INSERT OR IGNORE INTO temp.{MEMBERS} (user_id) SELECT * FROM ({seg_sql})", seg_params)


def audience_sql(db: sqlite_utils.Database, campaign: Campaign, *, run: int, now: int, ranked: bool = False
                 ) -> tuple[str, dict]:
    """SELECT user_id, arm, address over the segment, minus users this campaign reached within the re-entry period.

    Loads the members first (load_members); the returned SQL reads them and takes named parameters only.
    """
    load_members(db, campaign, ranked=ranked)
    params: dict = {}
    column = ADDRESS_COLUMN[campaign.channel]
    reentry = ""
    if run > 1:
        params["wb_since"] = now - campaign.reentry_days * 86_400 if campaign.reentry_days else 0
        params["wb_cid"] = campaign.id
        reentry = (
            "WHERE NOT EXISTS (SELECT 1 FROM sends p JOIN campaign_runs r ON r.campaign_id = p.campaign_id "
            "AND r.run = p.run AND r.dry_run = 0 WHERE p.campaign_id = :wb_cid AND p.user_id = seg.user_id "
            "AND r.started_at >= :wb_since)"
        )
    sql = (
        f"SELECT seg.user_id AS user_id, wb_arm(seg.user_id) AS arm, u.{column} AS address, seg.rank AS rank "
        f"FROM temp.{MEMBERS} seg JOIN users u ON u.id = seg.user_id {reentry}"
    )
    return sql, params


def next_run(db: sqlite_utils.Database, campaign_id: int) -> int:
    row = db.execute("SELECT COALESCE(MAX(run), 0) FROM campaign_runs WHERE campaign_id = ?", [campaign_id]).fetchone()
    return int(row[0]) + 1


def launch_refusal(db: sqlite_utils.Database, campaign: Campaign) -> str | None:
    """Why this campaign cannot start a new run now (running, paused, cancelled, already sent), or None."""
    if campaign.simulated:   # its rows are made up (the demo's); a run of it would mix real recipients into them
        return (f"campaign {campaign.name!r} is simulated (the demo's made-up history: nothing was sent) and "
                "cannot be launched; create a new campaign")
    status = ledger.campaign_status(db, campaign.id)
    if status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED):
        return f"campaign {campaign.name!r} is {status}; use `winback campaign resume` or `cancel`"
    if status == CampaignStatus.CANCELLED:
        return f"campaign {campaign.name!r} was cancelled"
    real_runs = db.execute("SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 0",
                           [campaign.id]).fetchone()[0]
    if status == CampaignStatus.COMPLETED and real_runs and not campaign.every_days:
        return f"campaign {campaign.name!r} has already been sent; create a new campaign"
    return None
