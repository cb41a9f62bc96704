"""Launch, pause, resume, cancel and run-due: the campaign's status changes, each audited with operator and host.

Another process (the TUI, a second shell) may pause or cancel while a dispatcher runs: the dispatcher reads the
status at every claim, so the change takes effect within one batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, NotRequired, TypedDict, cast

import sqlite_utils

from console import audit
from console.campaigns import confirmation, dry_codes, holders, ledger, model
from console.campaigns.audience import launch_refusal
from console.campaigns.dispatch import (
    Dispatcher,
    DispatchOptions,
    DispatchSummary,
    active_dispatcher,
    dispatch,
    latest_run,
    recover_lost_claims,
)
from console.campaigns.freeze import NoLongerDue, freeze
from console.campaigns.ledger import CampaignStatus
from console.campaigns.prelaunch import (  # noqa: F401 - launch_problems, launch_warnings, ContentWarnings: callers
    ContentWarnings,
    accepted_before,
    check_warnings,
    launch_problems,
    launch_warnings,
    template_problems,
)
from console.campaigns.runs import BeingSent
from console.campaigns.summary import SummaryDict
from console.channels import ChannelError, open_channel
from console.clock import now_ts
from console.config import Config, ConfigError
from console.errors import BadInput, WinbackError
from console.unexpected import debug_traceback, unexpected_words
from storage.tx import immediate


class StoppedByConfig(ConfigError):
    """A bad winback.toml stopped a launch after its audience was frozen. Exit code 1, not a ConfigError's 2 ("bad
    input, nothing changed"): the launch did change something — the run exists, the campaign is running — and the
    fix is the file, then `resume`, not the same command again."""

    exit_code = 1


def launch(db: sqlite_utils.Database, config: Config, name: str, *, real: bool = False,
           progress: Callable[[int, int | None], None] | None = None, workers: int | None = None,
           accept_warnings: bool = False, due_by: int | None = None, **options: Any) -> DispatchSummary:
    """Freeze the audience into the ledger (one transaction), then dispatch it. Dry-run unless `real`.

    A real launch whose templates break the providers' content rules (`launch_warnings`) is refused with
    ContentWarnings unless `accept_warnings` (audited: `campaign.accept_warnings` with the warnings).

    `workers` > 1 shares the run between that many dispatcher processes (each renders its own partition; claims
    stay serialised by SQLite). Default: 2 for dry runs of 20,000 recipients or more on a multi-core machine, else 1
    (a real send is paced by the channel's rate limit, not by the CPU). `due_by`: see freeze (run-due's re-check).
    """
    started = time.monotonic()
    campaign = model.get(db, name)
    if not real and campaign.status == CampaignStatus.SCHEDULED and campaign.scheduled_real:
        # a dry run now would end the confirmed real schedule (the launch leaves `scheduled`): say so instead
        raise BadInput(f"campaign {campaign.name!r} is scheduled for a real send (`winback campaign show`): a dry "
                       "run now would end that schedule; `plan` shows who it reaches, `unschedule` it first")
    if real and workers is not None and workers > 1:
        raise BadInput("--workers is for dry runs: a real send is paced by its channel's rate limit, one dispatcher")
    # Open the channel first: a missing secret or bad setting stops us before anything is written.
    channel = open_channel(campaign.channel, config, campaign=campaign.name, dry_run=not real)
    try:
        channel.verify()
        unsendable = template_problems(db, config, campaign) if real else []
        if unsendable:
            raise ChannelError("; ".join(unsendable))
        if real:   # R (issue 13): content rules are never silently sent past
            check_warnings(db, config, campaign, accept_warnings)
        # a dry run whose approved template cannot carry the coupon code records no codes, and says why
        codes_note = None if real else dry_codes.note(db, config, campaign)
        if codes_note and options.get("notice"):
            options["notice"](codes_note)
        run, recipients = freeze(db, campaign, dry_run=not real, config=config, due_by=due_by)
        if workers is None:
            workers = 2 if not real and recipients >= 20_000 and (os.cpu_count() or 1) >= 2 else 1
        try:
            if workers <= 1:
                summary = dispatch(db, config, campaign, channel=channel, progress=progress, **options)
            else:
                summary = _dispatch_in_parallel(db, config, campaign, run, workers, channel, progress, started,
                                                **options)
        except ConfigError as exc:
            # winback.toml stopped the send after the audience was frozen: the campaign stays running and nobody
            # not yet sent is recorded (claim.py), so the fixed file sends them — say how
            raise StoppedByConfig(f"{exc} — {campaign.name!r} stays running, nothing recorded for whoever was not "
                              f"sent yet: once the file is fixed, `winback campaign resume {campaign.name}` (or "
                              "the next run-due) sends them") from exc
        # recipients without an address were skipped when the audience was frozen
        no_address = db.execute("SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND run = ? AND status = 'skipped' "
                                "AND reason = 'invalid_address' AND claimed_at IS NULL", [campaign.id, run]).fetchone()[0]
        if no_address:
            summary.skipped["invalid_address"] += no_address
        if codes_note:
            summary.notes.append(codes_note)
        return summary
    finally:
        channel.close()


def _dispatch_in_parallel(db, config, campaign, run, workers, channel, progress, started, **options):
    """Partition k of n in helper processes, partition 0 here, then one whole pass that finishes the run."""
    db_file = next(r[2] for r in db.execute("PRAGMA database_list") if r[1] == "main")
    batch = options.get("batch_size")
    helpers = [
        subprocess.Popen([sys.executable, "-m", "console.campaigns.worker", db_file,
                          str(config.path) if config.path else "", campaign.name, str(run), str(k), str(workers),
                          str(batch or "")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(1, workers)
    ]
    try:
        scaled = (lambda done, total: progress(min(total or 0, done * workers), total)) if progress else None
        summary = Dispatcher(db, config, campaign, run, dry_run=campaign_is_dry(db, campaign, run),
                             options=DispatchOptions(channel=channel, progress=scaled, partition=(0, workers),
                                                     **options)).run_to_end()
        for proc in helpers:
            out, _ = proc.communicate()
            if proc.returncode == 0 and out.strip():
                summary.add(DispatchSummary.from_dict(json.loads(out.strip().splitlines()[-1])))
    finally:
        for proc in helpers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    final = dispatch(db, config, campaign, channel=channel, progress=progress, **options)
    final.add(summary)
    final.seconds = time.monotonic() - started
    return final


def campaign_is_dry(db: sqlite_utils.Database, campaign: model.Campaign, run: int) -> bool:
    return bool(db.execute("SELECT dry_run FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                           [campaign.id, run]).fetchone()[0])


def _set_status(db: sqlite_utils.Database, name: str, new: CampaignStatus, allowed: tuple[CampaignStatus, ...],
                action: str,
                **details: Any) -> model.Campaign:
    campaign = model.get(db, name)
    with immediate(db):
        status = ledger.campaign_status(db, campaign.id)
        if status not in allowed:
            raise BadInput(f"campaign {campaign.name!r} is {status}; cannot {action.split('.')[-1]} it")
        ledger.move_campaign(db, campaign.id, new,
                             pause_reason=details.get("reason") if new == CampaignStatus.PAUSED else None)
        audit.record(db, action, campaign=campaign.name, **details)
    return model.get(db, campaign.name)


def pause(db: sqlite_utils.Database, name: str, reason: str | None = None) -> model.Campaign:
    """Stop claiming new batches; in-flight messages are still recorded. `resume` continues."""
    return _set_status(db, name, CampaignStatus.PAUSED, (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED),
                       "campaign.pause", reason=reason or "operator")


def resume(db: sqlite_utils.Database, config: Config, name: str, *,
           progress: Callable[[int, int | None], None] | None = None, **options: Any) -> DispatchSummary:
    """Continue a paused campaign — or one whose dispatcher died (crash, kill -9) — from the ledger.

    Rows claimed by a dispatcher that is gone become `unknown` and are never resent; everything `planned` or due
    `deferred` is dispatched. The channel is opened first: a channel that cannot send (a missing or unusable secret,
    a real run on the dry-run transport) stops the resume with the campaign still paused.
    """
    campaign = model.get(db, name)
    busy = active_dispatcher(db, campaign.id)   # in another process, or this one (the console's workers)
    if busy:
        raise BeingSent(campaign.name, busy)
    if campaign.status not in ("paused", "running"):
        raise BadInput(f"campaign {campaign.name!r} is {campaign.status}; only a paused or interrupted campaign "
                       "can be resumed")
    if "channel" in options:
        return _resume(db, config, campaign, progress, **options)
    run = latest_run(db, campaign.id)
    channel = open_channel(campaign.channel, config, campaign=campaign.name, dry_run=bool(run and run["dry_run"]))
    try:
        return _resume(db, config, campaign, progress, channel=channel, **options)
    finally:
        channel.close()


def _resume(db: sqlite_utils.Database, config: Config, campaign: model.Campaign,
            progress: Callable[[int, int | None], None] | None, **options: Any) -> DispatchSummary:
    if campaign.status != "paused":
        audit.record(db, "campaign.resume", campaign=campaign.name, after="interruption")
        return dispatch(db, config, campaign.name, progress=progress, **options)
    _set_status(db, campaign.name, CampaignStatus.RUNNING, (CampaignStatus.PAUSED,), "campaign.resume")
    try:
        return dispatch(db, config, campaign.name, progress=progress, **options)
    except ConfigError as exc:
        # the paused campaign is running now: not a bad file's "nothing changed" (tests/test_review_resume_bad_file)
        raise StoppedByConfig(f"{exc} — {campaign.name!r} was resumed and stays running, nothing recorded for "
                              "whoever was not sent yet: once the file is fixed, `winback campaign resume "
                              f"{campaign.name}` (or the next run-due) sends them") from exc


class Cancelled(TypedDict):
    campaign: str
    cancelled: int             # recipients recorded `cancelled`


def cancel(db: sqlite_utils.Database, name: str, reason: str | None = None) -> Cancelled:
    """Cancel: every recipient not yet handed to a provider is recorded `cancelled`, in one transaction."""
    campaign = model.get(db, name)
    now = now_ts()
    with immediate(db):
        status = ledger.campaign_status(db, campaign.id)
        if status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
            raise BadInput(f"campaign {campaign.name!r} is already {status}")
        cancelled = ledger.cancel_open(db, campaign.id, now)
        ledger.move_campaign(db, campaign.id, CampaignStatus.CANCELLED, completed_at=now, next_run_at=None)
        db.execute("UPDATE campaign_runs SET finished_at = ? WHERE campaign_id = ? AND finished_at IS NULL",
                   [now, campaign.id])
        audit.record(db, "campaign.cancel", campaign=campaign.name, reason=reason or "operator",
                     recipients_cancelled=cancelled)
    recover_lost_claims(db, campaign.id)
    return {"campaign": campaign.name, "cancelled": cancelled}


class DueCampaign(TypedDict):
    name: str
    status: str                # scheduled | running
    next_run_at: int | None


def due_campaigns(db: sqlite_utils.Database, now: int | None = None) -> list[DueCampaign]:
    """Campaigns run-due would act on: scheduled ones whose time has come, running ones with work due."""
    now = now if now is not None else now_ts()
    return cast(list[DueCampaign], list(db.query(
        """
        SELECT c.name, c.status, c.next_run_at FROM campaigns c
        WHERE (c.status = 'scheduled' AND c.next_run_at IS NOT NULL AND c.next_run_at <= :now
               AND c.hold_reason IS NULL)
           OR (c.status = 'running' AND EXISTS (
                 SELECT 1 FROM sends s WHERE s.campaign_id = c.id AND (s.status = 'planned'
                     OR (s.status = 'deferred' AND s.not_before <= :now)
                     OR (s.status = 'claimed' AND s.lease_until < :now))))
        ORDER BY c.id
        """, {"now": now})))


class DueSkipped(TypedDict):   # run_due: another process runs it, or it was started, paused or cancelled meanwhile
    campaign: str
    outcome: Literal["skipped"]
    reason: str


class DueFailed(TypedDict):    # run_due: this campaign's problem (a missing secret, …); the others still ran
    campaign: str
    outcome: Literal["error"]
    error: str
    traceback: NotRequired[str]   # an unexpected error's, only under WINBACK_DEBUG


class DueHeld(TypedDict):      # run_due: a scheduled real send NOT launched (console.campaigns.confirmation)
    campaign: str
    outcome: Literal["held"]
    reason: str


DueResult = SummaryDict | DueSkipped | DueFailed | DueHeld   # told apart by `outcome` ('held', 'skipped', 'error',
#                                                              else a run's)


def run_due(db: sqlite_utils.Database, config: Config, *,
            progress: Callable[[int, int | None], None] | None = None, **options: Any) -> list[DueResult]:
    """For cron: start the next run of recurring campaigns that are due, and continue running campaigns whose
    deferred messages are due (or whose dispatcher died).

    A recurring campaign becomes due `every` days after its previous real run started; the new run reaches only
    users in the segment whom this campaign has not reached within the re-entry period (default: the interval).
    Only campaigns whose first run was launched for real recur: a dry run never turns into a real send by itself.
    A campaign another process is already running (two run-dues started together) is `skipped`, with the reason.
    A campaign that fails — in any way, a bug too (then named with its type) — is an `error` result and the others
    still run; its own launch is one transaction, so it is left as it was.
    """
    results: list[DueResult] = []
    now = now_ts()
    for row in due_campaigns(db, now):
        campaign = model.get(db, row["name"])
        me = holders.new_holder()   # our hold on a running campaign's run, handed on to its dispatcher
        busy = _take_run(db, campaign, me) if row["status"] == "running" else active_dispatcher(db, campaign.id)
        if busy:
            # another process is sending it: one dispatcher per run, so the rate limit holds
            results.append(_being_run(campaign, busy))
            continue
        try:
            if row["status"] == "scheduled" and campaign.scheduled_real:
                # a one-off confirmed as a real send: checked again now, held (not sent) when it no longer holds
                reason = confirmation.hold_reason_now(db, config, campaign, now=now)
                if reason:   # never launched then; held here, unless another process launched or held it first
                    results.append({"campaign": campaign.name, "outcome": "held", "reason": reason}
                                   if confirmation.hold(db, campaign, reason, due_by=now) else
                                   {"campaign": campaign.name, "outcome": "skipped",
                                    "reason": f"{model.get(db, campaign.name).status} meanwhile"})
                    continue
                summary = launch(db, config, campaign.name, real=True, progress=progress, accept_warnings=True,
                                 due_by=now, **options)   # warnings: those accepted with the confirmation only
            elif row["status"] == "scheduled":
                summary = launch(db, config, campaign.name, real=not campaign.dry_run, progress=progress,
                                 accept_warnings=accepted_before(db, config, campaign.name), due_by=now,
                                 **options)
            else:
                summary = dispatch(db, config, campaign, progress=progress, holder=me, **options)
        except BeingSent as exc:   # another dispatcher got there between our check and its start
            results.append(_being_run(campaign, exc.holder))
            continue
        except NoLongerDue as exc:
            # listed as due, but another run-due ran it (and moved next_run_at on) before we got the lock
            results.append({"campaign": campaign.name, "outcome": "skipped", "reason": str(exc)})
            continue
        except BadInput as exc:
            if row["status"] == "scheduled" and str(exc) == launch_refusal(db, campaign):
                # Listed as due, but another run-due (or an operator) started, paused or cancelled it since:
                # nothing to do here, and nothing went wrong — cron must not mail the operator about it.
                status = model.get(db, campaign.name).status
                results.append(_being_run(campaign, active_dispatcher(db, campaign.id) or "another process")
                               if status == "running" else
                               {"campaign": campaign.name, "outcome": "skipped", "reason": f"{status} meanwhile"})
                continue
            results.append({"campaign": campaign.name, "outcome": "error", "error": str(exc)})
            continue
        except WinbackError as exc:
            # one campaign's problem (a missing secret, a bad setting in winback.toml: ChannelError and ConfigError
            # are WinbackErrors) must not stop cron from running the others
            results.append({"campaign": campaign.name, "outcome": "error", "error": str(exc)})
            continue
        except Exception as exc:   # a bug: named with its type (never silent), and the others still run
            results.append(_unexpected(campaign.name, exc))
            continue
        finally:
            _leave_run(db, campaign, me)
        results.append(summary.as_dict())
    return results


def _unexpected(name: str, exc: Exception) -> DueFailed:
    failed: DueFailed = {"campaign": name, "outcome": "error", "error": unexpected_words(exc)}
    trace = debug_traceback(exc)
    if trace:
        failed["traceback"] = trace
    return failed


def _being_run(campaign: model.Campaign, holder: str) -> DueSkipped:
    return {"campaign": campaign.name, "outcome": "skipped",
            "reason": f"being run by another process ({holder})"}


def _take_run(db: sqlite_utils.Database, campaign: model.Campaign, me: str) -> str | None:
    """Become (as `me`, a holders.new_holder() id) the dispatcher of the campaign's latest run, unless a live one
    already is — in another process or this one: its id then.

    Check and take in one write transaction, so that of two run-dues started together exactly one goes on (reading
    active_dispatcher and then dispatching would let both through). `me` is alive in this process from here until
    _leave_run; the dispatcher started with it sends as `me`.
    """
    holders.hold(me)   # before the write is seen: another thread of this process must find `me` alive
    try:
        with immediate(db):
            holder = active_dispatcher(db, campaign.id)
            if holder:
                holders.release(me)
                return holder
            db.execute("UPDATE campaign_runs SET dispatcher = ?, heartbeat_at = ? WHERE campaign_id = ? "
                       "AND run = (SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ?)",
                       [me, now_ts(), campaign.id, campaign.id])
    except BaseException:
        if holders.held_here(me):
            holders.release(me)
        raise
    return None


def _leave_run(db: sqlite_utils.Database, campaign: model.Campaign, me: str) -> None:
    """Give up a run taken by _take_run that no dispatcher went on to send (the dispatcher clears its own)."""
    try:
        with immediate(db):
            db.execute("UPDATE campaign_runs SET dispatcher = NULL WHERE campaign_id = ? AND dispatcher = ?",
                       [campaign.id, me])
    finally:
        if holders.held_here(me):
            holders.release(me)
