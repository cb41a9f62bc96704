"""A simulated campaign (the demo's past campaign for issue 15): nothing was sent, and it says so.

- `campaigns.simulated`: 1 for a campaign whose ledger was made up (the demo's `simulated` campaign), 0 otherwise.
  Its runs and ledger rows are stored as a dry run (`dry_run = 1`, `counts_for_caps = 0`), so every count of real
  sends, spend and frequency caps leaves them out without a special case; the flag is what lets the uplift fit
  still learn from its holdout, and what shows its mode as "simulated" instead of "dry run".

A demo built before this step wrote its simulated campaign as a real one (dry_run = 0, rows 'delivered' and
counted for caps): it is marked and stored as above here, found by its author `demo:simulation`, which only the
demo writes (fixtures/demo_uplift.py).
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m018_simulated_campaign")
def m018_simulated_campaign(db) -> None:
    db.execute("ALTER TABLE campaigns ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE campaigns SET simulated = 1, dry_run = 1 WHERE created_by = 'demo:simulation'")
    db.execute("UPDATE campaign_runs SET dry_run = 1 WHERE campaign_id IN (SELECT id FROM campaigns WHERE simulated = 1)")
    db.execute("UPDATE sends SET dry_run = 1, counts_for_caps = 0, "
               "status = CASE status WHEN 'delivered' THEN 'sent' ELSE status END "
               "WHERE campaign_id IN (SELECT id FROM campaigns WHERE simulated = 1)")
