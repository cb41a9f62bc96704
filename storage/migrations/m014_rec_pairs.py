"""Incremental recommendations (issue 17): the state that lets `winback refresh` update best sellers and
bought-together from new orders only, instead of re-reading every order each time.

- `rec_user_items`: each buyer's latest distinct ordered items (at most recommendations.RECENT_ITEMS_PER_USER);
- `rec_pairs`: for each ordered pair of items, how many buyers have both among those latest items;
- `rec_item_orders`: orders per (category, item), the best sellers' counts.

All three are derived from events (console/recommendations.py) and rebuilt whenever they may be stale.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m014_rec_pairs")
def m014_rec_pairs(db) -> None:
    db.execute("CREATE TABLE rec_user_items (user_id INTEGER NOT NULL, object TEXT NOT NULL, "
               "PRIMARY KEY (user_id, object)) WITHOUT ROWID")
    db.execute("CREATE TABLE rec_pairs (object TEXT NOT NULL, other TEXT NOT NULL, buyers INTEGER NOT NULL, "
               "PRIMARY KEY (object, other)) WITHOUT ROWID")
    db.execute("CREATE TABLE rec_item_orders (category TEXT NOT NULL, object TEXT NOT NULL, "
               "orders INTEGER NOT NULL, PRIMARY KEY (category, object)) WITHOUT ROWID")
    # A build made before these tables existed is not incremental-ready: the next refresh rebuilds in full.
    db.execute("DELETE FROM settings WHERE key = 'recommendations_built'")
