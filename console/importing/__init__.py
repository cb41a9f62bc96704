"""Importing users and events from CSV or JSONL files (`winback import users|events FILE`).

    from console.importing import import_users, import_events, event_fingerprint, occurrence_fingerprint

The names are loaded on first use, not with the package: an import's reader process imports only the modules
that read and check a file (console.importing.event_checks, user_checks, reading, values), not the writer's
(sqlite_utils, which loads pandas: ~60 MB that the reader would hold for nothing).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "EVENT_COLUMNS": "console.importing.event_checks",
    "event_fingerprint": "console.importing.fingerprints",
    "occurrence_fingerprint": "console.importing.fingerprints",
    "import_events": "console.importing.events",
    "ImportResult": "console.importing.problems",
    "USER_COLUMNS": "console.importing.user_checks",
    "import_users": "console.importing.users",
}

__all__ = ["EVENT_COLUMNS", "USER_COLUMNS", "ImportResult", "event_fingerprint", "import_events", "import_users",
           "occurrence_fingerprint"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'console.importing' has no attribute {name!r}")
