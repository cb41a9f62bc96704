"""The Campaigns and Deliveries screens' and the creation flow's data and actions (console.campaigns,
console.outcomes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import sqlite_utils

from console.config import Config

if TYPE_CHECKING:   # services load lazily, in the worker that calls them
    from console.campaigns.control import Cancelled
    from console.campaigns.finished import Plan
    from console.campaigns.model import CampaignDict, CampaignRow
    from console.campaigns.send_errors import ErrorGroup
    from console.campaigns.summary import SummaryDict
    from console.campaigns.tallies import Recipient, Tally
    from console.outcome_figures import OutcomesDict

    class RecipientsPage(TypedDict):   # campaign_recipients
        state: str
        search: str
        rows: list[Recipient]     # newest change first
        matches: int | None       # recipients matching `search` in the state; None without a search
        total: int                # recipients in the state
        groups: list[ErrorGroup]  # failed/bounced/unknown: the provider's errors with their counts, largest first

    class CampaignListRow(CampaignRow):   # campaign_rows: the list row with its latest tally
        planned: int
        done: int                 # decided, not cancelled (tallies.progress_counts)
        cancelled: int
        skipped: int
        cost: float | None        # None: never launched
        failed: int
        void: list[str]           # a scheduled real send's confirmation: why it no longer holds (confirmation.py)

    class CampaignChoices(TypedDict):   # campaign_choices
        segments: list[str]
        templates: dict[str, list[str]]   # channel → template names
        languages: dict[str, str]         # template name → its language ("zh", "en"), those that record one
        offers: list[str]                 # active offers
        approved: dict[str, str]          # SMS template name → the provider it is approved at (aliyun, tencent)

    class DeliveriesTally(Tally):   # campaign_tally (declared for the checker only: the services load lazily)
        channel: str
        variants_templates: dict[str, str]    # variant → its template
        rate_history: list[int]               # messages per bucket, oldest first (tallies.rate_history)
        rate_bucket_seconds: int


def segment_names(db: sqlite_utils.Database) -> list[str]:
    """Segments an operator can target (the built-in `all` when none are saved)."""
    from console import segments

    names = [s.name for s in segments.list_segments(db)]
    return names or ["all"]


def campaign_choices(db: sqlite_utils.Database) -> CampaignChoices:
    """What the creation flow offers: segments, templates by channel, offers."""
    from console import offers, templates

    by_channel: dict[str, list[str]] = {}
    languages: dict[str, str] = {}
    for t in templates.list_templates(db):
        by_channel.setdefault(t["channel"], []).append(t["name"])
        if t["language"]:
            languages[t["name"]] = t["language"]
    return {
        "segments": segment_names(db),
        "templates": by_channel,
        "languages": languages,
        "offers": [o["name"] for o in offers.list_offers(db) if o["state"] == "active"],  # retired: not for new ones
        "approved": templates.approved_providers(db),   # an aliyun/tencent channel sends only these
    }


@dataclass(frozen=True)
class CampaignForm:
    """The creation flow's answers, as `model.create` takes them (it checks them and names what is wrong)."""

    name: str
    segment: str
    channel: str
    template: str
    variants: list[str]        # further templates, 'NAME' or 'NAME:weight'
    offer: str | None          # None: no offer, or one by layer
    offer_by_layer: bool
    holdout: float             # percent
    budget: float | None       # None: no ceiling
    at: int | None = None      # one-off launch time (console.campaigns.schedule); neither: launch now
    every: str | None = None   # recurring, e.g. '7d'


def create_campaign(db: sqlite_utils.Database, form: CampaignForm) -> CampaignDict:
    """`winback campaign create` with the flow's answers; returns the draft as a dict."""
    from console.campaigns import model

    return model.create(db, form.name, segment=form.segment, channel=form.channel, template=form.template,
                        variants=form.variants, offer=form.offer, offer_by_layer=form.offer_by_layer,
                        holdout=form.holdout, budget=form.budget, at=form.at, every=form.every).as_dict()


def plan_campaign(db: sqlite_utils.Database, config: Config, name: str, real: bool = False) -> Plan:
    """`winback campaign plan`: the funnel with counts and reasons, cost, minimum detectable lift; for a real plan
    also what would stop a real launch (`problems`, as `winback campaign plan --real` reports them)."""
    from console.campaigns.control import launch_problems, launch_warnings
    from console.campaigns.plan import plan

    data = plan(db, config, name, real=real)
    data["problems"] = launch_problems(db, config, name, real=True, connect=False) if real else []
    data["warnings"] = launch_warnings(db, config, name)   # R (issue 13): content rules; the launch asks twice
    return data


# Tallies of campaigns that are not sending change slowly (late receipts only): they are re-read at most this
# often, so a list of many large finished campaigns does not cost a GROUP BY over each ledger every poll.
SETTLED_TALLY_SECONDS = 60.0


def campaign_rows(db: sqlite_utils.Database, cache: dict | None = None) -> list[CampaignListRow]:
    """Every campaign with its tally: name, channel, status, dry_run, planned, done (decided, not cancelled:
    tallies.progress_counts), cancelled, sent, skipped, cost.

    `cache`: a dict the calling screen keeps between polls (its own workspace only); tallies of campaigns that
    are not sending are reused from it for SETTLED_TALLY_SECONDS.
    """
    import time

    from console.campaigns import confirmation, model, tallies

    rows = []
    for c in model.list_campaigns(db):
        void = (confirmation.void_reasons(db, model.get(db, c["name"]))
                if c["status"] == "scheduled" and c["scheduled_real"] else [])
        t = None
        if c.get("launched_at"):
            live = c["status"] in ("running", "paused", "scheduled")
            key = (c["id"], c["status"])
            cached = cache.get(key) if cache is not None else None
            if not live and cached and time.monotonic() - cached[0] < SETTLED_TALLY_SECONDS:
                t = cached[1]
            else:
                t = tallies.tally(db, c["name"])
                if not live and cache is not None:
                    cache[key] = (time.monotonic(), t)
        row: CampaignListRow
        if t:
            done, planned, cancelled = tallies.progress_counts(t)
            row = {**c, "planned": planned, "done": done, "cancelled": cancelled, "sent": t["sent"] + t["delivered"],
                   "skipped": t["skipped"], "cost": t["cost"], "failed": t["failed"], "void": void}
        else:
            row = {**c, "planned": 0, "done": 0, "cancelled": 0, "sent": 0, "skipped": 0, "cost": None, "failed": 0,
                   "void": void}
        rows.append(row)
    return rows


RATE_BUCKETS, RATE_BUCKET_SECONDS = 30, 10  # the deliveries sparkline: 5 minutes in 10-second buckets


def campaign_tally(db: sqlite_utils.Database, name: str) -> DeliveriesTally:
    """`winback campaign tally NAME`, plus the campaign's own settings the deliveries screen shows."""
    from console.campaigns import model, tallies

    campaign = model.get(db, name)
    return {
        **tallies.tally(db, name),
        "channel": campaign.channel,
        "variants_templates": {v.label: v.template for v in campaign.variants},
        # Messages per 10 s over the last 5 min, from the ledger: the chart is full the moment a campaign is opened.
        "rate_history": tallies.rate_history(db, name, buckets=RATE_BUCKETS, bucket_seconds=RATE_BUCKET_SECONDS),
        "rate_bucket_seconds": RATE_BUCKET_SECONDS,
    }


def latest_campaign(db: sqlite_utils.Database) -> str | None:
    """The campaign the deliveries screen opens on: a running one, else the most recently created."""
    from console.campaigns import model

    rows = model.list_campaigns(db)
    for row in rows:
        if row["status"] == "running":
            return row["name"]
    chosen = [r for r in rows if r.get("launched_at")] or rows
    return chosen[0]["name"] if chosen else None


def launch_campaign(db: sqlite_utils.Database, config: Config, name: str, real: bool = False,
                    accept_warnings: bool = False) -> SummaryDict:
    """`winback campaign launch NAME [--real]`, stopping between batches if the console worker is cancelled."""
    from textual.worker import get_current_worker

    from console.campaigns import control
    from screens.launch import worker_notice

    worker = get_current_worker()
    return control.launch(db, config, name, real=real, should_stop=lambda: worker.is_cancelled,
                          accept_warnings=accept_warnings, notice=worker_notice(worker, name)).as_dict()


def pause_campaign(db: sqlite_utils.Database, name: str) -> str:
    from console.campaigns import control

    return control.pause(db, name, reason="operator (console)").status


def resume_campaign(db: sqlite_utils.Database, config: Config, name: str) -> SummaryDict:
    """`winback campaign resume NAME`: dispatches again from the ledger (runs until done or paused)."""
    from textual.worker import get_current_worker

    from console.campaigns import control
    from screens.launch import worker_notice

    worker = get_current_worker()
    return control.resume(db, config, name, should_stop=lambda: worker.is_cancelled,
                          notice=worker_notice(worker, name)).as_dict()


def cancel_campaign(db: sqlite_utils.Database, name: str) -> Cancelled:
    from console.campaigns import control

    return control.cancel(db, name, reason="operator (console)")


def campaign_recipients(db: sqlite_utils.Database, name: str, state: str, limit: int = 200,
                        search: str = "") -> RecipientsPage:
    """`tallies.recipients`: the latest run's recipients in one state, newest change first, masked; with `search`
    only those whose shown text contains it, searched over all of them. `matches`: how many match in all (None
    without a search), `total`: how many are in the state."""
    from console.campaigns import send_errors, tallies

    rows = tallies.recipients(db, name, state, limit=limit, search=search or None)
    # Counted only when the page is full: Deliveries polls every second, and a short page is already every row.
    whole = len(rows) < limit
    total = len(rows) if whole and not search else tallies.recipient_count(db, name, state)
    matches = None if not search else len(rows) if whole else tallies.recipient_count(db, name, state, search=search)
    # failed, bounced, unknown: the provider's errors grouped with their counts (console.campaigns.send_errors) —
    # from the page itself when it holds every row of the state, as the total above
    groups: list[send_errors.ErrorGroup] = []
    if total and state in send_errors.NOT_SENT_STATES:
        groups = (send_errors.group_errors((r["status"], r["error"], 1) for r in rows) if whole and not search
                  else send_errors.error_groups(db, name, states=(state,)))
    return {"state": state, "search": search, "rows": rows, "matches": matches, "total": total, "groups": groups}


def campaign_outcomes(db: sqlite_utils.Database, config: Config, name: str) -> OutcomesDict:
    """`winback outcomes NAME`: reactivation against the holdout (rates, lift, interval, cost per extra user)."""
    from console import outcomes

    return outcomes.campaign_outcomes(db, name, config).to_json()


def why_recipient(db: sqlite_utils.Database, config: Config, user: str, campaign: str) -> str:
    """`winback why USER --campaign C`: the policy decision for one recipient, in words (masked)."""
    from console.policy.explain import explain, explanation_lines

    return "\n".join(explanation_lines(explain(db, config, user, campaign)))
