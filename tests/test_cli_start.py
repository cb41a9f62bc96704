"""What every `winback` command pays at start-up before it does anything (a cron job, a script's loop, the suite's
subprocess tests): heavy libraries the command does not use stay unloaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Run in a fresh interpreter: in this one, other tests have long since imported everything.
_START = """
import json, sys
import console.cli
loaded = {name: name in sys.modules for name in ("sqlite_utils", "pandas", "pyarrow")}
import pandas   # still importable afterwards, for whoever needs it
print(json.dumps(loaded | {"pandas_later": hasattr(pandas, "DataFrame")}))
"""


def test_the_cli_starts_without_pandas_and_leaves_it_importable():
    """sqlite_utils imports pandas (and pyarrow) wherever it is installed, ~0.3 s of every command's start for a
    type mapping winback never uses; console.cli.lean_start imports it with pandas marked missing."""
    pytest.importorskip("pandas")   # installed in the test environment (scikit-uplift needs it)
    out = subprocess.run([sys.executable, "-c", _START], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"sqlite_utils": True, "pandas": False, "pyarrow": False,
                                      "pandas_later": True}
