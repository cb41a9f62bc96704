"""A recall program's budget (issue #14: every step message goes through the campaigns' budget brake).

- `programs.budget`: what the program may spend over all its steps and runs (messages' cost, in the workspace's
  currency, as a campaign's `budget`); NULL: no ceiling. The program file's top-level `budget = …`, changed later
  by `winback program budget NAME AMOUNT`.
- `programs.pause_reason`: why a paused program is paused when winback paused it itself (its budget was spent);
  NULL for an operator's pause.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m017_program_budget")
def m017_program_budget(db) -> None:
    db.execute("ALTER TABLE programs ADD COLUMN budget REAL")
    db.execute("ALTER TABLE programs ADD COLUMN pause_reason TEXT")
