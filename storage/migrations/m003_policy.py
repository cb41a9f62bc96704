"""Schema for issue #5 (policy). Owned by that capability; see docs/architecture.md."""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m003_policy")
def m003_policy(db) -> None:
    pass
