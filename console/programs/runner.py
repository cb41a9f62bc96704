"""One program run: exits, new entrants, the steps that are due, then the step campaigns' dispatch.

Order within a run (each numbered part is one write transaction, so a crash leaves a consistent state):

1. Exits: an active entry whose user has an `exit_on` event after entering (and not after now) is `returned`;
   then one whose user opted out of every channel of their next step is `opted_out` (console/programs/optouts.py).
2. Admission: users the entry rule (or segment) matches now who have no active entry in this program (same mode)
   and did not leave it within `reentry` (never, when the program has no reentry) enter, with their step-1 due
   time; control (by hash of the program's salt and the user id) is fixed at entry.
3. Steps, last to first, one transaction per step: entries whose step is due. `only` rules are checked (the others
   skip the step, recorded, and go on); each user gets the step on the first of its channels where they have an
   address and are not blocked (suppression, consent: console.policy.blocked) — nobody reachable: the entry ends
   `opted_out` (blocked somewhere) or `unreachable` (no address). Then the ledger rows (a new run of the step's
   internal campaign with exactly these users; control users' rows `holdout`), the moves (program_moves, keyed by
   entry and step) and the entries' next step are written together. Going last to first means a user moved on in
   this run is not looked at again by the next step's pass: one step per user per run, never twice; a step missed
   while winback was not run is taken at the next run, and the following one falls due from its own due time.
4. Dispatch: every run of the step campaigns with work left goes through the campaign dispatcher (consent,
   suppression, caps, quiet hours, budget, brakes, the at-most-once hand-off) — also runs left open by an earlier
   run that crashed or was waiting on quiet hours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from console import audit
from console.campaigns import ledger, model
from console.campaigns.dispatch import Dispatcher, DispatchOptions
from console.campaigns.ledger import CampaignStatus, SendState
from console.channel_names import ADDRESS_COLUMN
from console.channels import Channel, open_channel
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput
from console.programs import store
from console.programs.optouts import exit_opted_out
from console.programs.spec import entry_members_sql, rule_members_sql
from storage.tx import immediate

DAY = 86_400
BATCH = "program_batch"


@dataclass
class RunReport:
    program: str
    dry_run: bool
    at: int
    returned: int = 0
    entered: int = 0
    control_entered: int = 0
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)   # step name -> counts
    exited: dict[str, int] = field(default_factory=dict)             # opted_out / unreachable / finished
    dispatch: list[dict[str, Any]] = field(default_factory=list)     # the step campaigns' summaries
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"outcome": "ran", **asdict(self)}


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
    holder = _take(db, program)
    if holder:
        raise BeingRun(f"program {name!r} is being run by another process ({holder})")
    try:
        return _run(db, config, program, notice)
    finally:
        _leave(db, program)


class BeingRun(BadInput):
    """Another process is running this program right now (two cron run-dues overlapping): not an error."""


def _lock_key(program: store.Program) -> str:
    return f"program.runner.{program.id}"


def _take(db: sqlite_utils.Database, program: store.Program) -> str | None:
    """Become the program's runner unless a live process already is (its host:pid then). One runner per program
    keeps two overlapping run-dues from dispatching the same step run side by side (the channel's rate limit)."""
    from console.campaigns.runs import HEARTBEAT_STALE, dispatcher_id

    me, now = dispatcher_id(), now_ts()
    with immediate(db):
        row = db.execute("SELECT value FROM settings WHERE key = ?", [_lock_key(program)]).fetchone()
        if row:
            holder, _, since = str(row[0]).rpartition("@")
            alive = holder != me and since.isdigit() and int(since) >= now - HEARTBEAT_STALE and _alive(holder)
            if alive:
                return holder
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [_lock_key(program), f"{me}@{now}"])
    return None


def _alive(holder: str) -> bool:
    """A runner on this host whose process still exists (another host's: presumed alive until stale)."""
    import os
    import socket

    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leave(db: sqlite_utils.Database, program: store.Program) -> None:
    from console.campaigns.runs import dispatcher_id

    with immediate(db):
        db.execute("DELETE FROM settings WHERE key = ? AND value LIKE ?", [_lock_key(program), f"{dispatcher_id()}@%"])


def _run(db: sqlite_utils.Database, config: Config, program: store.Program,
         notice: Callable[[str], None] | None) -> RunReport:
    channels = _open_channels(program, config)
    try:
        now = now_ts()
        report = RunReport(program.name, program.dry_run, now)
        _exits(db, program, now, report)
        opted_out = exit_opted_out(db, config, program, now)
        if opted_out:
            report.exited["opted_out"] = opted_out
        _admit(db, program, now, report)
        for step in reversed(program.steps):
            _take_step(db, config, program, step, now, report)
        with immediate(db):
            db.execute("UPDATE programs SET last_run_at = ? WHERE id = ?", [now, program.id])
            audit.record(db, "program.run", program=program.name, real=not program.dry_run, entered=report.entered,
                         returned=report.returned, steps={k: v.get("queued", 0) + v.get("holdout", 0)
                                                          for k, v in report.steps.items()},
                         exited=report.exited)
        _dispatch_open(db, config, program, channels, report, notice)
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


def _take_step(db: sqlite_utils.Database, config: Config, program: store.Program, step: store.Step, now: int,
               report: RunReport) -> None:
    from console.policy.blocked import blocked_user_ids

    counts: dict[str, Any] = {"queued": 0, "holdout": 0, "skipped": {}}
    last = step.index == len(program.steps) - 1
    next_wait = 0 if last else program.steps[step.index + 1].wait_days * DAY
    with immediate(db):
        due = db.execute(
            "SELECT id, user_id, control, next_due_at FROM program_entries WHERE program_id = ? AND dry_run = ? "
            "AND state = 'active' AND step = ? AND next_due_at <= ? ORDER BY user_id",
            [program.id, int(program.dry_run), step.index, now]).fetchall()
        if not due:
            return
        passing = {r[1] for r in due}
        if step.only:
            passing = _matching(db, step.only, [r[1] for r in due])
        # user -> (channel, address) on the first usable channel; reasons for those with none
        chosen: dict[int, tuple[str, str]] = {}
        opted_out: set[int] = set()       # blocked somewhere by a suppression or a withdrawn consent
        no_consent: set[int] = set()      # blocked somewhere only for want of a consent
        candidates = [r[1] for r in due if r[1] in passing]
        for channel in step.channels:
            left = [u for u in candidates if u not in chosen]
            if not left:
                break
            addresses = _addresses(db, channel, left)
            with_address = [(u, a) for u, a in addresses.items() if a]
            blocked = blocked_user_ids(db, config, channel, with_address)
            refused = _refused(db, channel, [(u, a) for u, a in with_address if u in blocked])
            opted_out |= refused
            no_consent |= blocked - refused
            for u, a in with_address:
                if u not in blocked:
                    chosen[u] = (channel, a)
        moves: list[tuple[Any, ...]] = []     # (entry_id, step, at, due_at, outcome, reason, channel)
        by_channel: dict[str, list[tuple[int, str, str]]] = {}   # channel -> (user, arm, address)
        leaving: dict[int, str] = {}          # entry_id -> state
        for entry_id, user_id, control, due_at in due:
            if user_id not in passing:
                moves.append((entry_id, step.index, now, due_at, "skipped", "only", None))
                counts["skipped"]["only"] = counts["skipped"].get("only", 0) + 1
                continue
            if user_id not in chosen:
                # nobody reachable on any channel of the step: the entry ends (opted out, or unreachable)
                why = ("opted_out" if user_id in opted_out else "no_consent" if user_id in no_consent
                       else "no_address")
                moves.append((entry_id, step.index, now, due_at, "skipped", why, None))
                counts["skipped"][why] = counts["skipped"].get(why, 0) + 1
                leaving[entry_id] = "opted_out" if why == "opted_out" else "unreachable"
                continue
            channel, address = chosen[user_id]
            outcome = "holdout" if control else "queued"
            moves.append((entry_id, step.index, now, due_at, outcome, None, channel))
            by_channel.setdefault(channel, []).append((user_id, "holdout" if control else "A", address))
            counts[outcome] += 1
        runs = {channel: _freeze(db, program, step, channel, rows, now) for channel, rows in by_channel.items()}
        db.conn.executemany(
            "INSERT INTO program_moves (entry_id, step, at, due_at, outcome, reason, channel, campaign_id, run) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*m, step.campaigns[m[6]] if m[6] else None, runs.get(m[6]) if m[6] else None) for m in moves])
        for entry_id, state in leaving.items():
            db.execute("UPDATE program_entries SET state = ?, left_at = ?, left_reason = ?, next_due_at = NULL "
                       "WHERE id = ?", [state, now, f"step {step.name}: no usable channel", entry_id])
            report.exited[state] = report.exited.get(state, 0) + 1
        moved = [r[0] for r in due if r[0] not in leaving]
        if last:
            db.execute("UPDATE program_entries SET state = 'finished', left_at = ?, left_reason = 'last step', "
                       "step = step + 1, next_due_at = NULL WHERE id IN (SELECT value FROM json_each(?))",
                       [now, json.dumps(moved)])
            if moved:
                report.exited["finished"] = report.exited.get("finished", 0) + len(moved)
        else:
            # the next step falls due from this step's due time, not from when this run took it
            db.execute("UPDATE program_entries SET step = step + 1, next_due_at = next_due_at + ? "
                       "WHERE id IN (SELECT value FROM json_each(?))", [next_wait, json.dumps(moved)])
    report.steps[step.name] = counts


def _refused(db: sqlite_utils.Database, channel: str, pairs: list[tuple[int, str]]) -> set[int]:
    """Of these blocked (user, address) pairs, those who said no: a suppression in force (user or address, this
    channel or 'all') or a latest consent `withdrawn` — as against merely having no consent on record."""
    if not pairs:
        return set()
    from console.policy.blocked import refused_sql

    said_no = refused_sql("(p.value ->> '$[0]')", "(p.value ->> '$[1]')", ":ch")
    return {r[0] for r in db.execute(f"SELECT p.value ->> '$[0]' FROM json_each(:pairs) p WHERE {said_no}",
                                     {"pairs": json.dumps(pairs), "ch": channel})}


def _matching(db: sqlite_utils.Database, rule: str, user_ids: list[int]) -> set[int]:
    sql, params = rule_members_sql(db, rule)
    db.execute("DROP TABLE IF EXISTS temp.program_only")
    db.execute("CREATE TEMP TABLE program_only (user_id INTEGER PRIMARY KEY)")
    db.conn.executemany("INSERT OR IGNORE INTO temp.program_only VALUES (?)", [(u,) for u in user_ids])
    found = {r[0] for r in db.execute(
        f"SELECT o.user_id FROM temp.program_only o WHERE o.user_id IN ({sql})", params)}
    db.execute("DROP TABLE temp.program_only")
    return found


def _addresses(db: sqlite_utils.Database, channel: str, user_ids: list[int]) -> dict[int, str | None]:
    column = ADDRESS_COLUMN[channel]
    return {r[0]: r[1] for r in db.execute(
        f"SELECT id, {column} FROM users WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(user_ids)])}


def _freeze(db: sqlite_utils.Database, program: store.Program, step: store.Step, channel: str,
            rows: list[tuple[int, str, str]], now: int) -> int:
    """A new run of the step's campaign on `channel` with exactly these users (inside the step's transaction).
    Returns the run number."""
    cid = step.campaigns[channel]
    dry = int(program.dry_run)
    run = int(db.execute("SELECT COALESCE(MAX(run), 0) + 1 FROM campaign_runs WHERE campaign_id = ?",
                         [cid]).fetchone()[0])
    db.execute("INSERT INTO campaign_runs (campaign_id, run, dry_run, started_at, started_by) VALUES (?, ?, ?, ?, ?)",
               [cid, run, dry, now, audit.current_operator()])
    db.execute(f"DROP TABLE IF EXISTS temp.{BATCH}")
    db.execute(f"CREATE TEMP TABLE {BATCH} (user_id INTEGER PRIMARY KEY, arm TEXT, address TEXT)")
    db.conn.executemany(f"INSERT INTO temp.{BATCH} VALUES (?, ?, ?)", rows)
    ledger.freeze_audience(db, f"SELECT user_id, arm, address FROM temp.{BATCH}", "user_id",
                           {"wb_cid": cid, "wb_run": run, "wb_channel": channel, "wb_dry": dry,
                            "wb_caps": int(not program.dry_run), "wb_now": now})
    db.execute(f"DROP TABLE temp.{BATCH}")
    # features as at send time, as every campaign freeze records them: program steps are uplift training data too
    from console.uplift.features import record_features

    record_features(db, cid, run, now)
    _ensure_running(db, cid, dry_run=dry, now=now)
    return run


def _ensure_running(db: sqlite_utils.Database, cid: int, *, dry_run: int | None = None, now: int) -> None:
    """A step campaign with work is `running` (a paused one — a brake, the program paused — stays paused)."""
    extra: dict[str, Any] = {"pause_reason": None, "completed_at": None}
    if dry_run is not None:
        extra["dry_run"] = dry_run
    if ledger.move_campaign(db, cid, CampaignStatus.RUNNING,
                            when={CampaignStatus.DRAFT, CampaignStatus.COMPLETED, CampaignStatus.SCHEDULED}, **extra):
        db.execute("UPDATE campaigns SET launched_at = COALESCE(launched_at, ?) WHERE id = ?", [now, cid])


def _dispatch_open(db: sqlite_utils.Database, config: Config, program: store.Program, channels: dict[str, Channel],
                   report: RunReport, notice: Callable[[str], None] | None) -> None:
    """Dispatch every run of the step campaigns that has work due, oldest first."""
    open_states = ledger.in_list(ledger.OPEN)
    now = now_ts()
    for step in program.steps:
        for channel, cid in step.campaigns.items():
            runs = [r[0] for r in db.execute(
                f"SELECT DISTINCT run FROM sends WHERE campaign_id = ? AND status IN {open_states} ORDER BY run",
                [cid])]
            for run_no in runs:
                _take(db, program)   # refresh our hold on the program: a long real send must not look abandoned
                with immediate(db):
                    _ensure_running(db, cid, now=now)
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
                opts = DispatchOptions(channel=channels[channel] if dry == program.dry_run else None, notice=notice)
                summary = Dispatcher(db, config, campaign, run_no, dry_run=dry, options=opts).run_to_end()
                report.dispatch.append({"step": step.name, **summary.as_dict()})
            # work left (a quiet-hours wait) keeps the campaign running for the next run; none: completed
            left = db.execute(f"SELECT COUNT(*) FROM sends WHERE campaign_id = ? AND status IN {open_states}",
                              [cid]).fetchone()[0]
            if not left:
                ledger.move_campaign(db, cid, CampaignStatus.COMPLETED, when={CampaignStatus.RUNNING},
                                     completed_at=now_ts())


def run_due(db: sqlite_utils.Database, config: Config, *,
            notice: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Advance every running program once (cron: `winback program run-due`, and `winback campaign run-due`).
    One program's problem (a missing secret, …) is reported and does not stop the others."""
    from console.channels import ChannelError
    from console.errors import WinbackError

    results: list[dict[str, Any]] = []
    for (name,) in db.execute("SELECT name FROM programs WHERE status = 'running' ORDER BY id").fetchall():
        try:
            results.append(run(db, config, name, notice=notice).as_dict())
        except BeingRun as exc:   # cron must not mail the operator about an overlap
            results.append({"program": name, "outcome": "skipped", "reason": str(exc)})
        except (WinbackError, ChannelError) as exc:
            results.append({"program": name, "outcome": "error", "error": str(exc)})
    return results


__all__ = ["RunReport", "check_channels", "control_assigner", "run", "run_due"]
