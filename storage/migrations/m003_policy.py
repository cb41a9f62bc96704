"""Contact policy: the suppression list and frequency caps (issue #5).

Quiet hours live in `settings` (key `quiet_hours`); consent rows are in `consents` (m001). Suppressions are never
deleted: removing one stamps removed_at/removed_by/removed_reason, so the history of who lifted a block, and why,
stays readable. See docs/policy.md.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m003_policy")
def m003_policy(db) -> None:
    db.execute(
        """
        CREATE TABLE suppressions (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,             -- sms | email | push | call | gift | all
            address TEXT,                      -- normalised: E.164 phone, lower-case email, push token
            user_id INTEGER REFERENCES users(id),
            reason TEXT NOT NULL CHECK (reason IN ('opt_out', 'bounce', 'complaint', 'manual')),
            source TEXT NOT NULL,              -- cli, import:FILE, inbound:sms, receipt, ...
            note TEXT,
            at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            removed_at INTEGER,                -- NULL while the entry is in force
            removed_by TEXT,
            removed_reason TEXT,
            CHECK (address IS NOT NULL OR user_id IS NOT NULL),
            CHECK (removed_at IS NULL OR removed_reason IS NOT NULL)
        )
        """
    )
    # Only entries in force are ever matched at send time: keep those indexes small.
    db.execute(
        "CREATE INDEX suppressions_active_address ON suppressions(address, channel) "
        "WHERE removed_at IS NULL AND address IS NOT NULL"
    )
    db.execute(
        "CREATE INDEX suppressions_active_user ON suppressions(user_id, channel) "
        "WHERE removed_at IS NULL AND user_id IS NOT NULL"
    )
    db.execute(
        """
        CREATE TABLE caps (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,             -- a channel name, or 'any' for all channels together
            max_count INTEGER NOT NULL CHECK (max_count >= 0),
            window_seconds INTEGER NOT NULL CHECK (window_seconds > 0),
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            UNIQUE (channel, window_seconds)
        )
        """
    )
