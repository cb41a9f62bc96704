"""The tables of a program's page, as FitTable columns and rows (issue 18, "fits at 80 columns"): its steps as
columns (each a "mixed" column: its counts and money whole, its channel, wait and name cut with …), the per-day
timeline and the returned rate by days since entry. Counts are given as ints, so the table writes them with
thousands separators, right-aligned, and never cuts them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text

from screens.columns import Column
from screens.format import count, money
from screens.program_actions import pct

if TYPE_CHECKING:
    from console.programs.curve import DayPoint, Side
    from console.programs.funnel import Funnel, TimelineDay
    from console.programs.store import ProgramDict, StepDict

Rows = list[tuple[str, Mapping[str, Any]]]

METRICS = (("channel", "channel"), ("wait", "wait"), ("taken", "took it"), ("reached", "reached"),
           ("holdout", "control"), ("skipped", "skipped"), ("returned_treated", "returned"),
           ("returned_control", "vs control"), ("waiting", "waiting"), ("cost", "cost"))

# the metrics' names stay whole ("would send", "vs control"): they are what the row is
METRIC_COLUMN = Column("metric", "", "text", least=10)

TIMELINE_COLUMNS = (Column("day", "day", "text", least=10), Column("entered", "entered", "count"),
                    Column("messaged", "messaged", "count"), Column("held_out", "control", "count"),
                    Column("skipped", "skipped", "count"), Column("returned", "returned", "count"),
                    Column("left", "left", "count"))

CURVE_COLUMNS = (Column("days", "days in", "id"), Column("treated", "treated", "count"),
                 Column("control", "control", "count"), Column("lift", "lift", "count"),
                 Column("interval", "95% interval", "count", priority=1))


def step_columns(program: ProgramDict) -> list[Column]:
    """The metric names, then one column per step headed by its number and name (cut with … when narrow)."""
    return [METRIC_COLUMN, *(Column(f"step{k}", f"{k + 1} {s['name']}", "mixed", least=8, most=40)
                             for k, s in enumerate(program["steps"]))]


def step_rows(program: ProgramDict, funnel: Funnel, currency: str) -> Rows:
    """One row per metric, a cell per step."""
    reached = "would send" if program["dry_run"] else "reached"
    rows: Rows = []
    for key, label in METRICS:
        cells: dict[str, Any] = {"metric": Text(reached if key == "reached" else label, style="bold")}
        for k, (step, counts) in enumerate(zip(program["steps"], funnel["steps"], strict=False)):
            cells[f"step{k}"] = step_cell(key, step, counts, currency)
        rows.append((key, cells))
    return rows


def step_cell(key: str, step: StepDict, counts: Mapping[str, Any], currency: str) -> Any:
    """What step `step` shows for metric `key` (counts as ints, money and rates as right-aligned Text)."""
    if key == "channel":
        return ",".join(step["channels"])
    if key == "wait":
        return (f"+{step['wait_days']}d" + (" · only" if step["only"] else "")
                + (f" · {step['rank_by']}" if step.get("rank_by") else ""))
    if key == "skipped":
        return sum(counts["skipped"].values())
    if key == "cost":
        return Text(money(counts["cost"], currency), justify="right")
    if key in ("returned_treated", "returned_control"):
        # returned before the next step was due, of those in that arm who took the step and went on
        arm = counts["returns"]["treated" if key == "returned_treated" else "control"]
        return Text(f"{count(arm['returned'])} · {pct(arm['rate'])}" if arm["users"] else "—", justify="right")
    return int(counts[key])


def timeline_rows(days: list[TimelineDay]) -> Rows:
    """A row per day: entered, messaged, held out, skipped, returned, left."""
    return [(d["day"], dict(d)) for d in days]


def curve_rows(points: list[DayPoint]) -> Rows:
    """A row per number of days since entry: the returned rate of each arm, the lift and its 95% interval."""
    def share(arm: Side) -> Text:
        return Text(f"{pct(arm['rate'])} of {count(arm['users'])}" if arm["users"] else "—", justify="right")

    def interval(row: DayPoint) -> Text:
        low, high = row["ci_low"], row["ci_high"]
        return Text("—" if low is None or high is None else f"{low * 100:+.1f} to {high * 100:+.1f} pp",
                    justify="right")

    return [(str(r["days"]), {
        "days": Text(f"{r['days']} d", justify="right"), "treated": share(r["treated"]),
        "control": share(r["control"]),
        "lift": Text("—" if r["lift"] is None else f"{r['lift'] * 100:+.1f} pp", justify="right"),
        "interval": interval(r)}) for r in points]
