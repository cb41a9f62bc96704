"""Issue 19 (opt-outs, receipts): which opt-out journal entries the database has taken in, and receipt dedup.

`optout_journal_applied` holds the key of every entry of the side opt-out journal (console/policy/journal.py) that
has been folded into `suppressions`/`consents`/`receipts`, written in the same transaction as the fold: an entry
is applied exactly once, even if the process dies between that commit and marking the journal.

`receipts.dedup_key` identifies a provider receipt (channel, ids, status, detail): the same callback posted twice,
or a report imported twice, adds no second row.
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m009_optout_journal")
def m009_optout_journal(db) -> None:
    db.execute(
        "CREATE TABLE optout_journal_applied (key TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) WITHOUT ROWID"
    )
    db.execute("ALTER TABLE receipts ADD COLUMN dedup_key TEXT")
    db.execute("CREATE UNIQUE INDEX receipts_dedup ON receipts(dedup_key) WHERE dedup_key IS NOT NULL")
