"""Campaigns, their variants, and the send ledger.

The ledger (`sends`) is the resume point of every campaign: one row per (campaign, user), created when the
audience is frozen at launch, advanced only by the dispatcher. See docs/architecture.md "The send pipeline".
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m005_campaigns")
def m005_campaigns(db) -> None:
    db.execute(
        """
        CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            segment_id INTEGER NOT NULL REFERENCES segments(id),
            channel TEXT NOT NULL,
            offer_id INTEGER REFERENCES offers(id),
            offer_by_layer INTEGER NOT NULL DEFAULT 0,
            holdout_pct REAL NOT NULL DEFAULT 10,
            budget REAL,                        -- currency units; NULL = no ceiling
            exempt_caps INTEGER NOT NULL DEFAULT 0,
            window_days INTEGER NOT NULL DEFAULT 14,   -- conversion window, fixed at creation
            conversion_kinds TEXT NOT NULL DEFAULT '["order"]',
            scheduled_at INTEGER,               -- first run; NULL = when launched
            every_days INTEGER,                 -- recurring; NULL = once
            reentry_days INTEGER,               -- never re-message within this many days
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft','scheduled','running','paused','completed','cancelled')),
            dry_run INTEGER NOT NULL DEFAULT 1,
            salt TEXT NOT NULL,                 -- fixes holdout and variant assignment by hash
            pause_reason TEXT,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            launched_at INTEGER,
            completed_at INTEGER
        )
        """
    )
    db.execute(
        """
        CREATE TABLE campaign_variants (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            label TEXT NOT NULL,                -- A, B, ...
            template_id INTEGER NOT NULL REFERENCES templates(id),
            weight INTEGER NOT NULL DEFAULT 1,
            UNIQUE (campaign_id, label)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE sends (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            run INTEGER NOT NULL DEFAULT 1,     -- which run of a recurring campaign froze this row
            arm TEXT NOT NULL,                  -- variant label, or 'holdout'
            channel TEXT NOT NULL,
            address TEXT,                       -- phone / email / token at freeze time
            status TEXT NOT NULL DEFAULT 'planned'
                CHECK (status IN ('planned','claimed','sent','delivered','failed','bounced',
                                  'deferred','unknown','skipped','cancelled','holdout')),
            reason TEXT,                        -- skip / failure reason code
            error TEXT,                         -- provider's words for a failure
            dry_run INTEGER NOT NULL,
            counts_for_caps INTEGER NOT NULL,   -- real and not exempt: frequency caps count it
            not_before INTEGER,                 -- deferred until (quiet hours, throttling)
            lease_until INTEGER,                -- a claim older than this has an unknown fate
            attempts INTEGER NOT NULL DEFAULT 0,
            payload_hash TEXT,
            parts INTEGER,
            cost REAL,
            coupon_code TEXT,
            provider_id TEXT,
            message_id TEXT,
            claimed_at INTEGER,
            sent_at INTEGER,
            updated_at INTEGER NOT NULL,
            -- a recurring campaign may reach a user again in a later run (after the re-entry period)
            UNIQUE (campaign_id, run, user_id)
        )
        """
    )
    db.execute("CREATE INDEX sends_campaign_status ON sends(campaign_id, status)")
    db.execute(
        "CREATE INDEX sends_caps ON sends(user_id, sent_at, channel) WHERE counts_for_caps = 1"
    )
    db.execute("CREATE INDEX sends_provider ON sends(provider_id) WHERE provider_id IS NOT NULL")
