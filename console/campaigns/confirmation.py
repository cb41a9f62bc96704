"""A one-off launch scheduled as a REAL send (issue 16): confirmed when it is scheduled, checked again when due.

The confirmation is given at scheduling time, as `winback campaign launch --real` gives it at launch: the
pre-launch check (console.campaigns.prelaunch) passes, the operator sees the real plan and types its message count
(scripts: `--yes`). The count is the whole run's (`run_total`): what goes at once AND who quiet hours defer, whom
the same run sends when they end (resume, run-due) and pays for. What was confirmed is kept in
`launch_confirmations` (that total, its estimated cost and how much of it waited for quiet hours, transport, the
content warnings accepted, and the `basis`: the templates' versions, the segment's rule, offer, budget, ranking,
holdout) and audited; the campaign is `scheduled` with `scheduled_real = 1`.

When the time comes, `winback campaign run-due` asks `hold_reason_now` before it launches for real. It HOLDS the
launch — sends nothing, records why in `campaigns.hold_reason` (audited `campaign.hold`) and leaves the campaign
`scheduled` for the operator — when:

- the confirmation is void: a template was saved again, the segment's rule, the offer, budget, ranking or holdout
  changed since (what was confirmed is not what would go out);
- the pre-launch check fails now (a secret missing from cron's environment, the server refuses, a template is no
  longer approved, the campaign cannot start);
- a content warning appeared that was not accepted with the confirmation;
- the audience grew: the run's total (now + after quiet hours) is more than GROWTH_MARGIN (10%) above the confirmed
  count, or its estimated cost more than 10% above the confirmed one (a changed price). Fewer is fine. Totals, not
  what goes at once: which recipients wait for quiet hours depends on the hour, and the confirmation was given at
  another one. A confirmation stored before totals were asked (`counts = 'now'`, storage m020) is read as the count
  the operator typed: the run's total is compared with it, and a hold says it counted only what went at once;
- it is more than LATE_SECONDS (1 hour) past its time: cron, the machine or winback.toml was broken then, and a
  marketing send hours after the hour the operator chose is not what was confirmed.

run-due does not retry a held launch (a real send at an hour nobody chose is worse than none): `winback campaign
schedule NAME --at WHEN --real` confirms it again, `unschedule` or `cancel` drop it.
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable
from typing import Any, TypedDict

import sqlite_utils

from console import audit
from console.campaigns import ledger, model
from console.campaigns.finished import Plan
from console.campaigns.ledger import CampaignStatus
from console.campaigns.prelaunch import ContentWarnings, prelaunch_check
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput, WinbackError
from console.timefmt import local_time
from storage.tx import immediate

GROWTH_MARGIN = 0.10   # more messages (or estimated cost) than confirmed by more than this: held, not sent
LATE_SECONDS = 3600    # run-due this much after the confirmed time (cron or the machine was down): held, not sent


class Confirmation(TypedDict):
    """The confirmation in force of a scheduled real send (the newest `launch_confirmations` row)."""

    due_at: int
    to_send: int               # counts 'total': the whole run's messages; 'now' (stored before m020): at once only
    est_cost: float
    counts: str                # 'total' | 'now'
    deferred: int | None       # of to_send, waiting for quiet hours when confirmed (None: stored before m020)
    deferred_cost: float | None
    currency: str | None
    transport: str | None
    warnings: list[str]
    basis: dict[str, Any]
    how: str                   # 'typed' | 'yes' | 'console'
    confirmed_at: int
    confirmed_by: str
    host: str


class RunTotal(TypedDict):
    """What a real run sends in all: at once, and when quiet hours end (the same run: resume, run-due)."""

    total: int
    now: int
    deferred: int
    cost: float
    deferred_cost: float


def run_total(plan: Plan) -> RunTotal:
    """The whole run of a fresh real plan (plan.plan's total_* and deferred_*): the count the operator types."""
    deferred = plan.get("deferred_quiet_hours", 0)   # absent from a partial plan (a test's)
    return {"total": plan.get("total_to_send", plan["to_send"] + deferred), "now": plan["to_send"],
            "deferred": deferred, "cost": plan.get("total_cost", plan["est_cost"]),
            "deferred_cost": plan.get("deferred_cost", 0.0)}


def total_words(plan: Plan, money: Callable[[float], str], *, scheduled: bool = False) -> str:
    """The count to type and its cost, said as the whole run's — one wording for the CLI and the console:
    '10 messages: 4 now, 6 after quiet hours end, ≈ ¥0.40 in all'. For a send scheduled for later the split is
    the plan's at confirmation time, and says so: at the hour it goes, others may be the ones who wait."""
    run = run_total(plan)
    if not run["deferred"]:
        return f"{run['total']:,} messages, ≈ {money(run['cost'])} in all"
    at_once = "at once" if scheduled else "now"
    return (f"{run['total']:,} messages: {run['now']:,} {at_once}, {run['deferred']:,} after quiet hours end"
            + (" (as of now)" if scheduled else "") + f", ≈ {money(run['cost'])} in all")


def count_mismatch(typed: str, plan: Plan, *, scheduled: bool = False) -> str:
    """Why the typed confirmation is refused, naming the total and its parts."""
    run = run_total(plan)
    at_once = "at once" if scheduled else "now"
    parts = (f" (the whole run: {run['now']:,} {at_once}, {run['deferred']:,} after quiet hours end)"
             if run["deferred"] else "")
    return f"confirmation {typed!r} does not match {run['total']}{parts}"


def basis(db: sqlite_utils.Database, campaign: model.Campaign) -> dict[str, Any]:
    """What a confirmation is given for: changing any of it voids the confirmation."""
    names = [v.template for v in campaign.variants]
    versions = {name: version for name, version in db.execute(
        f"SELECT name, version FROM templates WHERE name IN ({', '.join('?' * len(names))})", names)}
    rule = db.execute("SELECT rule_text FROM segments WHERE name = ?", [campaign.segment]).fetchone()
    offer = (db.execute("SELECT updated_at FROM offers WHERE name = ?", [campaign.offer]).fetchone()
             if campaign.offer else None)
    layers = (db.execute("SELECT MAX(updated_at) FROM offer_layers").fetchone()[0]
              if campaign.offer_by_layer else None)
    return {
        "segment": campaign.segment, "segment_rule": rule[0] if rule else None,
        "templates": {name: versions.get(name) for name in names},
        "variants": {v.label: [v.template, v.weight] for v in campaign.variants},
        "offer": campaign.offer, "offer_updated_at": offer[0] if offer else None,
        "offer_by_layer": campaign.offer_by_layer, "layer_offers_updated_at": layers,
        "budget": campaign.budget, "rank_by": campaign.rank_by, "holdout_pct": campaign.holdout_pct,
    }


def changes(confirmed: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed since the confirmation, in the operator's words ([] when nothing did)."""
    said: list[str] = []
    for name, version in confirmed.get("templates", {}).items():
        current = now["templates"].get(name)
        if current != version:
            said.append(f"template {name!r} was saved again (version {version} → {current})" if current
                        else f"template {name!r} is gone")
    if confirmed.get("variants") != now["variants"] and not said:
        said.append("the variants changed")
    if confirmed.get("segment_rule") != now["segment_rule"]:
        said.append(f"segment {now['segment']!r} now reads {now['segment_rule']!r} "
                    f"(was {confirmed.get('segment_rule')!r})")
    if (confirmed.get("offer"), confirmed.get("offer_updated_at")) != (now["offer"], now["offer_updated_at"]):
        said.append(f"offer {now['offer'] or confirmed.get('offer')!r} changed")
    if confirmed.get("layer_offers_updated_at") != now["layer_offers_updated_at"]:
        said.append("the offers by layer changed")
    for key, words in (("budget", "budget"), ("rank_by", "ranking"), ("holdout_pct", "holdout %")):
        if confirmed.get(key) != now[key]:
            said.append(f"{words} {confirmed.get(key)} → {now[key]}")
    return said


def current(db: sqlite_utils.Database, campaign_id: int) -> Confirmation | None:
    """The confirmation in force (the newest), or None."""
    rows = list(db.query("SELECT due_at, to_send, est_cost, counts, deferred, deferred_cost, currency, transport, "
                         "warnings, basis, how, confirmed_at, confirmed_by, host FROM launch_confirmations WHERE campaign_id = ? ORDER BY id DESC "
                         "LIMIT 1", [campaign_id]))
    if not rows:
        return None
    row = rows[0]
    row["warnings"], row["basis"] = json.loads(row["warnings"]), json.loads(row["basis"])
    return Confirmation(**row)  # type: ignore[typeddict-item]


def confirm_real(db: sqlite_utils.Database, name: str, *, at: int, plan: Plan, how: str,
                 accept_warnings: bool = False) -> model.Campaign:
    """Schedule NAME's one-off launch at `at` as a real send, confirmed with `plan` (prelaunch_check's answer, which
    the operator saw and confirmed by its count, or by --yes). What is stored and audited is the whole run
    (`run_total`): its count, cost, and how much of it waits for quiet hours. Audited `campaign.schedule_real`."""
    if not plan["real"] or plan.get("problems") is None:
        raise BadInput("a real schedule is confirmed on the pre-launch check's real plan")   # a caller's bug
    if plan["problems"]:
        raise BadInput("; ".join(plan["problems"]))
    warnings = plan.get("warnings") or []
    if warnings and not accept_warnings:
        raise ContentWarnings(f"{len(warnings)} content warning(s): nothing was scheduled; fix the template or "
                              "confirm with --accept-warnings")
    campaign = model.get(db, name)
    if campaign.name != plan["campaign"]:
        raise BadInput(f"the plan is {plan['campaign']!r}'s, not {campaign.name!r}'s")
    now = now_ts()
    with immediate(db):
        _make_scheduled(db, campaign, at, real=True)
        what = basis(db, model.get(db, campaign.name))
        run = run_total(plan)
        db.execute("INSERT INTO launch_confirmations (campaign_id, due_at, to_send, est_cost, counts, deferred, "
                   "deferred_cost, currency, transport, warnings, basis, how, confirmed_at, confirmed_by, host) "
                   "VALUES (?, ?, ?, ?, 'total', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [campaign.id, at, run["total"], run["cost"], run["deferred"], run["deferred_cost"],
                    plan["currency"], plan["transport"], json.dumps(warnings, ensure_ascii=False),
                    json.dumps(what, ensure_ascii=False), how, now, audit.current_operator(), socket.gethostname()])
        audit.record(db, "campaign.schedule_real", campaign=campaign.name, at=at, to_send=run["total"],
                     est_cost=run["cost"], counts="total", deferred=run["deferred"],
                     deferred_cost=run["deferred_cost"], currency=plan["currency"], transport=plan["transport"],
                     how=how, warnings_accepted=warnings, margin=f"{GROWTH_MARGIN:.0%}")
    return model.get(db, campaign.name)


def schedule_dry(db: sqlite_utils.Database, name: str, *, at: int) -> model.Campaign:
    """Schedule (or move) NAME's one-off launch at `at` as a dry run: a real confirmation in force is dropped."""
    campaign = model.get(db, name)
    with immediate(db):
        _make_scheduled(db, campaign, at, real=False)
        audit.record(db, "campaign.schedule", campaign=campaign.name, at=at, real=False)
    return model.get(db, campaign.name)


def _make_scheduled(db: sqlite_utils.Database, campaign: model.Campaign, at: int, *, real: bool) -> None:
    """Inside the caller's transaction: NAME becomes (or stays) `scheduled` at `at`, real or not, not held."""
    status = ledger.campaign_status(db, campaign.id)
    if campaign.every_days:
        raise BadInput(f"campaign {campaign.name!r} recurs every {campaign.every_days} days: run-due starts its "
                       "runs; a one-off time is for a campaign that runs once")
    if campaign.simulated or status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED,
                                            CampaignStatus.COMPLETED):
        raise BadInput(f"campaign {campaign.name!r} is {status}: only a draft, a scheduled campaign or a finished "
                       "dry run can be scheduled")
    if status == CampaignStatus.COMPLETED:
        real_runs = db.execute("SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 0",
                               [campaign.id]).fetchone()[0]
        if real_runs:
            raise BadInput(f"campaign {campaign.name!r} has already been sent; create a new campaign")
    if status != CampaignStatus.SCHEDULED:
        ledger.move_campaign(db, campaign.id, CampaignStatus.SCHEDULED, next_run_at=at)
    db.execute("UPDATE campaigns SET next_run_at = ?, scheduled_at = ?, scheduled_real = ?, hold_reason = NULL "
               "WHERE id = ?", [at, at, int(real), campaign.id])


def unschedule(db: sqlite_utils.Database, name: str) -> model.Campaign:
    """A scheduled one-off goes back to what it was (draft, or completed after a dry run); nothing is launched.
    Its real confirmation, if any, ends with it. Audited."""
    campaign = model.get(db, name)
    with immediate(db):
        status = ledger.campaign_status(db, campaign.id)
        if status != CampaignStatus.SCHEDULED or campaign.every_days:
            raise BadInput(f"campaign {campaign.name!r} is {status}"
                           + (f", recurring every {campaign.every_days} days" if campaign.every_days else "")
                           + ": only a scheduled one-off can be unscheduled (`cancel` stops any campaign)")
        runs = db.execute("SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ?", [campaign.id]).fetchone()[0]
        ledger.move_campaign(db, campaign.id, CampaignStatus.COMPLETED if runs else CampaignStatus.DRAFT,
                             next_run_at=None)
        db.execute("UPDATE campaigns SET scheduled_at = NULL WHERE id = ?", [campaign.id])
        audit.record(db, "campaign.unschedule", campaign=campaign.name, was_real=campaign.scheduled_real,
                     was_held=campaign.hold_reason)
    return model.get(db, campaign.name)


def void_reasons(db: sqlite_utils.Database, campaign: model.Campaign) -> list[str]:
    """Why the confirmation of a scheduled real send no longer holds ([] when it does, or there is none)."""
    confirmation = current(db, campaign.id) if campaign.scheduled_real else None
    return changes(confirmation["basis"], basis(db, campaign)) if confirmation else []


def hold_reason_now(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, *,
                    now: int) -> str | None:
    """run-due, when a scheduled real send is due: why it must NOT be sent now (the module's rules), or None."""
    confirmation = current(db, campaign.id)
    if confirmation is None:
        return "no confirmation of a real send is on record"
    due = campaign.next_run_at or confirmation["due_at"]
    if now > due + LATE_SECONDS:
        return (f"it was due at {local_time(due, config.timezone)} and it is now {local_time(now, config.timezone)}: "
                f"more than {LATE_SECONDS // 3600} hour late")
    void = changes(confirmation["basis"], basis(db, campaign))
    if void:
        return "the confirmation is void — " + "; ".join(void) + " since it was confirmed"
    try:
        data = prelaunch_check(db, config, campaign.name, connect=True)
    # the plan itself cannot be made (a bad price in winback.toml: a ConfigError, one of the WinbackErrors …): not
    # sent either, held with the words
    except WinbackError as exc:
        return f"the pre-launch check failed: {exc}"
    if data.get("problems"):
        return "the pre-launch check failed: " + "; ".join(data.get("problems") or [])
    new = [w for w in data.get("warnings") or [] if w not in confirmation["warnings"]]
    if new:
        return "content warnings not accepted with the confirmation: " + "; ".join(new)
    return _grown(confirmation, data)


def _grown(confirmation: Confirmation, data: Plan) -> str | None:
    """Why the run due now is more than was confirmed, or None. The run's total against the confirmed count — an old
    row's too (counts 'now'): the operator typed that many, so a run sending more than it (+ margin) waits for a new
    confirmation; the words then say the count was of what went at once."""
    run = run_total(data)
    parts = f" ({run['now']:,} at once, {run['deferred']:,} after quiet hours end)" if run["deferred"] else ""
    old = " before messages deferred by quiet hours were counted" if confirmation["counts"] == "now" else ""
    allowed = math.floor(confirmation["to_send"] * (1 + GROWTH_MARGIN) + 1e-9)
    if run["total"] > allowed:
        return (f"the audience grew: {run['total']:,} messages to send{parts}, {confirmation['to_send']:,} confirmed"
                f"{old} (the {GROWTH_MARGIN:.0%} margin allows {allowed:,})")
    if run["cost"] > confirmation["est_cost"] * (1 + GROWTH_MARGIN) + 0.005:
        return (f"the estimated cost grew: {run['cost']:,.2f} {data['currency']}{parts}, "
                f"{confirmation['est_cost']:,.2f} confirmed{old} (more than {GROWTH_MARGIN:.0%} above)")
    return None


def hold(db: sqlite_utils.Database, campaign: model.Campaign, reason: str, *, due_by: int) -> bool:
    """Record why the due real send was not launched. False (nothing written) when it is no longer a due,
    unheld scheduled real send: another process launched, held or rescheduled it meanwhile."""
    with immediate(db):
        row = db.execute("SELECT status, scheduled_real, hold_reason, next_run_at FROM campaigns WHERE id = ?",
                         [campaign.id]).fetchone()
        if (row[0] != CampaignStatus.SCHEDULED or not row[1] or row[2] is not None or row[3] is None
                or row[3] > due_by):
            return False
        db.execute("UPDATE campaigns SET hold_reason = ? WHERE id = ?", [reason, campaign.id])
        audit.record(db, "campaign.hold", campaign=campaign.name, reason=reason, due_at=row[3])
    return True


class ScheduleState(TypedDict):
    """How a scheduled campaign will be launched, as `campaign show|list` and the console say it."""

    mode: str                  # 'real' | 'dry run'
    at: int | None
    text: str                  # 'scheduled real at 2026-12-08 09:00 UTC+8', 'HELD — …', …
    held: str | None           # why run-due held it
    void: list[str]            # why its confirmation no longer holds (run-due will hold it)
    confirmation: Confirmation | None


def schedule_state(db: sqlite_utils.Database, campaign: model.Campaign, tz: str | None) -> ScheduleState | None:
    """None unless the campaign is scheduled."""
    if campaign.status != CampaignStatus.SCHEDULED:
        return None
    at = campaign.next_run_at
    when = local_time(at, tz) if at else "no time set"
    real = campaign.scheduled_real or (campaign.every_days is not None and not campaign.dry_run)
    mode = "real" if real else "dry run"
    confirmation = current(db, campaign.id) if campaign.scheduled_real else None
    void = void_reasons(db, campaign)
    if campaign.every_days:
        text = f"recurring ({mode}), next run at {when}"
    elif campaign.hold_reason:
        text = f"HELD, not sent — scheduled real at {when}: {campaign.hold_reason}"
    else:
        text = f"scheduled {mode} at {when}"
        if confirmation:
            text += (f" ({confirmation['to_send']:,} messages confirmed by {confirmation['confirmed_by']} "
                     f"{local_time(confirmation['confirmed_at'], tz)}"
                     + (", before messages deferred by quiet hours were counted: run-due holds it if the whole run "
                        "would send more" if confirmation["counts"] == "now" else "") + ")")
        if void:
            text += " — confirmation VOID: " + "; ".join(void) + " (run-due will hold it: confirm again)"
    return {"mode": mode, "at": at, "text": text, "held": campaign.hold_reason, "void": void,
            "confirmation": confirmation}
