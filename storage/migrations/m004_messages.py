"""Offers, the layer → offer mapping, message templates (with their saved versions), recommendation tables.

Campaigns reference offers(id) and templates(id). A template's `version` goes up each time it is saved again
under the same name; `template_versions` keeps every saved source so a send can be traced to the exact copy.
The rec_* tables are derived from events (console/recommendations.py) and can be rebuilt at any time.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m004_messages")
def m004_messages(db) -> None:
    db.execute(
        """
        CREATE TABLE offers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('coupon', 'points', 'trial', 'none')),
            threshold REAL,                 -- coupon: minimum spend
            amount REAL,                    -- coupon: amount off
            currency TEXT,
            validity_days INTEGER,          -- coupon / trial: a concrete expiry per send
            multiplier REAL,                -- points: x2, x3 ...
            trial_days INTEGER,             -- trial: length of the free trial
            description TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            CHECK (kind != 'coupon' OR (amount > 0 AND threshold >= 0)),
            CHECK (kind != 'points' OR multiplier > 0)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE offer_layers (
            layer TEXT PRIMARY KEY,         -- a layer name from profiles.layer
            offer_id INTEGER NOT NULL REFERENCES offers(id),
            updated_at INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE templates (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'push', 'call', 'gift')),
            group_name TEXT,                -- A/B variants of one message share a group
            variant TEXT,
            style TEXT,                     -- nostalgic | offer | question | ...
            language TEXT,
            description TEXT,
            subject TEXT,
            preheader TEXT,
            body TEXT NOT NULL DEFAULT '',
            html TEXT,
            title TEXT,
            link TEXT,
            fields TEXT,                    -- JSON list: call / gift list columns
            version INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            updated_by TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX templates_group ON templates(group_name)")
    db.execute(
        """
        CREATE TABLE template_versions (
            template_id INTEGER NOT NULL REFERENCES templates(id),
            version INTEGER NOT NULL,
            source TEXT NOT NULL,           -- the TOML as saved
            saved_at INTEGER NOT NULL,
            saved_by TEXT NOT NULL,
            PRIMARY KEY (template_id, version)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE rec_best_sellers (
            category TEXT NOT NULL,
            rank INTEGER NOT NULL,
            object TEXT NOT NULL,
            orders INTEGER NOT NULL,
            PRIMARY KEY (category, rank)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE rec_also_bought (
            object TEXT NOT NULL,
            rank INTEGER NOT NULL,
            other TEXT NOT NULL,
            buyers INTEGER NOT NULL,        -- people who bought both
            PRIMARY KEY (object, rank)
        )
        """
    )
