"""A one-off launch scheduled for a real send (issue 16: `campaign create --at WHEN --real`, the console's form).

- `campaigns.scheduled_real`: 1 while the campaign is `scheduled` for a one-off launch that the operator confirmed
  as a real send (typed count, or `--yes`); 0 for a scheduled dry run and for every other status. The ledger
  (console/campaigns/ledger.py) clears it, and `hold_reason`, when the campaign leaves `scheduled`.
- `campaigns.hold_reason`: why `winback campaign run-due` did NOT launch a scheduled real send when its time came
  (the pre-launch check failed, the audience grew past the confirmed margin, the confirmation was voided by a
  changed template or segment). NULL: not held. A held campaign stays `scheduled`; run-due skips it until the
  operator confirms again or unschedules it.
- `launch_confirmations`: what each confirmation of a scheduled real send confirmed — when the launch is due, the
  message count and estimated cost the operator saw, the transport, the content warnings accepted, and the
  `basis` (templates' versions, the segment's rule, offer, budget, ranking, holdout as JSON) whose change voids
  it; who confirmed, from where, how (typed, --yes, the console). The newest row of a campaign is the one in force.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m019_scheduled_real")
def m019_scheduled_real(db) -> None:
    db.execute("ALTER TABLE campaigns ADD COLUMN scheduled_real INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE campaigns ADD COLUMN hold_reason TEXT")
    db.execute(
        """
        CREATE TABLE launch_confirmations (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            due_at INTEGER NOT NULL,           -- the launch time confirmed (epoch seconds)
            to_send INTEGER NOT NULL,          -- messages the real plan showed and the operator confirmed
            est_cost REAL NOT NULL,
            currency TEXT,
            transport TEXT,
            warnings TEXT NOT NULL DEFAULT '[]',   -- JSON list: the content warnings accepted with it
            basis TEXT NOT NULL,               -- JSON: what the confirmation was given for
            how TEXT NOT NULL,                 -- 'typed' | 'yes' | 'console'
            confirmed_at INTEGER NOT NULL,
            confirmed_by TEXT NOT NULL,
            host TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX launch_confirmations_campaign ON launch_confirmations(campaign_id, id)")
