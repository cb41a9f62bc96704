"""Imported by console.cli before any module that imports sqlite_utils: a shorter start for every command.

sqlite_utils imports pandas wherever it is installed, only to map pandas.Timestamp to a column type (winback never
hands it pandas objects); pandas and pyarrow then cost ~0.3 s of every command's start (measured on a loaded 2-core
machine: `import console.cli` 0.80 -> 0.48 s where pandas is installed, as in the test environment through
scikit-uplift). So sqlite_utils is imported here with pandas marked missing, and the mark is removed at once: a
later `import pandas` anywhere works as usual. Where pandas is not installed this changes nothing.
"""

from __future__ import annotations

import sys


def import_sqlite_utils_without_pandas() -> None:
    if "sqlite_utils" in sys.modules or "pandas" in sys.modules:
        return   # already imported (a test run, an embedding program): nothing to save, nothing to change
    sys.modules["pandas"] = None  # type: ignore[assignment]  # None there: `import pandas` raises ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["pandas"]


import_sqlite_utils_without_pandas()
