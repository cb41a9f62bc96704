"""Returns measured over the same time since entry, treated against control (issue #14's "Measuring").

- `by_days_since_entry`: at each checkpoint d (1, 3, 7, 14, 21, 30 … days), among the entries that have been in the
  program at least d days, the share whose user returned (an `exit_on` event) within d days of entering — treated
  against control, with the lift and its 95% interval (console.outcomes.compare: Newcombe, via console.stats).
  Counting only entries old enough for d keeps both arms on the same clock, whatever the admission dates.
- `returned_per_step`: per step, of the entries that took it and went on (delivered, held out, or skipped by
  `only`/ranking), how many returned after that run and before the next step was due — treated and control apart
  (for the last step: since it was taken, up to now).

Both are one query each over the program's entries (the current mode), not a pass per user in Python.
"""

from __future__ import annotations

import json
from typing import TypedDict

import sqlite_utils

from console.outcomes import ArmOutcome, compare
from console.programs import store
from console.stats import rate

DAY = 86_400
CHECKPOINTS = (1, 3, 7, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365)
# a step skipped for these reasons ended the entry (no usable channel); other skips (`only`, ranking) go on
ENDING_SKIPS = ("opted_out", "no_consent", "no_address")


class Lift(TypedDict):   # treated against control (console.outcomes.compare); None while an arm is empty
    lift: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


class Side(TypedDict):   # one arm: users, how many returned, the rate
    users: int
    returned: int
    rate: float | None


class DayPoint(Lift):   # by_days_since_entry: one checkpoint
    days: int
    treated: Side
    control: Side


class StepReturns(Lift):   # returned_per_step: one step
    step: str
    window_days: int | None   # the next step's wait; None for the last (up to now)
    treated: Side
    control: Side


def _arm(label: str, users: int, returned: int) -> ArmOutcome:
    return ArmOutcome(arm=label, users=users, reached=0, converters=returned, rate=rate(returned, users),
                      revenue=0.0, revenue_per_user=None, redemptions=0, cost=0.0)


def _lift(treated: ArmOutcome, control: ArmOutcome) -> Lift:
    if not treated.users or not control.users:
        return {"lift": None, "ci_low": None, "ci_high": None, "p_value": None}
    c = compare(treated, control)
    return {"lift": c.absolute_lift, "ci_low": c.ci_low, "ci_high": c.ci_high, "p_value": c.p_value}


def _side(arm: ArmOutcome) -> Side:
    return {"users": arm.users, "returned": arm.converters, "rate": arm.rate}


Scan = dict[int, tuple[int, ...]]   # control (0/1) -> (entries, returned up to now, then per checkpoint: in, returned)


def scan(db: sqlite_utils.Database, program: store.Program, now: int) -> Scan:
    """One pass over the program's entries (current mode): per arm, how many, how many returned up to now, and
    for each checkpoint how many have been in that long and returned within it."""
    sums = ", ".join(f"COALESCE(SUM(elapsed >= {d * DAY}), 0), "
                     f"COALESCE(SUM(elapsed >= {d * DAY} AND back <= {d * DAY}), 0)" for d in CHECKPOINTS)
    rows = db.execute(
        # MATERIALIZED: computed once per entry — inlined, the correlated MIN would run once per column
        f"""WITH e AS MATERIALIZED (
                SELECT pe.control AS control, :now - pe.entered_at AS elapsed,
                       (SELECT MIN(ev.at) FROM events ev WHERE ev.user_id = pe.user_id
                        AND ev.kind IN (SELECT value FROM json_each(:kinds))
                        AND ev.at > pe.entered_at AND ev.at <= :now) - pe.entered_at AS back
                FROM program_entries pe WHERE pe.program_id = :pid AND pe.dry_run = :dry)
            SELECT control, COUNT(*), COALESCE(SUM(back IS NOT NULL), 0), {sums} FROM e GROUP BY control""",
        {"now": now, "kinds": json.dumps(program.exit_on), "pid": program.id, "dry": int(program.dry_run)}
    ).fetchall()
    none = (0,) * (2 + 2 * len(CHECKPOINTS))
    found = {int(r[0]): tuple(int(v) for v in r[1:]) for r in rows}
    return {0: found.get(0, none), 1: found.get(1, none)}


def by_days_since_entry(db: sqlite_utils.Database, program: store.Program, now: int,
                        scanned: Scan | None = None) -> list[DayPoint]:
    """One row per checkpoint some entry has reached: days, treated and control (users old enough, returned
    within that many days, rate), lift, ci_low, ci_high, p_value."""
    counts = scanned if scanned is not None else scan(db, program, now)
    out: list[DayPoint] = []
    for k, days in enumerate(CHECKPOINTS):
        treated = _arm("treated", counts[0][2 + 2 * k], counts[0][3 + 2 * k])
        control = _arm("control", counts[1][2 + 2 * k], counts[1][3 + 2 * k])
        if not treated.users and not control.users:
            break   # nobody has been in this long: neither has anyone for the later checkpoints
        out.append({"days": days, "treated": _side(treated), "control": _side(control), **_lift(treated, control)})
    return out


def returned_per_step(db: sqlite_utils.Database, program: store.Program, now: int) -> list[StepReturns]:
    """Per step (in order): treated and control — took it and went on (users), returned before the next step
    was due (returned, rate) — and `window_days`: the next step's wait (None for the last: up to now)."""
    out: list[StepReturns] = []
    for step in program.steps:
        last = step.index == len(program.steps) - 1
        wait = None if last else program.steps[step.index + 1].wait_days * DAY
        rows = db.execute(
            f"""SELECT e.control, COUNT(*), COALESCE(SUM(EXISTS (
                       SELECT 1 FROM events ev WHERE ev.user_id = e.user_id
                       AND ev.kind IN (SELECT value FROM json_each(:kinds)) AND ev.at > m.at
                       AND ev.at <= CASE WHEN :wait IS NULL THEN :now ELSE MIN(m.due_at + :wait, :now) END)), 0)
                FROM program_moves m JOIN program_entries e ON e.id = m.entry_id
                WHERE e.program_id = :pid AND e.dry_run = :dry AND m.step = :step
                  AND (m.outcome != 'skipped' OR m.reason NOT IN ({", ".join(f"'{r}'" for r in ENDING_SKIPS)}))
                GROUP BY e.control""",
            {"kinds": json.dumps(program.exit_on), "wait": wait, "now": now, "pid": program.id,
             "dry": int(program.dry_run), "step": step.index}).fetchall()
        arms = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
        treated, control = _arm("treated", *arms.get(0, (0, 0))), _arm("control", *arms.get(1, (0, 0)))
        out.append({"step": step.name, "window_days": None if wait is None else wait // DAY,
                    "treated": _side(treated), "control": _side(control), **_lift(treated, control)})
    return out
