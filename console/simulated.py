"""The demo's made-up history as the views see it: its past campaign (m018, `campaigns.simulated`) and the steps
of its recall program (fixtures/demo_program.py), both by the author SIMULATED_BY.

A dry-run step of the simulated program shows as "simulated" (`campaign list --all`, its tally, Deliveries) and
names the program — yet is never flagged `campaigns.simulated`: that flag makes the uplift fit learn from a
campaign's rows (console/uplift/data.py), and the program's made-up weeks must not change the fit.
"""

from __future__ import annotations

import sqlite_utils

# Who made the history up (below the campaigns, the programs and the policy explanation, which all name it).
SIMULATED_BY = "demo:simulation"
# The demo's simulated program a step campaign `c` belongs to (its name), or NULL.
SIMULATED_PROGRAM_SQL = ("(SELECT p.name FROM programs p WHERE p.id = c.program_id AND p.created_by = "
                         f"'{SIMULATED_BY}')")


def simulated_program(db: sqlite_utils.Database, campaign_id: int) -> str | None:
    """The name of the demo's simulated program whose step this campaign is, or None."""
    row = db.execute(f"SELECT {SIMULATED_PROGRAM_SQL} FROM campaigns c WHERE c.id = ?", [campaign_id]).fetchone()
    return None if row is None else row[0]
