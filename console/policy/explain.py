"""Why a user would or would not be messaged by a campaign: every policy, with the evidence behind it.

The decision itself comes from the same set-based `evaluate` the dispatcher calls (on a one-user audience), so
`winback why` can never disagree with what a send would do; the rest is the evidence: the consent row in force,
the suppression entries that match, each cap with the dispatches that count against it, the recipient's clock,
the budget.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

import sqlite_utils

from console import segments
from console.clock import now_ts
from console.config import Config
from console.errors import NotFound
from console.personalised_copy import CampaignCopy, copy_for_campaign
from console.policy import budget as budget_policy
from console.policy import caps as caps_policy
from console.policy import quiet_hours as qh
from console.policy.consent import latest_consent, unknown_consent_allows
from console.policy.engine import ADDRESS_SQL, evaluate
from console.policy.explain_ledger import NOTHING_SENT, after_one_off_run, ledger_summary
from console.policy.suppression import matching_entries
from console.privacy import mask_address
from console.simulated import SIMULATED_BY, simulated_program
from console.timefmt import local_time
from console.users import require_user_id

REASON_WORDS = {
    "ok": "would be sent now",
    "no_consent": "not sent: no granted consent on this channel",
    "suppressed": "not sent: on the suppression list",
    "invalid_address": "not sent: no usable address on this channel",
    "capped": "not sent: a frequency cap is reached",
    "quiet_hours": "deferred: quiet hours in the recipient's time zone",
    "over_budget": "not sent: the campaign's budget is spent",
    "holdout": "not sent: in the campaign's holdout (measured, never messaged)",
    "not_in_segment": "not in the campaign's audience: the user is not in its segment",
    "ranked_out": "not in the campaign's audience: below its ranking's cut-off",
    "not_in_run": "not in the campaign's audience: not in its segment when its run took the audience",
}


def row_mode(dry_run: bool | int, made_up: bool) -> str:
    """A ledger row's mode, as tallies name a run's: real, dry run, or simulated (the demo's made-up rows)."""
    return "real" if not dry_run else "simulated" if made_up else "dry run"


def row_state(status: str, mode: str) -> str:
    """A ledger row's state as the operator is shown it: a real row's status; a dry run's or a simulated row's
    sent/delivered is "would send" / "simulated" (never "sent": nothing went), its other states keep the word."""
    return NOTHING_SENT[mode] if mode != "real" and status in ("sent", "delivered") else status


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class Decision(TypedDict):
    """`explain`: whether one user would be messaged by one campaign, and each policy's part in it (`winback why
    --json`). Times are epoch seconds, each with its UTC text beside it."""

    user: str
    campaign: str
    channel: str
    at: int
    at_utc: str | None
    workspace_timezone: str
    decision: str              # ok, or the reason: a key of REASON_WORDS (the policies' verdict now)
    summary: str               # the verdict: the run's own ledger row first, the policies for users it has not decided
    decided_by: str            # "ledger" (the run's row decided this user) or "policies"
    defer_until: int | None
    defer_until_utc: str | None
    address: dict[str, Any]    # value (masked unless unmasked), ok
    consent: dict[str, Any]    # status, row, unknown_consent, ok
    suppression: dict[str, Any]   # ok, entries
    caps: dict[str, Any]       # exempt, rules (each with the dispatches it counts)
    quiet_hours: qh.QuietHoursNow
    budget: budget_policy.BudgetState   # a program step's campaign: its program's budget (the steps share it)
    program: str | None        # the program whose step this campaign is, or None
    simulated_program: str | None   # … when it is the demo's simulated one: its dry-run rows are made up
    simulated: bool            # its rows are made up: the demo's simulated campaign, or a step of simulated_program
    segment: dict[str, Any]    # name, member (and why not)
    ledger: list[dict[str, Any]]  # the user's rows of this campaign, one per run
    copy: CampaignCopy         # PIPL Art. 24: the version of each variant's copy they get (personalised_copy)


def explain(
    db: sqlite_utils.Database,
    config: Config,
    user_external_id: str,
    campaign_name: str,
    *,
    at: int | None = None,
    unmask: bool = False,
) -> Decision:
    """The structured decision for one user and one campaign at *at* (default now). Raises NotFound for an
    unknown user or campaign."""
    at = now_ts() if at is None else at
    user = next(iter(db.query("SELECT id, external_id, phone, email, push_token, timezone FROM users WHERE id = ?",
                              [require_user_id(db, user_external_id)])))
    campaign = next(iter(db.query(
        "SELECT id, name, segment, channel, budget, exempt_caps, dry_run, simulated, status, program_id, rank_by, "
        "every_days "
        "FROM campaigns WHERE name = ?",
        [campaign_name])), None)
    if campaign is None:
        raise NotFound(f"no campaign named {campaign_name!r}")
    channel = campaign["channel"]
    exempt = bool(campaign["exempt_caps"])

    verdict = evaluate(db, config, channel=channel, audience="SELECT :uid AS user_id", params={"uid": user["id"]},
                       at=at, campaign_id=campaign["id"], exempt=exempt)
    reason, defer_until = next(iter(verdict.by_user().values()), ("no_consent", None))
    decision = reason or "ok"

    address = next(iter(db.execute(
        f"SELECT {ADDRESS_SQL[channel]} FROM users u WHERE u.id = ?", [user["id"]]).fetchone()), None)
    consent_row = latest_consent(db, user["id"], channel)
    unknown_allows = unknown_consent_allows(config, channel)
    consent = {
        "status": consent_row["status"] if consent_row else "unknown",
        "row": consent_row,
        "unknown_consent": "allow" if unknown_allows else "deny",
        "ok": (consent_row["status"] == "granted") if consent_row else unknown_allows,
    }
    entries = matching_entries(db, user_id=user["id"], address=address, channel=channel)
    rules = []
    for rule in caps_policy.list_rules(db, channel):
        counted = [{**row, "at_utc": _iso(row["at"])}
                   for row in caps_policy.counting_dispatches(db, user["id"], rule, at)]
        rules.append({
            "rule": rule.label, "max": rule.max_count, "window_seconds": rule.window_seconds,
            "count": len(counted), "ok": exempt or len(counted) < rule.max_count, "dispatches": counted,
        })
    window = qh.sending_window(db, config, channel)
    quiet = qh.quiet_hours_now(at, user["timezone"], user["phone"], config, window)
    quiet["defer_until_utc"] = _iso(quiet["defer_until"])
    program, money = _budget(db, config, campaign)
    # the demo's made-up rows are said so rather than "dry run" (a dry run is one the operator ran): those of its
    # simulated campaign (campaigns.simulated, issue 15) and the made-up weeks of its simulated program's steps
    simulated = simulated_program(db, campaign["id"]) if program is not None else None
    # its dry-run rows are made up; the campaign itself is simulated only while it is the demo's dry run (a step of
    # the demo's ladder that has since run for real is real: `simulated` says so, its made-up rows stay marked)
    made_up_rows = bool(campaign["simulated"]) or simulated is not None
    made_up = bool(campaign["simulated"]) or (simulated is not None and bool(campaign["dry_run"]))
    if decision == "ok" and money["messages_that_fit"] == 0:
        decision = "over_budget"   # what the dispatcher would record for a step once its program's budget is spent
    ledger = list(db.query(
        "SELECT s.run, s.arm, s.status, s.reason, s.dry_run, s.sent_at, s.not_before, s.error, r.started_by "
        "FROM sends s "
        "LEFT JOIN campaign_runs r ON r.campaign_id = s.campaign_id AND r.run = s.run "
        "WHERE s.campaign_id = ? AND s.user_id = ? ORDER BY s.run", [campaign["id"], user["id"]]))
    for row in ledger:   # `status` is the stored word (scripts read it); `mode` and `state` say what it was
        # a step run of the simulated program that the operator started (run-due after the demo) is their own dry
        # run, not made up
        ours = simulated is not None and not campaign["simulated"] and row.pop("started_by") != SIMULATED_BY
        row.pop("started_by", None)
        row["mode"] = row_mode(row["dry_run"], made_up_rows and not ours)
        row["state"] = row_state(row["status"], row["mode"])
    # The holdout is drawn when the audience is frozen, before any policy: such a user is never messaged, whatever
    # the policies would say (they are still shown).
    if ledger and ledger[-1]["arm"] == "holdout":
        decision, defer_until = "holdout", None
    # Without a ledger row the user reaches this campaign only through its segment: say so before any policy.
    # A program step's audience is not a saved segment: it is whoever the program moved to this step.
    if ledger:
        outside = None
    elif program is not None:
        outside = {"excluded_by": f"not moved to this step of program {program} "
                                  f"(see `winback why {user['external_id']} --program {program}`)"}
    else:
        outside = segments.exclusion(db, campaign["segment"], user["id"])
    if outside is not None:
        decision, defer_until = "not_in_segment", None
    summary = REASON_WORDS[decision]
    frozen = None
    if not ledger and outside is None and program is None:
        frozen = _ranked_out(db, campaign) or after_one_off_run(db, campaign)
    if frozen is not None:
        decision, defer_until, summary = "ranked_out" if campaign["rank_by"] else "not_in_run", None, frozen
    if outside is not None and program is not None:
        summary = f"not in this step's audience: {outside['excluded_by']}"
    whose = f"the program's budget (program {program})" if program else "the campaign's budget"
    if decision == "over_budget":
        summary = f"not sent: {whose} is spent"
    # The run's own record comes first (issue: a user it took read "budget is spent" once the budget was used up,
    # judged by today's policies); they only say what happens to a user the run has not decided yet.
    last = ledger[-1] if ledger else None
    decided = ledger_summary(last, decision, whose) if last and decision != "holdout" else None
    if decided is not None:
        summary = decided
        if last is not None and last["status"] == "skipped" and last["reason"] == "over_budget":
            decision = "over_budget"
        if last is not None and last["status"] == "deferred":
            defer_until = last["not_before"]
    return {
        "user": user["external_id"],
        "campaign": campaign["name"],
        "channel": channel,
        "at": at,
        "at_utc": _iso(at),
        "workspace_timezone": config.timezone,
        "decision": decision,
        "summary": summary,
        "decided_by": "ledger" if decided is not None or decision == "holdout" else "policies",
        "defer_until": defer_until,
        "defer_until_utc": _iso(defer_until),
        "address": {"value": address if unmask else mask_address(channel, address),
                    "ok": decision != "invalid_address"},
        "consent": consent,
        "suppression": {"ok": not entries, "entries": [
            {**e, "address": e["address"] if unmask else mask_address(channel, e["address"]), "at_utc": _iso(e["at"])}
            for e in entries]},
        "caps": {"exempt": exempt, "rules": rules},
        "quiet_hours": quiet,
        "budget": money,
        "program": program,
        "simulated_program": simulated,
        "simulated": made_up,
        "segment": {"name": campaign["segment"], "member": outside is None, **(outside or {})},
        "ledger": ledger,
        "copy": copy_for_campaign(db, config, campaign["id"], user["id"]),
    }


def _ranked_out(db: sqlite_utils.Database, campaign: dict[str, Any]) -> str | None:
    """What a segment member without a ledger row in a ranked campaign that has run was: left out by the ranking
    (console/campaigns/plan.py: everyone below the cut-off is in no arm and never in the ledger), or not yet in
    the segment then — the ledger cannot tell which. The policies would not matter: that run never sends to them."""
    if not campaign.get("rank_by"):
        return None
    run = db.execute("SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ?", [campaign["id"]]).fetchone()[0]
    if run is None:
        return None
    return (f"not in run {run}'s audience: below the {campaign['rank_by']} cut-off when it was frozen (its budget "
            "bought the higher-ranked first), or not in its segment then; never messaged by that run")


def _budget(db: sqlite_utils.Database, config: Config, campaign: dict[str, Any]
            ) -> tuple[str | None, budget_policy.BudgetState]:
    """(program name or None, the budget that limits this campaign): a program step's campaign has no budget of its
    own — its messages are paid from the program's, shared by every step (console.programs.budget), booked in the
    program's mode."""
    if campaign.get("program_id") is None:
        return None, budget_policy.budget_state(db, config, campaign)
    name, budget, dry_run = db.execute("SELECT name, budget, dry_run FROM programs WHERE id = ?",
                                       [campaign["program_id"]]).fetchone()
    used = budget_policy.program_spent(db, campaign["program_id"], dry_run=bool(dry_run))
    cost = budget_policy.unit_cost(config, campaign["channel"])
    return name, {"budget": budget, "spent": round(used, 6), "remaining": None if budget is None else
                  round(budget - used, 6), "unit_cost": cost,
                  "messages_that_fit": budget_policy.messages_that_fit(budget, used, cost)}


def _mark(ok: bool) -> str:
    return "ok " if ok else "NO "


def explanation_lines(d: Decision) -> list[str]:
    """The decision in words, one fact per line, for the terminal (and the console's why panel). Times are shown
    in the workspace's zone; --json carries epoch seconds and UTC."""
    tz_name = d.get("workspace_timezone") or "UTC"

    def local(ts: int | None) -> str:
        # console.timefmt: the same "2026-11-25 11:00 UTC+8" as every other listing (not an ambiguous "CST")
        return "" if ts is None else local_time(ts, tz_name)

    def line(ok: bool, label: str, text: str) -> str:
        return f"  {_mark(ok)} {label:<12} {text}"

    lines = [f"{d['user']} × {d['campaign']} ({d['channel']}) at {local(d['at'])}: {d['summary']}"
             + (f" until {local(d['defer_until'])}" if d["defer_until"] else "")]
    seg = d["segment"]
    if not seg["member"]:
        value = f" (theirs: {seg['value']})" if seg.get("value") is not None else ""
        lines.append(line(False, "segment", f"{seg['name']}: excluded by {seg['excluded_by']}{value}"))
    c = d["consent"]
    if c["row"]:
        row = c["row"]
        lines.append(line(c["ok"], "consent", f"{row['status']} {local(row['at'])} (source {row['source']})"))
    else:
        lines.append(line(c["ok"], "consent", f"unknown — channel setting unknown_consent = {c['unknown_consent']}"))
    s = d["suppression"]
    if s["ok"]:
        lines.append(line(True, "suppression", "none in force"))
    for e in s["entries"]:
        who = e["address"] or f"user {d['user']}"
        lines.append(line(False, "suppression", f"#{e['id']} {e['reason']} on {e['channel']} for {who}, "
                                                f"{local(e['at'])} by {e['created_by']} (source {e['source']})"))
    a = d["address"]
    lines.append(line(a["ok"], "address", a["value"] or "(none)"))
    caps = d["caps"]
    if caps["exempt"]:
        lines.append(line(True, "caps", "campaign is exempt from frequency caps (and does not count)"))
    elif not caps["rules"]:
        lines.append(line(True, "caps", "no rules"))
    for r in caps["rules"]:
        lines.append(line(r["ok"], "cap", f"{r['rule']}: {r['count']} of {r['max']} used"))
        for x in r["dispatches"]:
            lines.append(f"{'':19}{local(x['at'])}  {x['campaign'] or '?'}  {x['channel']}  {x['status']}")
    q = d["quiet_hours"]
    if q["window"] is None:
        lines.append(line(True, "quiet hours", "none"))
    else:
        clocks = ", ".join(f"{z} {t}" for z, t in q["local_time"].items())
        verdict = "inside the sending window" if q["allowed_now"] else f"quiet now, next allowed {local(q['defer_until'])}"
        lines.append(line(q["allowed_now"], "quiet hours", f"{q['window']['quiet']} (sending {q['window']['sending']}) "
                                                           f"in the recipient's zone, from {q['zone_source']}: {clocks}"))
        lines.append(f"{'':19}{verdict}")
    b = d["budget"]
    of_program = f" (program {d['program']})" if d.get("program") else ""
    if b["budget"] is None:
        lines.append(line(True, "budget", f"no ceiling{of_program}"))
    else:
        fits = b["messages_that_fit"]
        spent = round(b["spent"], 2) + 0.0   # booked and refunded alike leave a hair below zero: never '-0.00'
        lines.append(line(d["decision"] != "over_budget", "budget",
                          f"spent {spent:,.2f} of {b['budget']:,.2f}{of_program}; "
                          f"{'no limit on' if fits is None else f'{fits:,}'} more message(s) at "
                          f"{b['unit_cost']:.2f} each"))
    copy = d["copy"]   # only for who refused personalised marketing: everyone else gets the copy as written
    for v in copy["variants"] if copy["refused"] else []:
        lines.append(line(True, "copy", f"{v['label']} {v['template']}: {v['copy']} — {v['reason']}"))
    # made-up rows (the demo's simulated campaign, or its ladder's steps even once run for real) say "simulated",
    # not "dry run" (one the operator ran); neither says "sent" (row_state)
    for row in d["ledger"]:
        mode = row.get("mode") or row_mode(row["dry_run"], bool(d.get("simulated") or d.get("simulated_program")))
        state = row.get("state") or row_state(row["status"], mode)
        # (tags as before: " [dry-run]", " [simulated]"; a row already said "simulated" is not tagged twice)
        tag = "" if mode == "real" or state == mode else " [dry-run]" if mode == "dry run" else f" [{mode}]"
        lines.append(f"  {'':3} {'ledger':<12} run {row['run']}: arm {row['arm']}, {state}"
                     + (f" ({row['reason']})" if row["reason"] else "") + tag)
    return lines
