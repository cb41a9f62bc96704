"""The plan of a campaign that cannot be launched again (running, paused, cancelled, or already sent).

Planning such a campaign afresh would count its segment minus everyone it already reached: "segment 0" for a
completed send, which is not true of anything. Its truth is in the ledger: the audience frozen at launch and what
became of it. This gives that, in the shape of console.campaigns.plan.plan, with a `state_note` saying so.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import sqlite_utils

from console.campaigns import integrations, ledger, model, tallies
from console.config import Config
from console.propensity.targeting import BudgetSummary


class PlanStep(TypedDict):
    """One step of a plan's funnel: how many are left at it, and the send-ledger reason it stands for (None: the
    segment itself, or who is sent)."""

    step: str
    reason: str | None
    count: int


class PlanVariant(TypedDict):
    variant: str
    template: str
    weight: int
    assigned: int
    to_send: int
    est_parts: int
    est_cost: float
    sample_render_errors: int
    # A fresh plan only (plan.plan): who quiet hours defer, sent (and paid for) when they end.
    deferred: NotRequired[int]
    deferred_parts: NotRequired[int]
    deferred_cost: NotRequired[float]


class RankSummary(BudgetSummary):   # Plan.ranking: plan._rank's budget pick, with where it cut
    cutoff_position: int | None        # rank of the last one bought; None when the budget buys everyone
    ranked_out: int                    # below the cut-off, in every arm


class Plan(TypedDict):
    """What console.campaigns.plan.plan and finished_plan return (the CLI's `campaign plan --json`, the Plan pane)."""

    campaign: str
    segment: str
    channel: str
    transport: str
    real: bool
    funnel: list[PlanStep]
    other_exclusions: dict[str, int]
    variants: list[PlanVariant]
    to_send: int
    deferred_quiet_hours: int
    est_parts: int
    est_cost: float
    currency: str
    budget: float | None
    rank_by: str | None
    ranking: RankSummary | None        # what the ranking did (plan._rank); None without rank_by and budget
    targeting_saved: bool
    holdout_pct: float
    treated: int
    holdout: int
    baseline_rate: float
    baseline_source: str
    min_detectable_lift: float | None
    # Only a fresh plan (plan.plan): to_send/est_* are what goes now; who quiet hours defer goes when they end (not
    # dropped, and paid for): deferred_* — the budget's share left after now — and total_* = now + deferred.
    deferred_parts: NotRequired[int]
    deferred_cost: NotRequired[float]
    total_to_send: NotRequired[int]
    total_parts: NotRequired[int]
    total_cost: NotRequired[float]
    # Only the plan of a campaign that cannot be launched again (finished_plan): what its ledger says.
    status: NotRequired[str]
    state_note: NotRequired[str]
    launch_refusal: NotRequired[str]
    run: NotRequired[int | None]
    dry_run: NotRequired[bool]
    # What the CLI's plan and the console's Plan pane add before showing it (console.campaigns.control).
    problems: NotRequired[list[str]]      # what would stop a real launch
    warnings: NotRequired[list[str]]      # the providers' content rules
    reach_warnings: NotRequired[list[str]]   # a real aliyun/tencent plan: numbers outside +86 (plan_provider)
    real_launch_warnings: NotRequired[list[str]]   # a plan without --real: what a real aliyun/tencent launch would say
    warning_count: NotRequired[int]


# The return rate a lift is measured against when neither winback.toml nor the audience's history gives one
# (the plan uses it too; defined here, not in console.stats, so reading a campaign loads no statistics code).
DEFAULT_BASELINE = 0.03

# Recipients handed to the provider (or, in a dry run, rendered and recorded as if they were).
_REACHED = tuple(s.value for s in ledger.HANDED)


def finished_plan(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, refusal: str, *,
                  real: bool) -> Plan:
    """The latest run's frozen audience as a funnel: frozen → holdout → skipped by reason → deferred →
    cancelled → failed → reached. `refusal` is audience.launch_refusal's reason the campaign cannot start again."""
    t = tallies.tally(db, campaign.name, config=config)
    dry = bool(t["dry_run"])
    reached = tallies.in_states(t, _REACHED)
    waiting = t["waiting"]
    status = t["status"]
    run_words = f"run {t['run']}{' (dry run)' if dry else ''}"
    if status in ("running", "paused"):
        note = f"{campaign.name} is {status} ({run_words}): its audience was frozen at launch — so far:"
    elif status == "cancelled":
        note = (f"{campaign.name} was cancelled ({run_words}): {t['cancelled']:,} recipients were not messaged — "
                "the audience frozen at launch:")
    else:
        note = (f"{campaign.name} has finished ({run_words}, {status}) and is not sent again "
                "— the audience frozen at launch:")
    reach_step = "would send" if dry else "sent"
    funnel: list[PlanStep] = [
        {"step": "frozen at launch", "reason": None, "count": t["recipients"]},
        {"step": "holdout", "reason": "holdout", "count": t["holdout"]},
        *(PlanStep(step=reason.replace("_", " "), reason=reason, count=n)
          for reason, n in sorted(t["skipped_by_reason"].items(), key=lambda kv: -kv[1])),
        {"step": "quiet hours (deferred)", "reason": "quiet_hours", "count": t["deferred"]},
        {"step": "not yet sent", "reason": "waiting", "count": waiting},
        {"step": "cancelled", "reason": "cancelled", "count": t["cancelled"]},
        {"step": "failed", "reason": "failed", "count": t["failed"]},
        {"step": reach_step, "reason": None, "count": reached},
    ]
    variants: list[PlanVariant] = [{"variant": arm, "template": next((v.template for v in campaign.variants if v.label == arm), ""),
                 "weight": next((v.weight for v in campaign.variants if v.label == arm), 0),
                 "assigned": bucket["recipients"], "to_send": tallies.in_states(bucket, _REACHED),
                 "est_parts": bucket["parts"], "est_cost": round(bucket["cost"], 2), "sample_render_errors": 0}
                for arm, bucket in t["variants"].items() if arm != "holdout"]
    treated = t["recipients"] - t["holdout"]
    configured = config.raw.get("outcomes", {}).get("baseline_rate")
    baseline = float(configured) if configured is not None else DEFAULT_BASELINE
    return {
        "campaign": campaign.name,
        "segment": campaign.segment,
        "channel": campaign.channel,
        "transport": "dryrun" if not real else str(config.channel(campaign.channel).get("transport", "dryrun")),
        "real": real,
        "status": status,
        "state_note": note,
        "launch_refusal": refusal,
        "run": t["run"],
        "dry_run": dry,
        "funnel": funnel,
        "other_exclusions": {},
        "variants": variants,
        "to_send": reached,
        "deferred_quiet_hours": t["deferred"],
        "est_parts": t["parts"],
        "est_cost": round(t["cost"], 2),
        "currency": config.currency,
        "budget": campaign.budget,
        "rank_by": campaign.rank_by,
        "ranking": None,
        "targeting_saved": False,
        "holdout_pct": campaign.holdout_pct,
        "treated": treated,
        "holdout": t["holdout"],
        "baseline_rate": baseline,
        "baseline_source": ("winback.toml [outcomes] baseline_rate" if configured is not None
                            else "the default (the audience is frozen; see `winback outcomes`)"),
        "min_detectable_lift": integrations.minimum_detectable_lift(treated, t["holdout"], baseline),
    }
