"""The plan of a campaign that cannot be launched again (running, paused, cancelled, or already sent).

Planning such a campaign afresh would count its segment minus everyone it already reached: "segment 0" for a
completed send, which is not true of anything. Its truth is in the ledger: the audience frozen at launch and what
became of it. This gives that, in the shape of console.campaigns.plan.plan, with a `state_note` saying so.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from console.campaigns import integrations, ledger, model, tallies
from console.config import Config

# The return rate a lift is measured against when neither winback.toml nor the audience's history gives one
# (the plan uses it too; defined here, not in console.stats, so reading a campaign does not load scipy).
DEFAULT_BASELINE = 0.03

# Recipients handed to the provider (or, in a dry run, rendered and recorded as if they were).
_REACHED = tuple(s.value for s in ledger.HANDED)


def finished_plan(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, refusal: str, *,
                  real: bool) -> dict[str, Any]:
    """The latest run's frozen audience as a funnel: frozen → holdout → skipped by reason → deferred →
    cancelled → failed → reached. `refusal` is audience.launch_refusal's reason the campaign cannot start again."""
    t = tallies.tally(db, campaign.name, config=config)
    dry = bool(t["dry_run"])
    reached = sum(t[s] for s in _REACHED)
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
    funnel: list[dict[str, Any]] = [
        {"step": "frozen at launch", "reason": None, "count": t["recipients"]},
        {"step": "holdout", "reason": "holdout", "count": t["holdout"]},
        *({"step": reason.replace("_", " "), "reason": reason, "count": n}
          for reason, n in sorted(t["skipped_by_reason"].items(), key=lambda kv: -kv[1])),
        {"step": "quiet hours (deferred)", "reason": "quiet_hours", "count": t["deferred"]},
        {"step": "not yet sent", "reason": "waiting", "count": waiting},
        {"step": "cancelled", "reason": "cancelled", "count": t["cancelled"]},
        {"step": "failed", "reason": "failed", "count": t["failed"]},
        {"step": reach_step, "reason": None, "count": reached},
    ]
    variants = [{"variant": arm, "template": next((v.template for v in campaign.variants if v.label == arm), ""),
                 "weight": next((v.weight for v in campaign.variants if v.label == arm), 0),
                 "assigned": bucket["recipients"], "to_send": sum(bucket[s] for s in _REACHED),
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
