"""A per-person "no personalised marketing" choice (PIPL Art. 24; DOMAIN.md "Regulation"): `no_personalised`.

One row per person who refused marketing decided by automated analysis of their personal characteristics; no row:
no such refusal. `winback consent personalised USER --refuse / --allow` sets and clears it (each change audited,
so the audit log is its history). While it stands, no personal model ranks or orders that person: no predicted
uplift is stored for them, and budget ranking (expected value, p_alive, uplift) gives them the audience's average
— what a model knowing nothing personal would — instead of their own score (console/personalisation.py).
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m016_no_personalised")
def m016_no_personalised(db) -> None:
    db.execute(
        """
        CREATE TABLE no_personalised (
            user_id INTEGER PRIMARY KEY REFERENCES users(id),
            at INTEGER NOT NULL,               -- when the person refused
            source TEXT NOT NULL               -- cli, import:FILE, inbound, ...
        )
        """
    )
