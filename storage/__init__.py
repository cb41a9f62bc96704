"""SQLite storage for winback: connections, migrations, queries and writes.

This package knows SQL and nothing of Textual, Rich or typer.
"""

from storage.db import DatabaseTooNew, open_database

__all__ = ["DatabaseTooNew", "open_database"]
