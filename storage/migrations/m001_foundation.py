"""Users, consents, events and the audit log.

Times are INTEGER seconds since the Unix epoch, UTC, in every table: compact, fast to compare in
window queries over millions of events, and unambiguous across time zones.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m001_foundation")
def m001_foundation(db) -> None:
    db.execute(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            external_id TEXT NOT NULL UNIQUE,
            name TEXT,
            phone TEXT,            -- E.164
            email TEXT,            -- normalised
            push_token TEXT,
            region TEXT,
            gender TEXT,
            age_band TEXT,
            occupation TEXT,
            timezone TEXT,         -- IANA name
            locale TEXT,
            signup_at INTEGER,
            attributes TEXT,       -- JSON object of extra columns
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX users_phone ON users(phone)")
    db.execute("CREATE INDEX users_email ON users(email)")
    db.execute(
        """
        CREATE TABLE consents (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            channel TEXT NOT NULL,            -- sms | email | push | call | gift
            status TEXT NOT NULL CHECK (status IN ('granted', 'withdrawn')),
            at INTEGER NOT NULL,
            source TEXT NOT NULL              -- import:FILE, cli, demo, inbound, ...
        )
        """
    )
    db.execute("CREATE INDEX consents_user_channel ON consents(user_id, channel, at)")
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            kind TEXT NOT NULL,               -- visit, login, order, click, view, ...
            at INTEGER NOT NULL,
            amount REAL,
            category TEXT,
            object TEXT,
            source TEXT,
            coupon_code TEXT,
            attributes TEXT,
            fingerprint INTEGER NOT NULL      -- hash of the event's content: re-imports deduplicate on it
        )
        """
    )
    db.execute("CREATE INDEX events_user_at ON events(user_id, at)")
    # Deduplication: the same event is the same user, second and content hash. Keyed by (user_id, at) rather
    # than the random fingerprint alone, so a hash collision could only matter within one user's same second.
    db.execute("CREATE UNIQUE INDEX events_dedup ON events(user_id, at, fingerprint)")
    db.execute(
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            host TEXT NOT NULL,
            action TEXT NOT NULL,
            details TEXT                      -- JSON
        )
        """
    )
    db.execute("CREATE INDEX audit_at ON audit(at)")
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
