"""Who came back, against the holdout: a campaign's outcomes, read from the ledger and the events.

The rules (docs/outcomes.md; DOMAIN.md "Measuring a campaign honestly"):

- A user *comes back* when they have an event of one of the campaign's `conversion_kinds` (orders by default)
  inside the conversion window: `window_days`, fixed when the campaign was created, counted from the same start
  (the launch) for treated and holdout users alike.
- Intention to treat: every user assigned to an arm at launch counts in that arm, whatever happened to their
  message afterwards (skipped, failed, opted out). Dropping them would flatter the treated arm.
- Against the holdout: absolute and relative lift, the pooled z-test, Newcombe's 95% interval, incremental
  conversions and revenue, and the cost (messages, plus redeemed coupons for a single-offer campaign) per
  incremental reactivated user. A variant is called the
  winner only when the window has closed, both arms have the minimum sample, and it beats the holdout at the
  5% level after a Bonferroni correction for the number of variants.

Everything is set-based SQL over the whole arm (one GROUP BY), so figures refresh as new events are imported.
"""

from __future__ import annotations

import json
from typing import TypedDict, cast

import sqlite_utils

from console import stats
from console.clock import now_ts
from console.config import Config
from console.errors import NotFound
from console.outcome_figures import ArmOutcome, Comparison, Outcomes  # the figures' shapes (and their JSON)
from console.simulated import SIMULATED_BY, simulated_program
from console.timefmt import local_time

HOLDOUT = "holdout"
TREATED = "treated"  # all variants together, shown when there is more than one
DAY = 86_400
DEFAULT_MIN_SAMPLE = 200  # users per arm before a winner may be called; [outcomes] min_sample


class CampaignRecord(TypedDict):
    """A row of the campaigns table as stored (`SELECT *`, storage/migrations m005, m013, m018, m019): what outcomes
    and the uplift fit read of a campaign, by name or id, without the campaigns service's checks."""
    id: int
    name: str
    segment: str
    segment_id: int | None
    channel: str
    offer: str | None
    offer_by_layer: int        # 1 | 0, as stored
    holdout_pct: float
    budget: float | None
    rank_by: str | None
    exempt_caps: int
    window_days: int
    conversion_kinds: str      # JSON list (or, from old files, comma-separated): conversion_kinds()
    scheduled_at: int | None
    every_days: int | None
    reentry_days: int | None
    next_run_at: int | None
    status: str
    dry_run: int
    salt: str
    pause_reason: str | None
    created_at: int
    created_by: str
    launched_at: int | None
    completed_at: int | None
    program_id: int | None
    program_step: int | None
    simulated: int
    scheduled_real: int        # 1: a one-off scheduled as a real send (m019)
    hold_reason: str | None


def find_campaign(db: sqlite_utils.Database, name_or_id: str | int) -> CampaignRecord:
    """The campaign row named (or numbered) so, or NotFound."""
    rows = list(
        db.query("SELECT * FROM campaigns WHERE name = ? OR CAST(id AS TEXT) = ? ORDER BY name = ? DESC LIMIT 1",
                 [str(name_or_id), str(name_or_id), str(name_or_id)])
    )
    if not rows:
        raise NotFound(f"no campaign named {name_or_id!r} (see `winback campaign list`)")
    return cast(CampaignRecord, rows[0])   # SELECT *: the columns above


def campaign_records(db: sqlite_utils.Database) -> list[CampaignRecord]:
    """Every campaign row, oldest first."""
    return cast(list[CampaignRecord], list(db.query("SELECT * FROM campaigns ORDER BY id")))


def conversion_kinds(campaign: CampaignRecord) -> list[str]:
    raw = campaign.get("conversion_kinds") or '["order"]'
    try:
        kinds = json.loads(raw)
    except ValueError:
        kinds = [k.strip() for k in str(raw).split(",") if k.strip()]
    if isinstance(kinds, str):
        kinds = [kinds]
    return [str(k) for k in kinds] or ["order"]


def _run_start(db: sqlite_utils.Database, campaign: CampaignRecord, run: int) -> int | None:
    """When the measured run began (its audience was frozen and arms fixed): `campaign_runs.started_at`,
    else the campaign's launch time."""
    row = db.execute(
        "SELECT started_at FROM campaign_runs WHERE campaign_id = ? AND run = ?", [campaign["id"], run]
    ).fetchone()
    if row and row[0] is not None:
        return row[0]
    return campaign.get("launched_at")


def arm_figures(
    db: sqlite_utils.Database, campaign_id: int, run: int, start: int, end: int, kinds: list[str]
) -> list[ArmOutcome]:
    """Per-arm users, converters, revenue, redemptions and cost: one set-based query over the ledger."""
    marks = ",".join(f":k{i}" for i in range(len(kinds)))
    # One pass over the arm's ledger rows with one range probe per user of the covering (user_id, at, ...) index
    # of events. (Joining whole CTEs instead made SQLite materialise and auto-index them.)
    sql = f"""
        SELECT arm, COUNT(*) AS users, SUM(reached) AS reached, COUNT(revenue) AS converters,
               COALESCE(SUM(revenue), 0) AS revenue, SUM(cost) AS cost
        FROM (
            SELECT s.arm AS arm, s.status IN ('sent', 'delivered') AS reached,
                   -- the cost of what was handed to the provider, or taken by it and failed by a delivery
                   -- receipt later unless that provider does not bill it (Aliyun +86, Twilio `failed`):
                   -- console.campaigns.spent.spent_sql written out, as the tally counts it. A refusal in the
                   -- provider's answer (failed, no provider id nor send time) was not billed; a row given back to
                   -- planned, deferred or cancelled before it left keeps its claimed cost, but nothing was spent
                   CASE WHEN s.status IN ('claimed', 'sent', 'delivered', 'bounced', 'unknown')
                          OR (s.status = 'failed' AND (s.sent_at IS NOT NULL OR s.provider_id IS NOT NULL)
                              AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.send_id = s.id AND r.kind = 'failed'
                                  AND ((r.source = 'aliyun' AND s.address LIKE '+86%')
                                       OR (r.source = 'twilio' AND r.provider_status = 'failed'))))
                        THEN COALESCE(s.cost, 0) ELSE 0 END AS cost,
                   (SELECT TOTAL(e.amount) FROM events e
                     WHERE e.user_id = s.user_id AND e.at >= :start AND e.at < :end AND e.kind IN ({marks})
                     HAVING COUNT(*) > 0) AS revenue
            FROM sends s WHERE s.campaign_id = :campaign AND s.run = :run
        )
        GROUP BY arm
        ORDER BY arm = 'holdout', arm
    """
    params = {"campaign": campaign_id, "run": run, "start": start, "end": end,
              **{f"k{i}": k for i, k in enumerate(kinds)}}
    # Redemptions start from the few events that carry a coupon code (partial index events_coupon, m006).
    redeemed = dict(db.execute(
        """SELECT s.arm, COUNT(DISTINCT s.user_id) FROM events e
           JOIN sends s ON s.user_id = e.user_id AND s.coupon_code = e.coupon_code
           WHERE e.coupon_code IS NOT NULL AND e.at >= :start AND e.at < :end
             AND s.campaign_id = :campaign AND s.run = :run
           GROUP BY s.arm""",
        {"campaign": campaign_id, "run": run, "start": start, "end": end},
    ).fetchall())
    arms = []
    for row in db.query(sql, params):
        users = row["users"]
        arms.append(
            ArmOutcome(
                arm=row["arm"],
                users=users,
                reached=row["reached"] or 0,
                converters=row["converters"],
                rate=stats.rate(row["converters"], users),
                revenue=round(float(row["revenue"]), 2),
                revenue_per_user=round(float(row["revenue"]) / users, 4) if users else None,
                redemptions=redeemed.get(row["arm"], 0),
                cost=round(float(row["cost"] or 0), 4),
            )
        )
    return arms


def _pooled(arms: list[ArmOutcome]) -> ArmOutcome:
    users = sum(a.users for a in arms)
    converters = sum(a.converters for a in arms)
    revenue = sum(a.revenue for a in arms)
    return ArmOutcome(
        arm=TREATED,
        users=users,
        reached=sum(a.reached for a in arms),
        converters=converters,
        rate=stats.rate(converters, users),
        revenue=round(revenue, 2),
        revenue_per_user=round(revenue / users, 4) if users else None,
        redemptions=sum(a.redemptions for a in arms),
        cost=round(sum(a.cost for a in arms), 4),
        coupon_cost=round(sum(a.coupon_cost for a in arms), 2),
    )


def compare(treated: ArmOutcome, holdout: ArmOutcome, *, alpha: float = stats.DEFAULT_ALPHA) -> Comparison:
    """Treated arm against the holdout: lift, test, interval, increments and cost per incremental user."""
    test = stats.two_proportion_z_test(treated.converters, treated.users, holdout.converters, holdout.users)
    ci = stats.newcombe_interval(treated.converters, treated.users, holdout.converters, holdout.users)
    p_t, p_c = treated.rate, holdout.rate
    lift = p_t - p_c if p_t is not None and p_c is not None else None
    relative = lift / p_c if lift is not None and p_c else None
    incremental = lift * treated.users if lift is not None else None
    incremental_revenue = (
        (treated.revenue_per_user - holdout.revenue_per_user) * treated.users
        if treated.revenue_per_user is not None and holdout.revenue_per_user is not None
        else None
    )
    spent = treated.cost + treated.coupon_cost
    per_incremental = spent / incremental if incremental and incremental > 0 else None
    mde = (
        stats.minimum_detectable_lift(treated.users, holdout.users, p_c)
        if p_c is not None
        else None
    )
    return Comparison(
        arm=treated.arm,
        absolute_lift=lift,
        relative_lift=relative,
        z=test.z,
        p_value=test.p_value,
        ci_low=ci.low if ci else None,
        ci_high=ci.high if ci else None,
        significant=test.p_value is not None and test.p_value < alpha,
        incremental_conversions=round(incremental, 2) if incremental is not None else None,
        incremental_revenue=round(incremental_revenue, 2) if incremental_revenue is not None else None,
        cost_per_incremental=round(per_incremental, 4) if per_incremental is not None else None,
        minimum_detectable_lift=mde,
    )


def campaign_outcomes(
    db: sqlite_utils.Database,
    campaign: str | int,
    config: Config | None = None,
    *,
    run: int | None = None,
    as_of: int | None = None,
) -> Outcomes:
    """The outcomes of one campaign run (default: its latest run) as of now (or *as_of*)."""
    config = config or Config()
    settings = dict(config.raw.get("outcomes", {})) if config.raw else {}
    min_sample = int(settings.get("min_sample", DEFAULT_MIN_SAMPLE))
    alpha = float(settings.get("alpha", stats.DEFAULT_ALPHA))
    row = find_campaign(db, campaign)
    if run is None:
        # The latest real run: a dry run after it measures nothing new.
        latest = db.execute(
            "SELECT COALESCE((SELECT MAX(run) FROM campaign_runs WHERE campaign_id = :c AND dry_run = 0),"
            " (SELECT MAX(run) FROM sends WHERE campaign_id = :c))",
            {"c": row["id"]},
        ).fetchone()[0]
        run = latest or 1
    else:
        # An explicit --run must exist: run 99 of a campaign with one run used to report "no holdout", exit 0.
        known = [r[0] for r in db.execute(
            "SELECT run FROM campaign_runs WHERE campaign_id = :c UNION SELECT DISTINCT run FROM sends "
            "WHERE campaign_id = :c ORDER BY 1", {"c": row["id"]})]
        if run not in known:
            runs = f"its runs: {', '.join(map(str, known))}" if known else "it has not run yet"
            raise NotFound(f"campaign {row['name']!r} has no run {run} ({runs})")
    run_row = db.execute(
        "SELECT dry_run, started_by FROM campaign_runs WHERE campaign_id = ? AND run = ?", [row["id"], run]
    ).fetchone()
    dry_run = bool(run_row[0]) if run_row else bool(row.get("dry_run"))
    # a dry run of a step of the demo's simulated program: its made-up weeks (console/simulated.py) — a run the demo
    # started; one of the operator's own run-due after them is their dry run
    made_up = run_row is not None and run_row[1] == SIMULATED_BY
    program = simulated_program(db, row["id"]) if dry_run and made_up else None
    as_of = now_ts() if as_of is None else as_of
    kinds = conversion_kinds(row)
    window_days = int(row.get("window_days") or 14)
    start = _run_start(db, row, run)
    result = Outcomes(
        campaign=row["name"],
        campaign_id=row["id"],
        status=row["status"],
        dry_run=dry_run,
        mode="simulated" if row.get("simulated") or program else "dry run" if dry_run else "real",
        run=run,
        start_at=start,
        window_days=window_days,
        window_ends_at=start + window_days * DAY if start is not None else None,
        window_open=start is None or as_of < start + window_days * DAY,
        conversion_kinds=kinds,
        as_of=as_of,
        currency=config.currency,
        min_sample=min_sample,
        alpha=alpha,
    )
    if start is None:
        result.verdict = "not launched yet: nothing to measure"
        return result
    # Only what had happened by as_of counts, so a report dated in the past is reproducible.
    end = min(start + window_days * DAY, as_of + 1)
    result.arms = arm_figures(db, row["id"], run, start, end, kinds)
    amount = _coupon_amount(db, row)
    if amount:
        for arm in result.arms:
            arm.coupon_cost = round(arm.redemptions * amount, 2)
    elif row.get("offer_by_layer"):
        result.notes.append("offer by layer: coupon cost is not included in the cost per extra user")
    variants = [a for a in result.arms if a.arm != HOLDOUT]
    holdout = result.arm(HOLDOUT)
    pooled = _pooled(variants) if len(variants) > 1 else None
    if pooled is not None:
        result.arms.insert(len(variants), pooled)
    if program:
        result.notes.append(f"simulated (demo): a step of the demo's simulated program {program}: nothing was sent; "
                            f"its weeks and some orders are made up — `winback program show {program}` measures it")
    elif result.mode == "simulated":
        result.notes.append("simulated (demo): nothing was sent; the arms and who returned are made up to show the "
                            "uplift fit something to learn, not a result")
    elif result.dry_run:
        result.notes.append("dry run: nothing was sent, so any difference between arms is noise")
    if holdout is None or holdout.users == 0:
        result.verdict = "no holdout: the lift cannot be measured"
        return result
    # Bonferroni: each of m variants is tested at alpha/m so the chance of any false winner stays at alpha.
    per_test_alpha = alpha / max(1, len(variants))
    for arm in variants:
        result.comparisons.append(compare(arm, holdout, alpha=per_test_alpha))
    if pooled is not None:
        result.comparisons.append(compare(pooled, holdout, alpha=alpha))
    result.winner, result.verdict = _verdict(result, variants, holdout, min_sample, config.timezone)
    return result


def _coupon_amount(db: sqlite_utils.Database, campaign: CampaignRecord) -> float | None:
    """The face value of the campaign's coupon, when it has one offer of kind coupon."""
    name = campaign.get("offer")
    if not name or not db["offers"].exists():
        return None
    row = db.execute("SELECT kind, amount FROM offers WHERE name = ?", [name]).fetchone()
    return float(row[1]) if row and row[0] == "coupon" and row[1] else None


def _verdict(result: Outcomes, variants: list[ArmOutcome], holdout: ArmOutcome, min_sample: int,
             tz_name: str = "UTC"):
    if result.window_open:
        # A sentence for a person: the workspace's zone (window_ends_iso in --json keeps the ISO time).
        return None, (
            f"window open until {local_time(result.window_ends_at, tz_name)}: figures are provisional, no winner yet"
        )
    if result.dry_run:
        return None, f"{result.mode}: no winner"
    small = [a.arm for a in [*variants, holdout] if a.users < min_sample]
    if small:
        return None, f"too few users to call a winner (fewer than {min_sample:,} in {', '.join(small)})"
    winners = [
        c for c in result.comparisons
        if c.arm != TREATED and c.significant and (c.absolute_lift or 0) > 0
    ]
    if not winners:
        return None, "no variant beats the holdout significantly"
    best = max(winners, key=lambda c: c.absolute_lift or 0)
    return best.arm, f"{best.arm} beats the holdout (p = {best.p_value:.4f})"
