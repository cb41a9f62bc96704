"""What comes back from the outside world: delivery receipts, replies, unsubscribes (issue #8).

`receipts` is append-only: one row per provider callback, imported report line, SMS reply or one-click
unsubscribe, matched to the ledger row (`sends`) it is about when one is found. The ledger's status is advanced
from it; the brakes (console/campaigns/brakes.py) count complaints and opt-outs over a campaign's last sends from it.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m006_inbound")
def m006_inbound(db) -> None:
    db.execute(
        """
        CREATE TABLE receipts (
            id INTEGER PRIMARY KEY,
            received_at INTEGER NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('delivered', 'failed', 'bounced', 'soft_bounce',
                                               'complaint', 'reply', 'opt_out', 'unsubscribe')),
            send_id INTEGER REFERENCES sends(id),       -- NULL when no ledger row matched
            campaign_id INTEGER REFERENCES campaigns(id),
            user_id INTEGER REFERENCES users(id),
            provider_status TEXT,                       -- the provider's own word, e.g. DELIVRD
            detail TEXT,                                -- error text, or the reply's text
            source TEXT NOT NULL                        -- http, import:FILE, unsubscribe
        )
        """
    )
    db.execute("CREATE INDEX receipts_send ON receipts(send_id, kind) WHERE send_id IS NOT NULL")
    db.execute("CREATE INDEX receipts_campaign ON receipts(campaign_id, kind) WHERE campaign_id IS NOT NULL")
    # The brakes read a campaign's most recent sends.
    db.execute(
        "CREATE INDEX sends_campaign_claimed ON sends(campaign_id, claimed_at) WHERE claimed_at IS NOT NULL"
    )
    # Coupon redemptions (console/outcomes.py) start from the few events that carry a code.
    db.execute("CREATE INDEX events_coupon ON events(coupon_code, at) WHERE coupon_code IS NOT NULL")
