"""The demo's made-up history as the views see it: its past campaign (m018, `campaigns.simulated`) and the steps
of its recall program (fixtures/demo_program.py), both by the author SIMULATED_BY.

A run the demo started (campaign_runs.started_by = SIMULATED_BY) of a step of the simulated program shows as
"simulated" (`campaign list --all`, its tally and show, Deliveries) and names the program; a run of the same step
that the operator's own `winback program run-due` started afterwards is their dry run and shows as "dry run", as
`program show`, `why` and the person page say (console/programs/modes.py). A step holding both reads "simulated +
dry run" with counts per mode (`run_modes`). Such a step is never flagged `campaigns.simulated`: that flag makes
the uplift fit learn from a campaign's rows (console/uplift/data.py), and the program's made-up weeks must not
change the fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

import sqlite_utils

# Who made the history up (below the campaigns, the programs and the policy explanation, which all name it).
SIMULATED_BY = "demo:simulation"
# The demo's simulated program a step campaign `c` belongs to (its name), or NULL.
SIMULATED_PROGRAM_SQL = ("(SELECT p.name FROM programs p WHERE p.id = c.program_id AND p.created_by = "
                         f"'{SIMULATED_BY}')")
# The order modes are listed and the words each is said with (the program's: console/programs/modes.py).
MODE_ORDER = ("simulated", "dry run", "real")
MODE_WORDS = {"simulated": "simulated (made up by the demo)", "dry run": "dry run (yours, after the demo's weeks)",
              "real": "real"}


class ModeCount(TypedDict):
    """One mode's share of a campaign's runs (`run_modes`)."""

    mode: str          # 'simulated' (runs the demo made up), 'dry run' (the operator's own) or 'real'
    runs: int
    recipients: int    # ledger rows of those runs, holdout included
    would_send: int    # recorded sent/delivered by a run that sent nothing (simulated or dry run)
    sent: int          # really sent or delivered (real runs)


def simulated_program(db: sqlite_utils.Database, campaign_id: int) -> str | None:
    """The name of the demo's simulated program whose step this campaign is, or None."""
    row = db.execute(f"SELECT {SIMULATED_PROGRAM_SQL} FROM campaigns c WHERE c.id = ?", [campaign_id]).fetchone()
    return None if row is None else row[0]


def made_up_run(db: sqlite_utils.Database, campaign_id: int, run: int | None) -> bool:
    """Whether the demo started this run (its rows are made up), not the operator."""
    if run is None:
        return False
    row = db.execute("SELECT started_by FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                     [campaign_id, run]).fetchone()
    return row is not None and row[0] == SIMULATED_BY


def run_modes(db: sqlite_utils.Database, campaign_ids: Iterable[int]) -> dict[int, list[ModeCount]]:
    """Per campaign (of those given that are steps of the demo's simulated program): its runs counted per mode, in
    MODE_ORDER. Other campaigns are left out: each of their runs has the campaign's one mode."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    out: dict[int, list[ModeCount]] = {}
    rows = db.execute(
        "SELECT r.campaign_id, CASE WHEN NOT r.dry_run THEN 'real' WHEN r.started_by = ? THEN 'simulated' "
        "ELSE 'dry run' END AS mode, COUNT(*), "
        "SUM((SELECT COUNT(*) FROM sends s WHERE s.campaign_id = r.campaign_id AND s.run = r.run)), "
        "SUM((SELECT COUNT(*) FROM sends s WHERE s.campaign_id = r.campaign_id AND s.run = r.run "
        "     AND s.status IN ('sent', 'delivered') AND s.dry_run)), "
        "SUM((SELECT COUNT(*) FROM sends s WHERE s.campaign_id = r.campaign_id AND s.run = r.run "
        "     AND s.status IN ('sent', 'delivered') AND NOT s.dry_run)) "
        f"FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id WHERE r.campaign_id IN ({marks}) "
        f"AND {SIMULATED_PROGRAM_SQL} IS NOT NULL GROUP BY 1, 2", [SIMULATED_BY, *ids]).fetchall()
    for campaign_id, mode, runs, recipients, would_send, sent in rows:
        out.setdefault(campaign_id, []).append({"mode": mode, "runs": runs, "recipients": recipients or 0,
                                                "would_send": would_send or 0, "sent": sent or 0})
    for parts in out.values():
        parts.sort(key=lambda p: MODE_ORDER.index(p["mode"]))
    return out


def mode_words(parts: list[ModeCount]) -> str:
    """A step's mode in one word or two: 'simulated', or 'simulated + dry run' once the operator ran it too."""
    return " + ".join(p["mode"] for p in parts)


def parts_words(parts: list[ModeCount]) -> str:
    """Counts per mode in one line: 'simulated (made up by the demo): 4 runs, 247 recipients, 215 would send; dry
    run (yours, after the demo's weeks): 1 run, 7 recipients, 7 would send'."""
    def one(p: ModeCount) -> str:
        runs = f"{p['runs']:,} run{'' if p['runs'] == 1 else 's'}"
        done = f"{p['sent']:,} sent" if p["mode"] == "real" else f"{p['would_send']:,} would send"
        return (f"{MODE_WORDS[p['mode']]}: {runs}, {p['recipients']:,} recipient{'' if p['recipients'] == 1 else 's'}"
                f", {done}")

    return "; ".join(one(p) for p in parts)
