"""Schema for issue #3 (profiles segments). Owned by that capability; see docs/architecture.md."""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m002_profiles_segments")
def m002_profiles_segments(db) -> None:
    pass
