"""Which part of the demo's simulated program is made up and which is the operator's own dry run.

The demo runs its ladder over four weeks before its 'today' as `demo:simulation` (fixtures/demo_program.py); an
operator's `winback program run-due` afterwards keeps the same dry-run entries going (entries are per mode), so one
program holds both. The made-up part ends with the last step run the demo started (campaign_runs.started_by): every
entry and step taken up to it is simulated, every later one is the operator's dry run. Nothing simulated is shown
as the operator's and nothing of the operator's as made up.
"""

from __future__ import annotations

from typing import TypedDict

import sqlite_utils

from console.programs.store import SIMULATED_BY, Program
from console.simulated import MODE_WORDS


class ModePart(TypedDict):
    mode: str            # "simulated" (made up by the demo) or "dry run" (the operator's)
    entered: int         # entries that joined in this part
    steps_taken: int     # steps taken (queued, control or skipped) in this part


class Modes(TypedDict):
    simulated_until: int | None   # the demo's last run (epoch seconds): later entries and steps are the operator's
    parts: list[ModePart]         # the simulated part, then the operator's dry run when there is one


def modes(db: sqlite_utils.Database, program: Program) -> Modes | None:
    """The simulated and dry-run parts of the demo's simulated program (counted), or None for any other program
    (its mode is one: real or dry run)."""
    if not program.simulated:
        return None
    until = simulated_until(db, program)
    limit = -1 if until is None else int(until)
    entered_sim, entered_own = db.execute(
        "SELECT COALESCE(SUM(entered_at <= ?), 0), COALESCE(SUM(entered_at > ?), 0) FROM program_entries "
        "WHERE program_id = ? AND dry_run = 1", [limit, limit, program.id]).fetchone()
    moves_sim, moves_own = db.execute(
        "SELECT COALESCE(SUM(m.at <= ?), 0), COALESCE(SUM(m.at > ?), 0) FROM program_moves m "
        "JOIN program_entries e ON e.id = m.entry_id WHERE e.program_id = ? AND e.dry_run = 1",
        [limit, limit, program.id]).fetchone()
    parts: list[ModePart] = [{"mode": "simulated", "entered": entered_sim, "steps_taken": moves_sim}]
    if entered_own or moves_own:
        parts.append({"mode": "dry run", "entered": entered_own, "steps_taken": moves_own})
    return {"simulated_until": until, "parts": parts}


def simulated_until(db: sqlite_utils.Database, program: Program) -> int | None:
    """When the demo's made-up part of its simulated program ends (its last step run), or None for any other
    program: every entry and step up to it is simulated, every later one the operator's dry run."""
    if not program.simulated:
        return None
    until = db.execute(
        "SELECT MAX(r.started_at) FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id "
        "WHERE c.program_id = ? AND r.started_by = ?", [program.id, SIMULATED_BY]).fetchone()[0]
    if until is None:   # the demo's runs queued no step: its entries still date its part (each run's clock)
        until = db.execute("SELECT MAX(entered_at) FROM program_entries WHERE program_id = ? AND dry_run = 1",
                           [program.id]).fetchone()[0]
    return None if until is None else int(until)


def mode_words(m: Modes) -> str:
    """The program's mode for a heading: 'simulated', or 'simulated + dry run' once the operator ran it too."""
    return " + ".join(p["mode"] for p in m["parts"])


def parts_words(m: Modes) -> str:
    """Counts per mode in one line: 'simulated (made up by the demo): 6,203 entered, 14,000 steps taken; dry run
    (yours, after it): 150 entered, 354 steps taken — nothing was sent'."""
    return "; ".join(f"{MODE_WORDS[p['mode']]}: {p['entered']:,} entered, {p['steps_taken']:,} steps taken"
                     for p in m["parts"]) + " — nothing was sent"
