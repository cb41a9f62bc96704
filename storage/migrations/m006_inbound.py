"""Schema for issue #8 (inbound). Owned by that capability; see docs/architecture.md."""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m006_inbound")
def m006_inbound(db) -> None:
    pass
