"""Tallies: what happened to a campaign's recipients, per campaign and per variant — GROUP BY over the ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NotRequired, TypedDict, cast

import sqlite_utils

from console.campaigns import brakes, ledger, model
from console.campaigns.ledger import SendState as S
from console.campaigns.spent import spent_sql
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.privacy import mask_address, mask_name
from console.simulated import ModeCount, made_up_run, run_modes, simulated_program

STATES = tuple(s.value for s in (S.PLANNED, S.CLAIMED, S.SENT, S.DELIVERED, S.BOUNCED, S.FAILED, S.DEFERRED,
                                  S.UNKNOWN, S.SKIPPED, S.CANCELLED, S.HOLDOUT))
SPENT_STATES = tuple(s.value for s in ledger.HANDED)


class Counts(TypedDict):
    """A run's recipients by ledger state, for the whole campaign or one variant (`tally`)."""

    recipients: int            # everyone frozen at launch, holdout included
    planned: int               # frozen to be sent (everyone but the holdout)
    waiting: int               # frozen, not yet claimed
    claimed: int
    sent: int
    delivered: int
    bounced: int
    failed: int
    deferred: int
    unknown: int
    skipped: int
    cancelled: int
    holdout: int
    skipped_by_reason: dict[str, int]
    deferred_by_reason: NotRequired[dict[str, int]]   # only when some are deferred
    cost: float
    parts: int
    would_wait: int            # a dry run's `sent` that a real run would have deferred (quiet hours)


class BrakeLimits(TypedDict):
    """The thresholds that would pause the campaign ([brakes] in winback.toml, else the defaults)."""

    opt_out_rate: float
    complaint_rate: float
    failure_rate: float


class BrakeView(TypedDict):
    """brake_rates: console.campaigns.brakes.BrakeRates over the last `window` sends, beside the limits."""

    sends: int
    opt_outs: int
    complaints: int
    failures: int
    opt_out_rate: float | None
    complaint_rate: float | None
    failure_rate: float | None
    window: int                # how many of the latest sends the rates are over
    min_sends: int             # no brake before this many sends
    limits: BrakeLimits


class Tally(Counts):
    """`tally`: the counts of the campaign's run, with its settings and per variant (`winback campaign tally --json`)."""

    campaign: str
    status: str
    run: int | None            # None: never launched
    dry_run: bool
    mode: str                  # 'real' | 'dry run' | 'simulated' (model.mode_of; a simulated program's dry-run step too)
    simulated_program: str | None   # the demo's simulated program whose dry-run step this run is (not campaigns.simulated)
    # a step of the demo's simulated program: its runs per mode — the demo's made-up runs ('simulated'), the operator's
    # own run-due ('dry run'), real ones — else None (console.simulated.run_modes)
    modes: list[ModeCount] | None
    budget: float | None
    pause_reason: str | None
    would_wait_between: list[int] | None
    deferred_due: int | None   # when the first deferred recipient of the run is due (quiet hours, throttling)
    # sent + delivered of a dry run or the demo's simulated campaign: what it would send (nothing was sent); 0 for
    # a real run. The states keep their ledger names (`sent`), beside `mode`.
    would_send: int
    brakes: BrakeView          # brake_rates
    msgs_per_s_last_minute: float
    variants: dict[str, Counts]


def _blank() -> dict[str, Any]:
    row: dict[str, Any] = {"recipients": 0, **{s: 0 for s in STATES}, "skipped_by_reason": {}, "cost": 0.0,
                           "parts": 0, "would_wait": 0}
    return row


def tally(db: sqlite_utils.Database, name: str, *, run: int | None = None, config: Config | None = None
          ) -> Tally:
    """Counts by state (and skip reason), cost and recent throughput for the campaign's run (default: latest),
    why it is paused (`pause_reason`) and the brake rates over its last sends (`brakes`: console.campaigns.brakes.rates
    with the thresholds in force — from *config*, else the defaults).

    `planned` is the number of recipients frozen for sending (everyone but the holdout); `waiting` those still
    to be claimed. Every recipient is counted in exactly one state. `would_wait` (a dry run's quiet hours): of the
    `sent`, those a real run would have deferred, due between `would_wait_between` [first, last].
    """
    campaign = model.get(db, name)
    if run is None:
        row = db.execute("SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ?", [campaign.id]).fetchone()
        run = row[0]
    now = now_ts()
    total = _blank()
    arms: dict[str, dict[str, Any]] = {}
    if run is not None:
        for arm, status, reason, n, cost, parts in db.execute(
            # spent: handed over, or taken and failed by a receipt its provider bills (console.campaigns.spent)
            f"SELECT arm, status, reason, COUNT(*), SUM(CASE WHEN {spent_sql()} "
            f"THEN cost END), SUM(CASE WHEN {spent_sql()} "
            "THEN parts END) FROM sends WHERE campaign_id = ? AND run = ? GROUP BY arm, status, reason",
            [campaign.id, run],
        ):
            for bucket in (total, arms.setdefault(arm, _blank())):
                bucket["recipients"] += n
                bucket[status] += n
                bucket["cost"] += cost or 0.0
                bucket["parts"] += parts or 0
                if status == S.SKIPPED:
                    bucket["skipped_by_reason"][reason or "unknown"] = (
                        bucket["skipped_by_reason"].get(reason or "unknown", 0) + n)
                if status == S.SENT and reason == "quiet_hours":
                    # A dry run records them as sent (would send) with the time a real run would wait until.
                    bucket["would_wait"] += n
                if status == S.DEFERRED:
                    bucket.setdefault("deferred_by_reason", {})
                    bucket["deferred_by_reason"][reason or "unknown"] = (
                        bucket["deferred_by_reason"].get(reason or "unknown", 0) + n)
    last_minute = 0
    if run is not None:
        last_minute = db.execute(
            f"SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND run = ? AND status IN {ledger.in_list(ledger.ACCEPTED)} "
            "AND sent_at >= ?", [campaign.id, run, now - 60]).fetchone()[0]
    would_wait_span = None
    if total["would_wait"]:
        would_wait_span = list(db.execute(
            "SELECT MIN(not_before), MAX(not_before) FROM sends WHERE campaign_id = ? AND run = ? AND status = ? "
            "AND reason = 'quiet_hours'", [campaign.id, run, S.SENT]).fetchone())
    deferred_due = None
    if total["deferred"]:
        deferred_due = db.execute("SELECT MIN(not_before) FROM sends WHERE campaign_id = ? AND run = ? AND status = ?",
                                  [campaign.id, run, S.DEFERRED]).fetchone()[0]
    for bucket in (total, *arms.values()):
        bucket["waiting"] = bucket["planned"]          # frozen, not yet claimed
        bucket["planned"] = bucket["recipients"] - bucket["holdout"]   # frozen to be sent
        bucket["cost"] = round(bucket["cost"], 4)
    # the run's own mode: a run of a campaign (or program step) that ran dry, then for real, is tallied as what it
    # was — the demo's simulated weeks of a step now real never read as sent, nor its real run as simulated
    dry = campaign.dry_run
    if run is not None and (row := db.execute("SELECT dry_run FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                                              [campaign.id, run]).fetchone()) is not None:
        dry = bool(row[0])
    program = simulated_program(db, campaign.id) if dry else None
    # the demo's made-up run, or the operator's own dry run of the same step (program run-due after the demo)
    made_up = program is not None and made_up_run(db, campaign.id, run)
    # The buckets are filled by state name (a column of the ledger), hence the cast: their keys are Counts'.
    return cast(Tally, {
        "campaign": campaign.name,
        "status": campaign.status,
        "run": run,
        "dry_run": dry,
        # a run the demo made up of a step of its simulated program is shown as such; the operator's is a dry run
        "mode": "simulated" if made_up else "dry run" if program else campaign.mode if dry == campaign.dry_run
        else model.mode_of(dry, campaign.simulated),
        "simulated_program": program,
        "modes": run_modes(db, [campaign.id]).get(campaign.id),
        "budget": campaign.budget,
        "pause_reason": campaign.pause_reason,
        "would_wait_between": would_wait_span,  # dry run: [first, last] time the would-wait recipients were due
        "deferred_due": deferred_due,
        "would_send": total["sent"] + total["delivered"] if dry else 0,
        "brakes": brake_rates(db, config, campaign.id),
        **total,
        "msgs_per_s_last_minute": round(last_minute / 60, 2),
        "variants": {arm: arms[arm] for arm in sorted(arms)},
    })


def cost_words(dry_run: bool) -> str:
    """How a run's money is named: a dry run spends nothing, so its cost is what it *would* cost."""
    return "would cost" if dry_run else "spent"


# Recipients whose fate this run has decided (sent, failed, skipped…); cancelled ones are counted apart.
DECIDED_STATES = ("sent", "delivered", "failed", "bounced", "unknown", "skipped")


def in_states(counts: Counts, states: Iterable[str]) -> int:
    """How many of `counts` are in any of `states` (ledger state names: the state keys of Counts)."""
    by_state: Mapping[str, Any] = counts
    return sum(by_state.get(s, 0) for s in states)


def progress_counts(t: Mapping[str, Any]) -> tuple[int, int, int]:
    """(decided, planned, cancelled) for a progress bar that does not lie: a cancelled recipient is not progress,
    so a campaign cancelled half-way shows half and says how many were cancelled. In a dry run the deferred are
    decided too: they are recorded with the time they would wait until, not waited for."""
    decided = sum(t.get(s, 0) for s in DECIDED_STATES)
    if t.get("dry_run"):
        decided += t.get("deferred", 0)
    return decided, t.get("planned", 0), t.get("cancelled", 0)


def brake_rates(db: sqlite_utils.Database, config: Config | None, campaign_id: int) -> BrakeView:
    """The brakes' view of the campaign: rates over its last sends beside the thresholds that would pause it."""
    limits = brakes.settings(config)
    r = brakes.rates(db, config, campaign_id)
    return {"sends": r.sends, "opt_outs": r.opt_outs, "complaints": r.complaints, "failures": r.failures,
            "opt_out_rate": r.opt_out_rate, "complaint_rate": r.complaint_rate, "failure_rate": r.failure_rate,
            "window": int(limits["window"]), "min_sends": int(limits["min_sends"]),
            "limits": {"opt_out_rate": limits["opt_out_rate"], "complaint_rate": limits["complaint_rate"],
                       "failure_rate": limits["failure_rate"]}}


# What `/` on a campaign's recipients searches: what the console shows of them (contacts masked), and the user id.
# (Masked by the campaign's channel, as `recipients` masks them.)
RECIPIENTS_SEARCHED = ("u.external_id", "wb_mask_address((SELECT channel FROM campaigns c WHERE c.id = s.campaign_id), "
                       "s.address)", "wb_mask_name(u.name)", "s.arm", "s.status", "s.reason", "s.error")


def _recipients_where(db: sqlite_utils.Database, name: str, state: str | None, run: int | None,
                      search: str | None) -> tuple[str, list[Any], model.Campaign, int | None]:
    """(WHERE, params) of a run's (default: latest) recipients, and the campaign and run it resolved."""
    from console import search as searching

    campaign = model.get(db, name)
    if run is None:
        row = db.execute("SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ?", [campaign.id]).fetchone()
        run = row[0]
    sql = "s.campaign_id = ? AND s.run = ?"
    params: list[Any] = [campaign.id, run]
    if state:
        if state not in STATES:
            raise BadInput(f"state {state!r}: choose one of {', '.join(STATES)}")
        sql += " AND s.status = ?"
        params.append(state)
    matched, more = searching.where(db, RECIPIENTS_SEARCHED, search)
    return f"{sql} AND {matched}", [*params, *more], campaign, run


class Recipient(TypedDict):
    """One send row of a run as `recipients` lists it, contact details masked."""

    id: int
    user_id: int
    external_id: str
    name: str                  # masked
    address: str               # masked
    arm: str
    status: str
    reason: str | None
    error: str | None
    attempts: int
    cost: float | None
    provider_id: str | None
    message_id: str | None
    updated_at: int
    mode: str                  # 'real' | 'dry run' | 'simulated' (the demo's made-up rows): a non-real 'sent' was not


def recipients(db: sqlite_utils.Database, name: str, state: str | None = None, *, run: int | None = None,
               limit: int = 200, search: str | None = None) -> list[Recipient]:
    """Recipients of a run (default: latest) in one state (or all), newest change first, contact details masked;
    only those whose shown text contains `search` (console.search), when given."""
    where, params, campaign, run = _recipients_where(db, name, state, run, search)
    sql = ("SELECT s.id, s.user_id, u.external_id, u.name, s.address, s.arm, s.status, s.reason, s.error, "
           "s.attempts, s.cost, s.provider_id, s.message_id, s.updated_at, s.dry_run FROM sends s "
           f"JOIN users u ON u.id = s.user_id WHERE {where} ORDER BY s.updated_at DESC, s.id DESC LIMIT ?")
    params.append(limit)
    # made up: the demo's simulated campaign, or a dry-run row of its simulated program's steps (as the tally)
    # … of a run the demo started (the operator's own run-due of the same step is their dry run)
    made_up = campaign.simulated or (simulated_program(db, campaign.id) is not None
                                     and made_up_run(db, campaign.id, run))
    out = []
    for r in db.query(sql, params):
        r["address"] = mask_address(campaign.channel, r["address"])
        r["name"] = mask_name(r["name"])
        dry = bool(r.pop("dry_run"))
        r["mode"] = model.mode_of(dry, made_up and dry)   # a real row of a step since run for real is real
        out.append(cast(Recipient, r))
    return out


def recipient_count(db: sqlite_utils.Database, name: str, state: str | None = None, *, run: int | None = None,
                    search: str | None = None) -> int:
    """How many recipients `recipients` would give without a limit."""
    where, params, _campaign, _run = _recipients_where(db, name, state, run, search)
    join = " JOIN users u ON u.id = s.user_id" if search else ""
    return int(db.execute(f"SELECT COUNT(*) FROM sends s{join} WHERE {where}", params).fetchone()[0])


# Handed towards the provider: these rows carry claimed_at (and sent_at once accepted).
RATE_STATES = tuple(s.value for s in (*ledger.HANDED, S.FAILED))


def rate_history(db: sqlite_utils.Database, name: str, *, buckets: int = 30, bucket_seconds: int = 10,
                 now: int | None = None) -> list[int]:
    """Messages handed out per time bucket, oldest first, the last bucket ending with `now` (default: the clock).

    A message counts at `sent_at` (the provider accepted it), else at `claimed_at`. All runs of the campaign count,
    so a rate chart drawn from this is the same whoever opens it and whenever: it comes from the ledger, not from
    watching. One GROUP BY over the campaign's handed-out rows (index sends_campaign_status).
    """
    campaign = model.get(db, name)
    end = now_ts() if now is None else now
    start = end - buckets * bucket_seconds + 1  # the window ends with the current second, included
    out = [0] * buckets
    marks = ",".join("?" * len(RATE_STATES))
    for bucket, n in db.execute(
        f"SELECT (at - ?) / ?, COUNT(*) FROM (SELECT COALESCE(sent_at, claimed_at) AS at FROM sends "
        f"WHERE campaign_id = ? AND status IN ({marks})) WHERE at >= ? AND at <= ? GROUP BY 1",
        [start, bucket_seconds, campaign.id, *RATE_STATES, start, end],
    ):
        out[int(bucket)] = n
    return out
