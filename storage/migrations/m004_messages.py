"""Schema for issue #4 (messages). Owned by that capability; see docs/architecture.md."""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m004_messages")
def m004_messages(db) -> None:
    pass
