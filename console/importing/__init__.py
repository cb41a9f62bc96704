"""Importing users and events from CSV or JSONL files (`winback import users|events FILE`).

    from console.importing import import_users, import_events, event_fingerprint, occurrence_fingerprint
"""

from console.importing.events import EVENT_COLUMNS, event_fingerprint, import_events, occurrence_fingerprint
from console.importing.problems import ImportResult
from console.importing.users import USER_COLUMNS, import_users

__all__ = ["EVENT_COLUMNS", "USER_COLUMNS", "ImportResult", "event_fingerprint", "import_events", "import_users",
           "occurrence_fingerprint"]
