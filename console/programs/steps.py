"""One step of a program at one run: the entries whose step is due take it (see console/programs/runner.py).

In one write transaction: `only` rules (the others skip the step, recorded, and go on); each user's channel, the
first of the step's where they have an address and are not blocked (suppression, consent: console.policy.blocked)
— nobody reachable: the entry ends `opted_out` (blocked somewhere by a refusal) or `unreachable`; a ranked step's
budget (console/programs/ranking.py: the rest skip it, `ranked_out`, and go on); the ledger rows
(a new run of the step's internal campaign with exactly these users, control users' rows `holdout`), the moves
(program_moves, keyed by entry and step) and the entries' next step.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from console import audit
from console.campaigns import ledger
from console.campaigns.ledger import CampaignStatus
from console.channel_names import ADDRESS_COLUMN
from console.config import Config
from console.policy.blocked import blocked_user_ids, refused_sql
from console.programs import ranking, store
from console.programs.report import RunReport
from console.programs.spec import rule_members_sql
from console.uplift.features import record_features
from storage.tx import immediate

DAY = 86_400
BATCH = "program_batch"


def take_step(db: sqlite_utils.Database, config: Config, program: store.Program, step: store.Step, now: int,
               report: RunReport) -> None:
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
        if (why := ranking.refused(step, db)) is not None:
            # ranked by a model that may not be used now: nobody takes the step at this run; they stay due
            report.problems.append(f"step {step.name} waits ({len(due):,} due): {why}")
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
        out: set[int] = set()                 # ranked below the budget's cut-off (console/programs/ranking.py)
        if step.rank_by and chosen:
            out, counts["ranking"] = ranking.ranked_out(db, config, step, chosen, {r[1]: r[2] for r in due})
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
            if user_id in out:       # below the budget's cut-off: skips this step, goes on to the next
                moves.append((entry_id, step.index, now, due_at, "skipped", "ranked_out", None))
                counts["skipped"]["ranked_out"] = counts["skipped"].get("ranked_out", 0) + 1
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
    record_features(db, cid, run, now)
    ensure_running(db, cid, dry_run=dry, now=now)
    return run


def ensure_running(db: sqlite_utils.Database, cid: int, *, dry_run: int | None = None, now: int) -> None:
    """A step campaign with work is `running` (a paused one — a brake, the program paused — stays paused)."""
    extra: dict[str, Any] = {"pause_reason": None, "completed_at": None}
    if dry_run is not None:
        extra["dry_run"] = dry_run
    if ledger.move_campaign(db, cid, CampaignStatus.RUNNING,
                            when={CampaignStatus.DRAFT, CampaignStatus.COMPLETED, CampaignStatus.SCHEDULED}, **extra):
        db.execute("UPDATE campaigns SET launched_at = COALESCE(launched_at, ?) WHERE id = ?", [now, cid])
