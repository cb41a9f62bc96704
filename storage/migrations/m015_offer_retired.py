"""Retired offers (issue 18): `offers.retired_at` — when the offer was retired, NULL while it is in use.

A retired offer stays in `offers` for the campaigns, sends and ledger that name it; it is no longer offered for
new campaigns, programs or the layer → offer mapping (console/offers.py).
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m015_offer_retired")
def m015_offer_retired(db) -> None:
    db.execute("ALTER TABLE offers ADD COLUMN retired_at INTEGER")
