"""A program's funnel, read from its entries, its moves and the ledger (the program's current mode only).

- entered / control: entries (a user who entered twice counts twice), of which held out by hash.
- per step: taken (moves written), queued to the ledger (treated), reached (the provider took it: sent, delivered,
  bounced — in a dry run, would send), held out (control, recorded `holdout`), skipped by reason (the program's:
  `only`, opted_out, no_consent, no_address; and the pipeline's: the ledger row's reason — consent, caps, …), returned before
  the next step was due, treated and control apart (console/programs/curve.py).
- states: still waiting (active), returned, opted_out, unreachable, finished, stopped.
- returned rate, treated against control: an entry counts as returned when its user has an `exit_on` event after
  entering (up to now) — treated and control entrants are admitted at the same runs, so they have had the same
  time since entry on average. The interval is console.outcomes' (Newcombe, via console.stats). The same over
  exactly the same time since entry, as a table by days since entry (7, 14, 30 …): `returned_by_days`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, cast

import sqlite_utils

from console.campaigns import ledger
from console.campaigns.spent import spent_sql
from console.clock import now_ts
from console.programs import budget, curve, store
from console.programs.budget import ProgramBudget
from console.programs.modes import Modes, modes, simulated_until
from console.users import find_user

# A step's skip reasons as `program show` and the program page say them: the program's own reasons in words (a bare
# 'only 416' read as "only 416 were skipped"), the others (no_consent, opted_out, …) by their recorded names.
SKIP_WORDS = {"only": "not matching its only rule", "ranked_out": "below its budget cut-off"}


def skip_words(skipped: Mapping[str, int]) -> str:
    """'no_consent 2,712, not matching its only rule 416': a step's skipped counts by reason, in name order."""
    return ", ".join(f"{SKIP_WORDS.get(reason, reason)} {n:,}" for reason, n in sorted(skipped.items()))


class ArmReturns(TypedDict):
    users: int
    returned: int
    rate: float | None


class Comparison(TypedDict):
    """Returned rate treated vs control (`comparison`); the test's figures only when both arms have users."""

    treated: ArmReturns
    control: ArmReturns
    cost: float
    lift: NotRequired[float | None]
    p_value: NotRequired[float | None]
    ci_low: NotRequired[float | None]
    ci_high: NotRequired[float | None]
    significant: NotRequired[bool]
    extra_returned: NotRequired[float | None]
    cost_per_extra_returned: NotRequired[float | None]


class Funnel(TypedDict):
    """A program's funnel (`winback programs funnel --json`, the program page): see the module's docstring."""

    program: str
    status: str
    pause_reason: str | None       # why winback paused it (its budget was spent); None otherwise
    dry_run: bool
    as_of: int
    budget: ProgramBudget          # budget, spent, remaining (this mode): console/programs/budget.py
    simulated: bool                # a dry run whose history is the demo's, made up (simulated_note says so)
    modes: Modes | None            # … its made-up part and the operator's own dry run after it, counted apart
    entered: int
    control: int
    treated: int
    still_waiting: int
    returned: int
    returned_before_first_step: int
    exited: dict[str, int]         # entries per state they left in
    steps: list[dict[str, Any]]    # per step: taken, queued, holdout, reached, cost, skipped, waiting, returns…
    cost: float
    comparison: Comparison
    returned_by_days: list[curve.DayPoint]


def funnel(db: sqlite_utils.Database, name: str) -> Funnel:
    program = store.get(db, name)
    pid, dry = program.id, int(program.dry_run)
    now = now_ts()
    states = dict(db.execute("SELECT state, COUNT(*) FROM program_entries WHERE program_id = ? AND dry_run = ? "
                             "GROUP BY state", [pid, dry]).fetchall())
    entered, control = db.execute("SELECT COUNT(*), COALESCE(SUM(control), 0) FROM program_entries "
                                  "WHERE program_id = ? AND dry_run = ?", [pid, dry]).fetchone()
    accepted = ledger.in_list(ledger.ACCEPTED)
    # a refused or given-back row keeps the cost booked at its claim; one failed by a receipt was billed
    spent = spent_sql("s")
    steps: list[dict[str, Any]] = []
    for step in program.steps:
        row = db.execute(
            f"""SELECT COUNT(*),
                       COALESCE(SUM(m.outcome = 'queued'), 0),
                       COALESCE(SUM(m.outcome = 'holdout'), 0),
                       COALESCE(SUM(s.status IN {accepted}), 0),
                       COALESCE(SUM(CASE WHEN {spent} THEN s.cost END), 0)
                FROM program_moves m JOIN program_entries e ON e.id = m.entry_id
                LEFT JOIN sends s ON s.campaign_id = m.campaign_id AND s.run = m.run AND s.user_id = e.user_id
                WHERE e.program_id = ? AND e.dry_run = ? AND m.step = ?""", [pid, dry, step.index]).fetchone()
        skipped: dict[str, int] = dict(db.execute(
            "SELECT m.reason, COUNT(*) FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
            "WHERE e.program_id = ? AND e.dry_run = ? AND m.step = ? AND m.outcome = 'skipped' GROUP BY m.reason",
            [pid, dry, step.index]).fetchall())
        for reason, n in db.execute(
                "SELECT COALESCE(s.reason, s.status), COUNT(*) FROM program_moves m "
                "JOIN program_entries e ON e.id = m.entry_id "
                "JOIN sends s ON s.campaign_id = m.campaign_id AND s.run = m.run AND s.user_id = e.user_id "
                "WHERE e.program_id = ? AND e.dry_run = ? AND m.step = ? AND m.outcome = 'queued' "
                "AND s.status IN ('skipped', 'failed', 'cancelled') GROUP BY 1", [pid, dry, step.index]):
            skipped[reason] = skipped.get(reason, 0) + n
        waiting = db.execute(
            "SELECT COUNT(*) FROM program_entries WHERE program_id = ? AND dry_run = ? AND state = 'active' "
            "AND step = ?", [pid, dry, step.index]).fetchone()[0]
        steps.append({"step": step.name, "channels": step.channels, "taken": row[0], "queued": row[1],
                      "holdout": row[2], "reached": row[3], "cost": round(row[4], 4), "skipped": skipped,
                      "waiting": waiting})
    # per step, who returned before the next step was due (treated and control apart): console/programs/curve.py
    for counts, returns in zip(steps, curve.returned_per_step(db, program, now), strict=True):
        counts["returned_before_next"] = returns["treated"]["returned"] + returns["control"]["returned"]
        counts["returns"] = {k: v for k, v in returns.items() if k != "step"}
    scanned = curve.scan(db, program, now)   # one pass over the entries for both comparisons
    returned_before_any = db.execute(
        "SELECT COUNT(*) FROM program_entries WHERE program_id = ? AND dry_run = ? AND state = 'returned' "
        "AND step = 0", [pid, dry]).fetchone()[0]
    return {
        "program": program.name, "status": program.status, "pause_reason": program.pause_reason,
        "dry_run": program.dry_run, "as_of": now, "budget": budget.state(db, program),
        "simulated": program.simulated and program.dry_run, "modes": modes(db, program),
        "entered": entered, "control": control, "treated": entered - control,
        "still_waiting": states.get("active", 0), "returned": states.get("returned", 0),
        "returned_before_first_step": returned_before_any,
        "exited": {k: v for k, v in states.items() if k != "active"},
        "steps": steps, "cost": round(sum(s["cost"] for s in steps), 4),
        "comparison": comparison(db, program, now, scanned),
        "returned_by_days": curve.by_days_since_entry(db, program, now, scanned),
    }


def comparison(db: sqlite_utils.Database, program: store.Program, now: int,
               scanned: curve.Scan | None = None) -> Comparison:
    """Returned rate treated vs control (every entry, intention to treat) with lift, p-value and interval."""
    from console.outcomes import ArmOutcome, compare
    from console.stats import rate

    counts = scanned if scanned is not None else curve.scan(db, program, now)
    arms = {arm: (counts[arm][0], counts[arm][1]) for arm in (0, 1)}
    # a refused or given-back row keeps the cost booked at its claim: spent is what was handed over, or taken and
    # failed by a receipt its provider bills (console.campaigns.spent, as budgets count)
    cost = db.execute("SELECT COALESCE(SUM(s.cost), 0) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                      f"WHERE c.program_id = ? AND s.dry_run = ? AND {spent_sql('s')}",
                      [program.id, int(program.dry_run)]).fetchone()[0]

    def arm(label: str, key: int, spent: float) -> ArmOutcome:
        users, returned = arms[key]
        return ArmOutcome(arm=label, users=users, reached=0, converters=returned, rate=rate(returned, users),
                          revenue=0.0, revenue_per_user=None, redemptions=0, cost=spent)

    treated, control = arm("treated", 0, float(cost)), arm("control", 1, 0.0)
    result: Comparison = {
        "treated": {"users": treated.users, "returned": treated.converters, "rate": treated.rate},
        "control": {"users": control.users, "returned": control.converters, "rate": control.rate},
        "cost": round(float(cost), 4),
    }
    if treated.users and control.users:
        c = compare(treated, control)
        result.update({"lift": c.absolute_lift, "p_value": c.p_value, "ci_low": c.ci_low, "ci_high": c.ci_high,
                       "significant": c.significant, "extra_returned": c.incremental_conversions,
                       "cost_per_extra_returned": c.cost_per_incremental})
    return result


class EntryPath(TypedDict):
    """One entry of a user in a program: where it is, or how it left, and its moves (with their ledger rows)."""

    entered_at: int
    control: bool
    state: str
    next_step: str | None
    next_due_at: int | None
    left_at: int | None
    left_reason: str | None
    moves: list[dict[str, Any]]


class WhereIs(TypedDict):
    program: str
    user: str                  # external id
    user_id: int
    dry_run: bool
    simulated: bool            # a dry run whose weeks the demo made up (as Funnel's): nothing of it was sent
    budget: ProgramBudget      # a step message recorded `over_budget` was not sent for want of it
    pause_reason: str | None   # the program is paused by winback (its budget was spent): next steps wait
    entries: list[EntryPath]


def where_is(db: sqlite_utils.Database, name: str, user_ref: str) -> WhereIs:
    """Where one user is in a program and why: every entry (current mode) with its steps taken or skipped, the
    ledger row of each, the next step and when it is due, or why they left."""
    program = store.get(db, name)
    user = find_user(db, user_ref)
    entries: list[EntryPath] = []
    until = simulated_until(db, program)   # the demo's made-up part ends there; later moves are the operator's
    for e in db.query("SELECT * FROM program_entries WHERE program_id = ? AND dry_run = ? AND user_id = ? "
                      "ORDER BY id", [program.id, int(program.dry_run), user["id"]]):
        moves = [dict(m) for m in db.query(
            "SELECT m.step, m.at, m.due_at, m.outcome, m.reason, m.channel, m.run, s.status AS ledger_status, "
            "s.reason AS ledger_reason FROM program_moves m LEFT JOIN sends s ON s.campaign_id = m.campaign_id "
            "AND s.run = m.run AND s.user_id = ? WHERE m.entry_id = ? ORDER BY m.step", [user["id"], e["id"]])]
        for m in moves:
            step = program.steps[m["step"]]
            m.update(step_name=step.name, rule=step.only, rank_by=step.rank_by,
                     mode="real" if not program.dry_run else "simulated" if until and m["at"] <= until else "dry run")
        nxt = program.steps[e["step"]].name if e["state"] == "active" and e["step"] < len(program.steps) else None
        entries.append({"entered_at": e["entered_at"], "control": bool(e["control"]), "state": e["state"],
                        "next_step": nxt, "next_due_at": e["next_due_at"], "left_at": e["left_at"],
                        "left_reason": e["left_reason"], "moves": moves})
    return {"program": program.name, "user": user["external_id"], "user_id": user["id"],
            "dry_run": program.dry_run, "simulated": program.simulated and program.dry_run,
            "budget": budget.state(db, program), "pause_reason": program.pause_reason if program.status == "paused" else None, "entries": entries}


class ProgramEntry(TypedDict):
    """Where a user is in one program (`programs_of`)."""

    program: str
    status: str                # the program's
    dry_run: bool
    simulated: bool            # a dry run whose weeks the demo made up (store.SIMULATED_BY): nothing was sent
    state: str                 # the entry's: active, returned, opted_out, …
    step: int                  # steps taken
    control: bool
    entered_at: int
    next_due_at: int | None
    left_at: int | None
    left_reason: str | None
    next_step: str | None
    steps: int                 # how many the program has


def programs_of(db: sqlite_utils.Database, user_ref: str) -> list[ProgramEntry]:
    """Every program a user entered (each program's current mode), latest entry first: where they are now —
    the next step and when it is due, or how they left. For the console's person page."""
    user = find_user(db, user_ref)
    rows = []
    for e in db.query(
            "SELECT p.name AS program, p.status, p.dry_run, p.dry_run AND p.created_by = ? AS simulated, e.state, "
            "e.step, e.control, e.entered_at, e.next_due_at, e.left_at, e.left_reason FROM program_entries e JOIN programs p ON p.id = e.program_id "
            "WHERE e.user_id = ? AND e.dry_run = p.dry_run ORDER BY e.entered_at DESC, e.id DESC",
            [store.SIMULATED_BY, user["id"]]):
        steps = [r[0] for r in db.execute(
            "SELECT name FROM program_steps WHERE program_id = (SELECT id FROM programs WHERE name = ?) "
            "ORDER BY step", [e["program"]])]
        rows.append(cast(ProgramEntry, {**e, "control": bool(e["control"]), "dry_run": bool(e["dry_run"]),
                     # an entry of the operator's own run-due after the demo's weeks is their dry run, not made up
                     "simulated": bool(e["simulated"]) and e["entered_at"] <= (
                         simulated_until(db, store.get(db, e["program"])) or e["entered_at"]),
                     "next_step": steps[e["step"]] if e["state"] == "active" and e["step"] < len(steps) else None,
                     "steps": len(steps)}))
    return rows


TIMELINE_KEYS = ("entered", "messaged", "held_out", "skipped", "returned", "left")


class TimelineDay(TypedDict):
    day: str                   # YYYY-MM-DD in the workspace's zone
    entered: int
    messaged: int
    held_out: int
    skipped: int
    returned: int
    left: int


def timeline(db: sqlite_utils.Database, name: str, tz: str | None) -> list[TimelineDay]:
    """Per day (in the workspace's zone), the program's current mode: entrants, step messages queued to the
    ledger, held out (control), steps skipped, users who returned, users who left otherwise. A program run writes
    all its moves with one time, so the queries group a handful of distinct times, not every user."""
    from console.timefmt import local_date

    program = store.get(db, name)
    ids = [program.id, int(program.dry_run)]
    days: dict[str, dict[str, int]] = {}

    def add(ts: int, key: str, n: int) -> None:
        day = days.setdefault(local_date(ts, tz), dict.fromkeys(TIMELINE_KEYS, 0))
        day[key] += n

    for at, n in db.execute("SELECT entered_at, COUNT(*) FROM program_entries WHERE program_id = ? AND dry_run = ? "
                            "GROUP BY entered_at", ids):
        add(at, "entered", n)
    moved = {"queued": "messaged", "holdout": "held_out", "skipped": "skipped"}
    for at, outcome, n in db.execute(
            "SELECT m.at, m.outcome, COUNT(*) FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
            "WHERE e.program_id = ? AND e.dry_run = ? GROUP BY m.at, m.outcome", ids):
        add(at, moved.get(outcome, "skipped"), n)
    for at, state, n in db.execute(
            "SELECT left_at, state, COUNT(*) FROM program_entries WHERE program_id = ? AND dry_run = ? "
            "AND left_at IS NOT NULL GROUP BY left_at, state", ids):
        add(at, "returned" if state == "returned" else "left", n)
    return [cast(TimelineDay, {"day": day, **counts}) for day, counts in sorted(days.items())]


def taken_per_step(db: sqlite_utils.Database, name: str) -> list[int]:
    """How many entries took each step (current mode) — the console list's small funnel, without the ledger
    joins of `funnel()` (the list polls it)."""
    program = store.get(db, name)
    taken = dict(db.execute(
        "SELECT m.step, COUNT(*) FROM program_entries e JOIN program_moves m ON m.entry_id = e.id "
        "WHERE e.program_id = ? AND e.dry_run = ? GROUP BY m.step", [program.id, int(program.dry_run)]).fetchall())
    return [int(taken.get(step.index, 0)) for step in program.steps]


SIMULATED_NOTE = ("SIMULATED (demo): its dry-run weeks before the demo's today and the orders some entrants placed "
                  f"after entering (events from {store.SIMULATED_BY}) are made up — nothing was sent")


def mode_of(dry_run: bool | int, simulated: bool | int = False) -> str:
    """How a program runs, as every view names it: 'real', 'dry run', or 'simulated' (a dry run whose history the
    demo made up; once started for real it is real)."""
    return "real" if not dry_run else "simulated" if simulated else "dry run"
