"""One program run: exits, new entrants, the steps that are due, then the step campaigns' dispatch.

Order within a run (each numbered part is one write transaction, so a crash leaves a consistent state):

1. Exits: an active entry whose user has an `exit_on` event after entering (and not after now) is `returned`;
   then one whose user opted out of every channel of their next step is `opted_out` (console/programs/optouts.py).
2. Admission: users the entry rule (or segment) matches now who have no active entry in this program (same mode)
   and did not leave it within `reentry` (never, when the program has no reentry) enter, with their step-1 due
   time; control (by hash of the program's salt and the user id) is fixed at entry.
3. Steps (console/programs/steps.py), last to first, one transaction per step: entries whose step is due take it
   (`only` rules, ranking, the first usable channel, the ledger rows and the moves written together). Going last
   to first means a user moved on in this run is not looked at again by the next step's pass: one step per user
   per run, never twice; a step missed while winback was not run is taken at the next run, and the following one
   falls due from its own due time.
4. Dispatch: every run of the step campaigns with work left goes through the campaign dispatcher (consent,
   suppression, caps, quiet hours, budget, brakes, the at-most-once hand-off) — also runs left open by an earlier
   run that crashed or was waiting on quiet hours.
5. Budget (console/programs/budget.py): a dispatch that recorded `over_budget` rows, or a budget that no longer
   buys one message, pauses the program with the reason — checked before 1 too, so a run with no money moves
   nobody.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import sqlite_utils

from console import audit
from console.campaigns import holders, ledger, model
from console.campaigns.dispatch import Dispatcher, DispatchOptions
from console.campaigns.ledger import CampaignStatus, SendState
from console.channels import Channel, open_channel
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.programs import budget, lock, store
from console.programs.lock import BeingRun
from console.programs.optouts import exit_opted_out
from console.programs.report import ProgramFailed, ProgramResult, RunReport
from console.programs.spec import entry_members_sql
from console.programs.steps import DAY, ensure_running, take_step
from console.unexpected import debug_traceback, unexpected_words
from storage.tx import immediate


def control_assigner(salt: str, pct: float) -> Callable[[int], int]:
    """user_id → 1 when held out of the whole program (hash of salt and id below pct), else 0."""
    threshold = round(pct * 100)
    prefix = f"{salt}:program:".encode()

    def held(user_id: int) -> int:
        n = int.from_bytes(hashlib.blake2b(prefix + str(user_id).encode(), digest_size=8).digest(), "big")
        return int(n % 10000 < threshold)

    return held


def run(db: sqlite_utils.Database, config: Config, name: str, *,
        notice: Callable[[str], None] | None = None) -> RunReport:
    """Advance a running program once (see the module's docstring)."""
    program = store.get(db, name)
    if program.status != "running":
        raise BadInput(f"program {name!r} is {program.status}; only a running program advances")
    with lock.runner_id() as me:   # this run's own id: two runners in one process are told apart
        taken_at = now_ts()
        holder = lock.take(db, program, me)
        if holder:
            here = ", in this process" if holders.held_here(holder) else ""
            raise BeingRun(f"program {name!r} is being run by another runner ({holder}{here})")
        try:
            return _run(db, config, program, notice, lock.Hold(db, program, me, taken_at))
        finally:
            lock.leave(db, program, me)


def _run(db: sqlite_utils.Database, config: Config, program: store.Program,
         notice: Callable[[str], None] | None, hold: lock.Hold) -> RunReport:
    channels = _open_channels(program, config)
    try:
        now = now_ts()
        report = RunReport(program.name, program.dry_run, now)
        if budget.pause_if_spent(db, config, program, report):
            return report   # no money for any message: nobody enters or moves on until the budget is raised
        _exits(db, program, now, report)
        opted_out = exit_opted_out(db, config, program, now)
        if opted_out:
            report.exited["opted_out"] = opted_out
        _admit(db, program, now, report)
        for step in reversed(program.steps):
            take_step(db, config, program, step, now, report)
        with immediate(db):
            db.execute("UPDATE programs SET last_run_at = ? WHERE id = ?", [now, program.id])
            audit.record(db, "program.run", program=program.name, real=not program.dry_run, entered=report.entered,
                         returned=report.returned, steps={k: v.get("queued", 0) + v.get("holdout", 0)
                                                          for k, v in report.steps.items()},
                         exited=report.exited)
        _dispatch_open(db, config, program, channels, report, notice, hold)
        budget.pause_if_spent(db, config, program, report)
        return report
    finally:
        for channel in channels.values():
            channel.close()


def check_channels(db: sqlite_utils.Database, config: Config, name: str, *, real: bool) -> None:
    """Raise ChannelError when a step's channel cannot send in this mode (`start` calls it before changing
    anything: a real start on the dry-run transport or with a missing secret is refused up front)."""
    for channel in _open_channels(store.get(db, name), config, dry_run=not real).values():
        channel.close()


def _open_channels(program: store.Program, config: Config, *, dry_run: bool | None = None) -> dict[str, Channel]:
    """Every channel the steps use, opened before anything is written: a real program on a channel that cannot
    send (no transport, a missing secret) stops here with nothing changed."""
    opened: dict[str, Channel] = {}
    dry = program.dry_run if dry_run is None else dry_run
    try:
        for step in program.steps:
            for channel in step.channels:
                if channel not in opened:
                    opened[channel] = open_channel(channel, config, campaign=f"{store.PREFIX}{program.name}",
                                                   dry_run=dry)
    except BaseException:
        for ch in opened.values():
            ch.close()
        raise
    return opened


def _exits(db: sqlite_utils.Database, program: store.Program, now: int, report: RunReport) -> None:
    with immediate(db):
        report.returned = int(db.execute(
            """UPDATE program_entries SET state = 'returned', left_at = :now, next_due_at = NULL,
                   left_reason = (SELECT e.kind FROM events e WHERE e.user_id = program_entries.user_id
                                  AND e.kind IN (SELECT value FROM json_each(:kinds))
                                  AND e.at > program_entries.entered_at AND e.at <= :now ORDER BY e.at LIMIT 1)
               WHERE program_id = :pid AND dry_run = :dry AND state = 'active' AND EXISTS (
                   SELECT 1 FROM events e WHERE e.user_id = program_entries.user_id
                   AND e.kind IN (SELECT value FROM json_each(:kinds))
                   AND e.at > program_entries.entered_at AND e.at <= :now)""",
            {"now": now, "kinds": json.dumps(program.exit_on), "pid": program.id,
             "dry": int(program.dry_run)}).rowcount)
        if report.returned:
            _drop_pending(db, program, now)


def _drop_pending(db: sqlite_utils.Database, program: store.Program, now: int) -> None:
    """Step messages not yet handed over (planned, or deferred for quiet hours) to users who have just returned
    are recorded `skipped`, reason `returned`: someone who ordered overnight gets no win-back message in the
    morning. Claimed rows are left alone (they may be with the provider already)."""
    rows = db.execute(
        f"""SELECT s.id FROM sends s JOIN campaigns c ON c.id = s.campaign_id
            JOIN program_entries e ON e.program_id = c.program_id AND e.user_id = s.user_id
            WHERE c.program_id = ? AND s.dry_run = ? AND s.status IN {ledger.in_list((SendState.PLANNED, SendState.DEFERRED))}
              AND e.dry_run = ? AND e.state = 'returned' AND e.left_at = ?""",
        [program.id, int(program.dry_run), int(program.dry_run), now]).fetchall()
    ledger.skip(db, [("returned", None, now, r[0]) for r in rows])


def _admit(db: sqlite_utils.Database, program: store.Program, now: int, report: RunReport) -> None:
    first_wait = program.steps[0].wait_days * DAY
    db.conn.create_function("wb_program_control", 1, control_assigner(program.salt, program.control_pct),
                            deterministic=True)
    with immediate(db):
        sql, params = entry_members_sql(db, program.entry)
        db.execute("DROP TABLE IF EXISTS temp.program_members")
        db.execute("CREATE TEMP TABLE program_members (user_id INTEGER PRIMARY KEY)")
        db.execute(f"INSERT OR IGNORE INTO temp.program_members (user_id) SELECT * FROM ({sql})", params)
        # reentry: a user who left within the period (or ever, without one) stays out
        since = now - program.reentry_days * DAY if program.reentry_days else None
        cur = db.execute(
            """INSERT INTO program_entries (program_id, user_id, dry_run, entered_at, control, step, next_due_at)
               SELECT :pid, m.user_id, :dry, :now, wb_program_control(m.user_id), 0, :due
               FROM temp.program_members m
               WHERE NOT EXISTS (SELECT 1 FROM program_entries e WHERE e.program_id = :pid AND e.dry_run = :dry
                                 AND e.user_id = m.user_id
                                 AND (e.state = 'active' OR :since IS NULL OR e.left_at > :since))
               ORDER BY m.user_id""",
            {"pid": program.id, "dry": int(program.dry_run), "now": now, "due": now + first_wait, "since": since})
        report.entered = int(cur.rowcount)
        report.control_entered = int(db.execute(
            "SELECT COUNT(*) FROM program_entries WHERE program_id = ? AND dry_run = ? AND entered_at = ? "
            "AND control = 1", [program.id, int(program.dry_run), now]).fetchone()[0]) if report.entered else 0
        db.execute("DROP TABLE temp.program_members")


def _dispatch_open(db: sqlite_utils.Database, config: Config, program: store.Program, channels: dict[str, Channel],
                   report: RunReport, notice: Callable[[str], None] | None, hold: lock.Hold) -> None:
    """Dispatch every run of the step campaigns that has work due, oldest first."""
    open_states = ledger.in_list(ledger.OPEN)
    now = now_ts()
    for step in program.steps:
        for channel, cid in step.campaigns.items():
            runs = [r[0] for r in db.execute(
                f"SELECT DISTINCT run FROM sends WHERE campaign_id = ? AND status IN {open_states} ORDER BY run",
                [cid])]
            for run_no in runs:
                # our hold on the program, renewed here and between batches (a long real send must not look
                # abandoned); taken over after a batch outlasted the stale window: the other runner goes on alone
                if not hold.still_ours():
                    _taken_over(report, hold)
                    return
                with immediate(db):
                    ensure_running(db, cid, now=now)
                status = ledger.campaign_status(db, cid)
                if status != CampaignStatus.RUNNING:
                    report.problems.append(f"step {step.name} ({channel}) is {status}: "
                                           + (db.execute("SELECT pause_reason FROM campaigns WHERE id = ?",
                                                         [cid]).fetchone()[0] or ""))
                    break
                dry = bool(db.execute("SELECT dry_run FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                                      [cid, run_no]).fetchone()[0])
                campaign = model.get(db, cid)
                # a run of the other mode (a dry run interrupted before the program was started for real) gets a
                # channel of its own mode: never the real transport for dry-run rows
                opts = DispatchOptions(channel=channels[channel] if dry == program.dry_run else None, notice=notice,
                                       should_stop=lambda: not hold.still_ours())
                summary = Dispatcher(db, config, campaign, run_no, dry_run=dry, options=opts).run_to_end()
                report.dispatch.append({"step": step.name, **summary.as_dict()})
                if hold.taken_by is not None:   # it stopped that dispatch between two batches
                    _taken_over(report, hold)
                    return
            # work left (a quiet-hours wait) keeps the campaign running for the next run; none: completed
            left = db.execute(f"SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND status IN {open_states}",
                              [cid]).fetchone()[0]
            if not left:
                ledger.move_campaign(db, cid, CampaignStatus.COMPLETED, when={CampaignStatus.RUNNING},
                                     completed_at=now_ts())




def _taken_over(report: RunReport, hold: lock.Hold) -> None:
    report.problems.append(f"taken over by another runner ({hold.taken_by}) during a long send: this run stopped "
                           "dispatching, the other goes on")


def run_due(db: sqlite_utils.Database, config: Config, *,
            notice: Callable[[str], None] | None = None) -> list[ProgramResult]:
    """Advance every running program once (cron: `winback program run-due`, and `winback campaign run-due`).
    One program's problem (a missing secret, a bad setting, a bug — named with its type) is reported and does not
    stop the others."""
    from console.errors import WinbackError

    results: list[ProgramResult] = []
    for (name,) in db.execute("SELECT name FROM programs WHERE status = 'running' ORDER BY id").fetchall():
        try:
            results.append(run(db, config, name, notice=notice).as_dict())
        except BeingRun as exc:   # cron must not mail the operator about an overlap
            results.append({"program": name, "outcome": "skipped", "reason": str(exc)})
        except WinbackError as exc:   # a missing secret (ChannelError), a bad winback.toml (ConfigError) …
            results.append({"program": name, "outcome": "error", "error": str(exc)})
        except Exception as exc:   # a bug: never silent, and the other programs still advance
            results.append(_unexpected(name, exc))
    return results


def _unexpected(name: str, exc: Exception) -> ProgramFailed:
    failed: ProgramFailed = {"program": name, "outcome": "error", "error": unexpected_words(exc)}
    trace = debug_traceback(exc)
    if trace:
        failed["traceback"] = trace
    return failed


__all__ = ["BeingRun", "RunReport", "check_channels", "control_assigner", "run", "run_due"]
