"""Activity profiles (one row per user, derived by `winback refresh`) and saved segments (issue #3).

`profiles` is derived data: `winback refresh --full` can always rebuild it from `events`. Its time-dependent
columns (dormancy, recency buckets, layer) are as of the refresh's date, kept in `settings` (`profiles.as_of`).

Events get one covering index, (user_id, at, kind, amount), in place of m001's (user_id, at): it serves every
query the old one served, and lets a full refresh aggregate ten million events in one ordered index scan instead
of a sort or ten million table look-ups.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m002_profiles_segments")
def m002_profiles_segments(db) -> None:
    db.execute("DROP INDEX IF EXISTS events_user_at")
    db.execute("CREATE INDEX events_user_activity ON events(user_id, at, kind, amount)")
    db.execute(
        """
        CREATE TABLE profiles (
            user_id INTEGER PRIMARY KEY REFERENCES users(id),
            first_seen_at INTEGER,             -- first event of any kind; NULL = never active
            last_event_at INTEGER,             -- the last interaction: when ...
            last_action TEXT,                  -- ... what (event kind) ...
            last_object TEXT,                  -- ... on what ...
            last_category TEXT,
            access_channel TEXT,               -- source of the last event (app, web, mini-program, ...)
            last_visit_at INTEGER,             -- axis 1
            visits_7d INTEGER NOT NULL DEFAULT 0,   -- axis 2: visits in the 7 days up to the last visit
            last_login_at INTEGER,
            last_order_at INTEGER,             -- axis 3
            orders_30d INTEGER NOT NULL DEFAULT 0,  -- axis 4: orders in the 30 days up to the last order
            orders INTEGER NOT NULL DEFAULT 0,
            spend REAL NOT NULL DEFAULT 0,
            aov REAL,                          -- average order value; NULL without orders
            top_category TEXT,                 -- the category ordered most
            dormancy_at INTEGER,               -- last event of the dormancy metric
            dormancy TEXT NOT NULL DEFAULT 'never_active'
                CHECK (dormancy IN ('active', 'at_risk', 'dormant', 'lost', 'never_active')),
            visit_recency INTEGER,             -- bucket of each axis: 0 = likeliest to come back
            visit_frequency INTEGER,
            order_recency INTEGER,
            order_frequency INTEGER,
            temperature INTEGER,               -- bucket of days since last seen (any event)
            loyalty INTEGER,                   -- bucket of orders in the 30 days up to the last order
            layer TEXT,                        -- e.g. 'cold light'; NULL = never active
            rf_r INTEGER,                      -- R×F grid scores 1-5 (NULL without orders)
            rf_f INTEGER,
            rf_cell TEXT,                      -- the grid name: Champions, Hibernating, ...
            refreshed_at INTEGER NOT NULL
        )
        """
    )
    # Counting segments: most rules start from dormancy and/or layer; the trailing columns let SQLite test
    # common numeric conditions inside the index without reading the row.
    db.execute(
        "CREATE INDEX profiles_dormancy ON profiles(dormancy, layer, orders, spend, last_order_at, last_visit_at)"
    )
    db.execute("CREATE INDEX profiles_layer ON profiles(layer, dormancy)")
    db.execute(
        """
        CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,                -- structured JSON (console/segments/rules.py), never SQL
            rule_text TEXT NOT NULL,           -- as the operator wrote it
            description TEXT,
            preset INTEGER NOT NULL DEFAULT 0, -- created by winback init / demo
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """
    )
