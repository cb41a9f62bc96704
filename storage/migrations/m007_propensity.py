"""Schema for issue #9 (propensity). Owned by that capability; see docs/architecture.md."""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m007_propensity")
def m007_propensity(db) -> None:
    pass
