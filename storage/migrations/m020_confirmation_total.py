"""What a scheduled real send's confirmation counts (launch_confirmations, m019): the whole run, not only what goes
at once.

A run sends who quiet hours defer later (resume, run-due), and pays for them: the operator now types — and a
confirmation stores — the run's total. Rows written before this step hold what went at once only; they are kept as
they are and say so:

- `launch_confirmations.counts`: 'total' — `to_send` / `est_cost` are the whole run's (now + after quiet hours);
  'now' — a row confirmed before this step, whose `to_send` / `est_cost` counted only what would go at once.
  run-due reads an old row as the count the operator typed and compares the run's total with it
  (console/campaigns/confirmation.py); it is not voided.
- `launch_confirmations.deferred`, `deferred_cost`: of the total, how many messages (and what cost) waited for quiet
  hours to end when it was confirmed. NULL on an old row.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m020_confirmation_total")
def m020_confirmation_total(db) -> None:
    # the default is the old meaning: every row already stored was written by the now-only confirmation
    db.execute("ALTER TABLE launch_confirmations ADD COLUMN counts TEXT NOT NULL DEFAULT 'now'")
    db.execute("ALTER TABLE launch_confirmations ADD COLUMN deferred INTEGER")
    db.execute("ALTER TABLE launch_confirmations ADD COLUMN deferred_cost REAL")
