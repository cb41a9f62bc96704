"""SQLite storage for winback: connections, migrations, queries and writes.

This package knows SQL and nothing of Textual, Rich or typer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DatabaseTooNew", "open_database"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, not with the package: storage.db imports sqlite_utils (which imports pandas, ~60 MB),
    # and modules such as storage.errors are needed where none of that is (an import's reader process).
    if name in __all__:
        from storage import db

        return getattr(db, name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
