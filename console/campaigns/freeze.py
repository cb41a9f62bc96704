"""Freezing the audience: the segment's members written into the ledger in ONE transaction, arm fixed by hash.

Holdout and variant come from a hash of the campaign's salt and the user id (`hash mod 10000 < pct × 100` is
holdout), so the same user lands in the same arm however often the plan is computed, and the split can be
re-derived later. Holdout rows are final at once; everyone else starts `planned` (or `skipped` when they have no
address on the channel). Policy (consent, suppression, caps, quiet hours, budget) is decided later, at claim
time, so that an opt-out committed between launch and dispatch still stops the send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import sqlite_utils

from console import audit
from console.campaigns import integrations, ledger
from console.campaigns.ledger import CampaignStatus
from console.campaigns.model import Campaign, Variant
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.policy.tx import immediate
from console.uplift.features import record_features

HOLDOUT = "holdout"
ADDRESS_COLUMN = {"sms": "phone", "call": "phone", "gift": "phone", "email": "email", "push": "push_token"}


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


def freeze(db: sqlite_utils.Database, campaign: Campaign, *, dry_run: bool, config: Config | None = None
           ) -> tuple[int, int]:
    """Start a new run: write its audience into `sends` and set the campaign running. Returns (run, recipients).

    One transaction: either the whole audience is in the ledger with the campaign running, or nothing changed.
    A ranked campaign (rank_by and budget) freezes the plan's audience above the cut-off, in rank order, so the
    dispatcher's in-order budget booking spends on the best first (needs *config*: policy and cost estimates).
    """
    register_assigner(db, campaign)
    counts_for_caps = int(not dry_run and not campaign.exempt_caps)
    # Sorting a million-member audience must not hold it all in RAM: let the sorter spill to a temp file.
    temp_store = db.execute("PRAGMA temp_store").fetchone()[0]
    db.execute("PRAGMA temp_store = FILE")
    try:
        return _freeze(db, campaign, dry_run=dry_run, counts_for_caps=counts_for_caps, config=config)
    finally:
        db.execute(f"PRAGMA temp_store = {int(temp_store)}")


def _freeze(db: sqlite_utils.Database, campaign: Campaign, *, dry_run: bool, counts_for_caps: int,
            config: Config | None) -> tuple[int, int]:
    with immediate(db):
        refusal = launch_refusal(db, campaign)
        if refusal:
            raise BadInput(refusal)
        real_runs = db.execute("SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 0",
                               [campaign.id]).fetchone()[0]
        now = now_ts()
        run = next_run(db, campaign.id)
        # A real run after dry runs is measured on its own; a recurring campaign applies its re-entry rule.
        ranked = campaign.rank_by is not None and campaign.budget is not None
        if ranked:
            from console.campaigns.plan import rank_audience

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
