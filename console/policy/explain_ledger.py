"""What a campaign's run has recorded about one user, as `winback why USER --campaign C` says it first.

A user with a row in the run is judged by that row (sent, would send, deferred, skipped with its recorded reason):
today's policies only say whether a send would happen now, which matters to users the run has not decided yet
(planned or claimed rows, or no row at all). Without a row, a one-off run that already took its audience (running,
paused or over) never messages a segment member who joined later: that is said too (console/policy/explain.py `_ranked_out` does the
same for a ranked campaign).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from console.provider_errors import short_error

# Ledger states a run is finished with: the dispatcher never picks such a row up again.
DONE = ("sent", "delivered", "failed", "bounced", "unknown", "skipped", "cancelled")

# What a finished row of a run that sent nothing reads as: the rest of the tool's words (person page, tallies).
NOTHING_SENT = {"dry run": "would send", "simulated": "simulated"}
# … and why, in the summary
NOTHING_SENT_WHY = {"dry run": "would send — dry run, nothing was sent",
                    "simulated": "simulated — made up by the demo, nothing was sent"}

# A skipped row's recorded reason, in words (the policies' REASON_WORDS without their "not sent:").
SKIP_WORDS = {
    "no_consent": "no granted consent on this channel",
    "suppressed": "on the suppression list",
    "invalid_address": "no usable address on this channel",
    "capped": "a frequency cap was reached",
    "quiet_hours": "quiet hours in the recipient's time zone",
}


def ledger_summary(last: dict[str, Any], decision: str, whose: str) -> str | None:
    """The verdict the run's own row gives for its user, or None when the run has not decided them yet (planned,
    claimed) or the row is a holdout (said elsewhere). *decision* is what the policies say now; *whose* names the
    budget ("the campaign's budget")."""
    status, run, mode = last["status"], last["run"], last["mode"]
    in_mode = "" if mode == "real" else f", {mode}"
    if status == "deferred":
        # not final: the dispatcher takes it again at not_before, when the policies then decide
        why = SKIP_WORDS.get(last["reason"] or "", last["reason"] or "deferred")
        return f"deferred by run {run}: {why} (recorded {last['reason'] or 'deferred'}{in_mode}); due again"
    if status == "skipped":
        if last["reason"] == "over_budget":
            # final: a row recorded over_budget is never sent later in its run (console.campaigns.pacing)
            return (f"not sent: {whose} was spent when run {run} reached this user (recorded over_budget"
                    f"{in_mode}); never sent later in that run")
        why = SKIP_WORDS.get(last["reason"] or "", last["reason"] or "skipped")
        return (f"not sent: run {run} skipped this user — {why} (recorded {last['reason']}{in_mode}); "
                "never sent later in that run")
    if status not in DONE:
        return None
    # Decided: this run never takes the user twice, whatever the policies say now (a budget spent since, a cap
    # reached by this very message). A dry run's or the demo's made-up row was never sent: said so, never "sent".
    if mode == "real":
        verdict = f"run {run} already has this user ({status}): not sent again in that run"
        said = short_error(last.get("error")) if status in ("failed", "bounced") else ""
        if said:   # the provider's reason (its send answer, or the delivery receipt's code and words)
            verdict = f"run {run} already has this user ({status} — the provider said: {said}): not sent again in " \
                      "that run"
    else:
        state = NOTHING_SENT_WHY[mode] if status in ("sent", "delivered") else f"{status}, {mode}"
        verdict = f"run {run} already has this user ({state}): not taken again in that run"
    return f"the policies allow a send now, but {verdict}" if decision == "ok" else verdict


def after_one_off_run(db: sqlite_utils.Database, campaign: dict[str, Any]) -> str | None:
    """For a segment member with no row: the one-off run that took its audience before they joined, in words, or
    None when a run is still to take one (never launched, recurring, or scheduled again). A running or paused run
    is judged so too: its audience was frozen at launch (console/campaigns/freeze.py) and resuming it never adds
    anyone, so today's policies would only say what that run will never do."""
    if campaign.get("every_days") or campaign["status"] not in ("running", "paused", "completed", "cancelled"):
        return None
    row = db.execute("SELECT run, dry_run FROM campaign_runs WHERE campaign_id = ? ORDER BY run DESC LIMIT 1",
                     [campaign["id"]]).fetchone()
    if row is None:
        return None
    run, dry_run = row
    again = (f" (it {'was' if campaign['status'] in ('completed', 'cancelled') else 'is'} a dry run: a real launch "
             "takes its audience afresh)") if dry_run else ""
    return (f"not in run {run}'s audience: not in the campaign's segment when the run took its audience; "
            f"never messaged by that run{again}")
