"""The pre-flight: who would be messaged, who would not and why, what it costs, and what the holdout can detect.

Counts follow the order the dispatcher applies: segment → holdout → invalid address → no consent → suppressed →
capped → quiet hours (deferred, not dropped) → over budget → to send, per variant. Nothing is written except
temporary tables; the same policy engine the dispatcher calls decides the counts.
"""

from __future__ import annotations

import random
from collections import Counter

import sqlite_utils

from console.approved_templates import PROVIDERS
from console.campaigns import integrations, model
from console.campaigns.audience import (
    HOLDOUT,
    MEMBERS,
    RANKED,
    audience_sql,
    launch_refusal,
    register_assigner,
)
from console.campaigns.finished import (
    DEFAULT_BASELINE,
    Plan,
    PlanStep,
    PlanVariant,
    RankSummary,
    finished_plan,
)
from console.campaigns.plan_provider import coupon_problems, outside_mainland_warning
from console.channel_names import MAINLAND
from console.channels import Message, transport_of, validate_address
from console.channels import open_channel as _open_channel
from console.clock import now_ts
from console.config import Config
from console.message_context import profile_select
from console.propensity.targeting import rank_for_budget
from console.uplift.value import offer_cost

SAMPLE_PER_VARIANT = 300


def plan(db: sqlite_utils.Database, config: Config, name: str, *, real: bool = False,
         rank_by: str | None = None, budget: float | None = None) -> Plan:
    """The funnel with counts and reasons, estimated parts and cost per variant, and the minimum detectable lift.

    `rank_by` / `budget` (plan --rank-by --budget) are saved on the campaign first (model.set_targeting), so the
    launch reaches exactly the audience this plan shows.
    """
    campaign = model.get(db, name)
    saved = False
    if rank_by is not None or budget is not None:
        before = (campaign.rank_by, campaign.budget)
        campaign = model.set_targeting(db, name, rank_by=rank_by, budget=budget)
        saved = (campaign.rank_by, campaign.budget) != before
    refusal = launch_refusal(db, campaign)
    if refusal is not None:
        # Running, paused, cancelled or sent: a fresh plan would count "segment 0"; the ledger tells the truth.
        done = finished_plan(db, config, campaign, refusal, real=real)
        if campaign.simulated:
            # The demo's made-up history: "has finished" read as a campaign that went out and may be run again.
            done["state_note"] = (f"{campaign.name} is simulated — the demo's made-up history: nothing was sent and "
                                  "it cannot be launched (create a new campaign) — its made-up audience:")
        return done
    now = now_ts()
    channel = campaign.channel
    t = integrations.POLICY_TABLE
    estimates, ranking = _build_audience(db, config, campaign, now=now, real=real)
    counts: Counter[str] = Counter()
    per_arm: dict[str, Counter[str]] = {}
    for arm, reason, n in db.execute("SELECT arm, COALESCE(reason, 'to_send'), COUNT(*) FROM temp.plan_audience "
                                     "GROUP BY arm, reason"):
        counts[reason] += n
        per_arm.setdefault(arm, Counter())[reason] += n
    segment_total = sum(counts.values())
    # Budget: in ledger order the dispatcher books each message until the next would pass the budget. Who quiet
    # hours defer is claimed (and booked) only when they end, after everyone sent now: they get what is left.
    sendable = {v.label: per_arm.get(v.label, Counter())["to_send"] for v in campaign.variants}
    waiting = {v.label: per_arm.get(v.label, Counter())["quiet_hours"] for v in campaign.variants}
    unit = {label: estimates[label]["cost_per_message"] for label in sendable}
    over_budget = 0
    if campaign.budget is not None:
        kept_now = _within_budget(sendable, unit, campaign.budget)
        left = campaign.budget - sum(kept_now[label] * unit[label] for label in kept_now)
        kept_later = _within_budget(waiting, unit, max(0.0, left))
        over_budget = sum(sendable.values()) - sum(kept_now.values()) + sum(waiting.values()) \
            - sum(kept_later.values())
        sendable, waiting = kept_now, kept_later
    variants: list[PlanVariant] = []
    for v in campaign.variants:
        est = estimates[v.label]
        variants.append({"variant": v.label, "template": v.template, "weight": v.weight,
                         "assigned": sum(per_arm.get(v.label, Counter()).values())
                         - per_arm.get(v.label, Counter())["ranked_out"],
                         "to_send": sendable[v.label], "est_parts": round(sendable[v.label] * est["parts_per_message"]),
                         "est_cost": round(sendable[v.label] * est["cost_per_message"], 2),
                         "deferred": waiting[v.label],
                         "deferred_parts": round(waiting[v.label] * est["parts_per_message"]),
                         "deferred_cost": round(waiting[v.label] * est["cost_per_message"], 2),
                         "sample_render_errors": int(est["render_errors"])})
    treated = segment_total - counts["holdout"] - counts["ranked_out"]
    baseline, baseline_source = _baseline(db, config, campaign, now)
    mde = integrations.minimum_detectable_lift(treated, counts["holdout"], baseline)
    funnel: list[PlanStep] = [
        {"step": "segment", "reason": None, "count": segment_total},
        *([PlanStep(step=f"below the {ranking['rank_by']} cut-off", reason="ranked_out",
                    count=counts["ranked_out"])] if ranking else []),
        {"step": "holdout", "reason": "holdout", "count": counts["holdout"]},
        {"step": "invalid address", "reason": "invalid_address", "count": counts["invalid_address"]},
        *([PlanStep(step="no offer for their layer (render error)", reason="render_error",
                    count=counts["render_error"])] if counts["render_error"] else []),
        {"step": "no consent", "reason": "no_consent", "count": counts["no_consent"]},
        {"step": "suppressed", "reason": "suppressed", "count": counts["suppressed"]},
        {"step": "capped", "reason": "capped", "count": counts["capped"]},
        {"step": "quiet hours (deferred)", "reason": "quiet_hours", "count": sum(waiting.values())},
        {"step": "over budget", "reason": "over_budget", "count": over_budget},
        {"step": "to send", "reason": None, "count": sum(sendable.values())},
    ]
    others = {r: n for r, n in counts.items() if r not in {f["reason"] for f in funnel} | {"to_send"}}
    configured = transport_of(config, channel)
    transport = "dryrun" if not real else configured
    reach = _reach_warnings(db, channel, transport)
    # a dry plan of a campaign whose channel sends through aliyun/tencent: what the real launch would say
    later = [] if real else _real_launch_warnings(db, campaign, configured)
    db.execute("DROP TABLE IF EXISTS temp.plan_audience")
    db.execute(f"DROP TABLE IF EXISTS temp.{t}")
    db.execute(f"DROP TABLE IF EXISTS temp.{MEMBERS}")
    db.execute(f"DROP TABLE IF EXISTS temp.{RANKED}")
    return {
        "campaign": campaign.name,
        "segment": campaign.segment,
        "channel": channel,
        "transport": transport,
        "real": real,
        "reach_warnings": reach,
        "real_launch_warnings": later,
        "funnel": funnel,
        "other_exclusions": others,
        "variants": variants,
        "to_send": sum(sendable.values()),
        # sent later, but sent and paid for: the plan's cost is now + after quiet hours (the dry run records both)
        "deferred_quiet_hours": sum(waiting.values()),
        "est_parts": sum(v["est_parts"] for v in variants),
        "est_cost": round(sum(v["est_cost"] for v in variants), 2),
        "deferred_parts": sum(v["deferred_parts"] for v in variants),
        "deferred_cost": round(sum(v["deferred_cost"] for v in variants), 2),
        "total_to_send": sum(sendable.values()) + sum(waiting.values()),
        "total_parts": sum(v["est_parts"] + v["deferred_parts"] for v in variants),
        "total_cost": round(sum(v["est_cost"] + v["deferred_cost"] for v in variants), 2),
        "currency": config.currency,
        "budget": campaign.budget,
        "rank_by": campaign.rank_by,
        "ranking": ranking,
        "targeting_saved": saved,
        "holdout_pct": campaign.holdout_pct,
        "treated": treated,
        "holdout": counts["holdout"],
        "baseline_rate": baseline,
        "baseline_source": baseline_source,
        "min_detectable_lift": mde,
    }


def _reach_warnings(db: sqlite_utils.Database, channel: str, transport: str) -> list[str]:
    """Who a mainland aliyun/tencent setup does not reach (console.campaigns.plan_provider): recipients to send to
    now or after quiet hours whose number is outside +86."""
    if channel != "sms" or transport not in PROVIDERS:
        return []
    outside = db.execute("SELECT COUNT(*) FROM temp.plan_audience WHERE (reason IS NULL OR reason = 'quiet_hours') "
                         "AND address NOT LIKE ?", [MAINLAND + "%"]).fetchone()[0]
    note = outside_mainland_warning(outside, transport)
    return [note] if note else []


def _real_launch_warnings(db: sqlite_utils.Database, campaign: model.Campaign, transport: str) -> list[str]:
    """For a plan without --real: the refusal a real launch would give for a coupon code no parameter of the
    approved template carries, and the numbers outside +86 a mainland template would not reach (plan_provider)."""
    if transport not in PROVIDERS:
        return []
    out = [f"a real launch would be refused: {problem}" for problem in coupon_problems(db, campaign, transport)]
    out += [f"a real launch would not reach everyone: {note}" for note in _reach_warnings(db, campaign.channel,
                                                                                         transport)]
    return out


def _within_budget(wanted: dict[str, int], unit: dict[str, float], budget: float) -> dict[str, int]:
    """Messages per variant that fit `budget` at each variant's average unit cost: when all do not, as many as fit
    at the average cost over the variants, shared out in proportion (largest remainders)."""
    total_cost = sum(wanted[label] * unit[label] for label in wanted)
    n = sum(wanted.values())
    if not n or total_cost <= budget + 1e-9:
        return dict(wanted)
    fit = int(budget * n / total_cost + 1e-9)
    share = {label: wanted[label] * fit / n for label in wanted}
    kept = {label: int(share[label]) for label in share}
    for label in sorted(share, key=lambda k: share[k] - kept[k], reverse=True)[:fit - sum(kept.values())]:
        kept[label] += 1
    return kept


def _build_audience(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, *, now: int, real: bool
                    ) -> tuple[dict[str, dict[str, float]], RankSummary | None]:
    """Fill temp.plan_audience(user_id, arm, address, reason, rank): every member of the segment with the reason
    they would not be messaged (NULL: they would). Returns the per-variant estimates and, for a ranked campaign,
    what the ranking did.

    Without ranking the holdout is set aside first. With ranking everyone's eligibility is judged alike, whatever
    their arm, so that the cut-off falls the same way in the holdout as in the variants (see _rank).
    """
    register_assigner(db, campaign)
    channel = campaign.channel
    db.conn.create_function("wb_invalid", 1, lambda a: int(validate_address(channel, a) is not None),
                            deterministic=True)
    real_runs = db.execute("SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 0",
                           [campaign.id]).fetchone()[0]
    select, params = audience_sql(db, campaign, run=2 if real_runs else 1, now=now)
    t = integrations.POLICY_TABLE
    ranked = campaign.rank_by is not None and campaign.budget is not None
    db.execute("DROP TABLE IF EXISTS temp.plan_audience")
    db.execute("CREATE TEMP TABLE plan_audience (user_id INTEGER PRIMARY KEY, arm TEXT, address TEXT, reason TEXT, "
               "rank INTEGER)")
    db.execute(f"INSERT INTO temp.plan_audience (user_id, arm, address, rank) {select}", params)
    check_address = channel not in ("call", "gift")
    if not ranked:
        db.execute("UPDATE temp.plan_audience SET reason = 'holdout' WHERE arm = ?", [HOLDOUT])
    if check_address:
        db.execute("UPDATE temp.plan_audience SET reason = 'invalid_address' WHERE reason IS NULL "
                   "AND wb_invalid(address)")
    _no_layer_offer(db, campaign)
    integrations.create_policy_table(db)
    db.execute(f"INSERT INTO {t} (user_id, address, channel) SELECT user_id, address, ? FROM temp.plan_audience "
               "WHERE reason IS NULL", [channel])
    integrations.evaluate_policy(db, config, channel=channel, exempt_caps=campaign.exempt_caps, now=now,
                                 real=real)
    db.execute(f"UPDATE temp.plan_audience SET reason = (SELECT reason FROM {t} WHERE {t}.user_id = "
               f"plan_audience.user_id) WHERE reason IS NULL")
    estimates = _estimate(db, config, campaign, real=real)
    ranking = None
    if ranked:
        ranking = _rank(db, campaign, estimates)
        db.execute("UPDATE temp.plan_audience SET reason = 'holdout' WHERE arm = ? AND reason IS NOT 'ranked_out'",
                   [HOLDOUT])
    return estimates, ranking


def _no_layer_offer(db: sqlite_utils.Database, campaign: model.Campaign) -> None:
    """--offer-by-layer: a user whose layer has no mapped offer cannot be rendered by a template that reads
    `offer` — the launch records them `render_error` (before policy), so the plan counts them there too."""
    if not campaign.offer_by_layer or campaign.offer:
        return
    arms = [v.label for v in campaign.variants if integrations.template_reads_offer(db, v.template)]
    if not arms:
        return
    layer_select, join = profile_select({"layer"})
    marks = ", ".join("?" for _ in arms)
    db.execute(
        f"UPDATE temp.plan_audience SET reason = 'render_error' WHERE reason IS NULL AND arm IN ({marks}) "
        f"AND user_id NOT IN (SELECT l.id FROM (SELECT u.id AS id, {layer_select} FROM users u {join}) l "
        "JOIN offer_layers m ON m.layer = l.p_layer)", arms)


def _rank(db: sqlite_utils.Database, campaign: model.Campaign, estimates: dict[str, dict[str, float]]
          ) -> RankSummary:
    """Budget-aware targeting (console.propensity.targeting), ranked before the holdout split.

    Everyone in the segment is ranked by `campaign.rank_by` in one order, whatever their arm. Walking down that
    order, the budget buys one message per treated, sendable user (average estimated cost per message); the rank
    of the last one it buys is the cut-off, and everyone below it — in every arm, the holdout included, sendable or
    not — is `ranked_out`: not part of this campaign. The holdout is then a random slice (by hash) of the same
    top of the ranking as the variants, so comparing them measures the message, not the ranking.
    """
    rank_by = campaign.rank_by
    assert rank_by is not None  # _build_audience ranks only a campaign with a rank_by and a budget
    eligible = "arm != 'holdout' AND (reason IS NULL OR reason = 'quiet_hours')"
    sizes = dict(db.execute(f"SELECT arm, COUNT(*) FROM temp.plan_audience WHERE {eligible} GROUP BY arm").fetchall())
    weights = {v.label: sizes.get(v.label, 0) or v.weight for v in campaign.variants}
    cost = sum(estimates[label]["cost_per_message"] * w for label, w in weights.items()) / sum(weights.values())
    # uplift with a cash coupon: ranked by extra revenue net of the coupon (issue 15, console.uplift.value)
    coupon = offer_cost(db, campaign.offer, campaign.offer_by_layer) if rank_by == "uplift" else None
    rank_for_budget(db, "SELECT user_id FROM temp.plan_audience", cost, None, rank_by=rank_by,
                    into="plan_ranked", offer_cost=coupon)
    db.execute("UPDATE temp.plan_audience SET rank = r.rank FROM temp.plan_ranked r "
               "WHERE r.user_id = plan_audience.user_id")
    db.execute("DROP TABLE temp.plan_ranked")
    pick = rank_for_budget(db, f"SELECT user_id FROM temp.plan_audience WHERE {eligible}", cost, campaign.budget,
                           rank_by=rank_by, offer_cost=coupon)
    cutoff = None
    if len(pick.chosen) < pick.summary["audience"]:
        cutoff = db.execute("SELECT rank FROM temp.plan_audience WHERE user_id = ?",
                            [pick.chosen[-1]]).fetchone()[0] if pick.chosen else 0
        db.execute("UPDATE temp.plan_audience SET reason = 'ranked_out' WHERE rank > ?", [cutoff])
    ranked_out = db.execute("SELECT COUNT(*) FROM temp.plan_audience WHERE reason = 'ranked_out'").fetchone()[0]
    return {"rank_by": rank_by, "budget": campaign.budget, "cost_per_message": round(cost, 6),
            "cutoff_position": cutoff, "ranked_out": ranked_out, **pick.summary}


def rank_audience(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, *, now: int, real: bool
                  ) -> None:
    """For the launch of a ranked campaign: the plan's audience above the cut-off, written to
    temp.campaign_ranked(user_id PRIMARY KEY, rank) for freeze to load instead of the whole segment."""
    _build_audience(db, config, campaign, now=now, real=real)
    db.execute(f"DROP TABLE IF EXISTS temp.{RANKED}")
    db.execute(f"CREATE TEMP TABLE {RANKED} (user_id INTEGER PRIMARY KEY, rank INTEGER NOT NULL)")
    db.execute(f"INSERT INTO temp.{RANKED} (user_id, rank) SELECT user_id, rank FROM temp.plan_audience "
               "WHERE reason IS NOT 'ranked_out'")
    db.execute("DROP TABLE temp.plan_audience")
    db.execute(f"DROP TABLE IF EXISTS temp.{integrations.POLICY_TABLE}")


def _baseline(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, now: int) -> tuple[float, str]:
    """The return rate the lift is measured against: [outcomes] baseline_rate if set, else the share of this
    audience that came back on its own in the last conversion window, else 3%."""
    configured = config.raw.get("outcomes", {}).get("baseline_rate")
    if configured is not None:
        return float(configured), "winback.toml [outcomes] baseline_rate"
    kinds = campaign.conversion_kinds
    marks = ",".join("?" for _ in kinds)
    members, returned = db.execute(
        f"SELECT COUNT(*), SUM(EXISTS (SELECT 1 FROM events e WHERE e.user_id = a.user_id AND e.at >= ? "
        f"AND e.kind IN ({marks}))) FROM temp.plan_audience a",
        [now - campaign.window_days * 86_400, *kinds]).fetchone()
    if members and returned and 0 < returned < members:
        return returned / members, f"this audience's own return rate over the last {campaign.window_days} days"
    return DEFAULT_BASELINE, "the default: this audience has no return history to go by"


def _estimate(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, *, real: bool
              ) -> dict[str, dict[str, float]]:
    """Parts and cost per message for each variant, from rendering a sample of its members."""
    channel = _open_channel(campaign.channel, config, campaign=campaign.name, dry_run=True)
    offer = integrations.get_offer(db, campaign.offer)
    out = {}
    try:
        for v in campaign.variants:
            # who quiet hours defer gets the same message later: part of the sample, as of the cost
            ids = [r[0] for r in db.execute("SELECT user_id FROM temp.plan_audience WHERE arm = ? "
                                            "AND (reason IS NULL OR reason = 'quiet_hours')", [v.label])]
            sample = random.Random(campaign.salt).sample(ids, min(len(ids), SAMPLE_PER_VARIANT)) if ids else []
            rendered = integrations.render_for_users(db, config, v.template, sample, offer=offer,
                                                     campaign=campaign) if sample else {}
            ok = [r for r in rendered.values() if not r.error]
            parts = sum(r.parts for r in ok) / len(ok) if ok else 1.0

            costs = [r.cost if r.cost is not None else channel.cost(Message(0, r.user_id, None, r.text, "", "",
                                                                               parts=r.parts)) for r in ok]
            out[v.label] = {"parts_per_message": parts,
                            "cost_per_message": sum(costs) / len(costs) if costs else channel.cost(
                                Message(0, 0, None, "", "", "", parts=1)),
                            "render_errors": len(rendered) - len(ok)}
    finally:
        channel.close()
    return out
