"""What every `winback` command pays at start-up before it does anything (a cron job, a script's loop, the suite's
subprocess tests): heavy libraries the command does not use stay unloaded."""

from __future__ import annotations

import json
import os
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


# `winback ARGS` in a fresh interpreter, as cron or a script runs it; then which modules it loaded (on stderr, the
# command's own output stays on stdout).
_RUN = """
import json, sys
from console.cli import main
sys.argv = ["winback", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps({"exit": code or 0, "rich_utils": "typer.rich_utils" in sys.modules}), file=sys.stderr)
"""


def _run(tmp_path, *args: str) -> tuple[dict, str]:
    out = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={**os.environ, "COLUMNS": "200", "WINBACK_DB": str(tmp_path / "w.db")})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stderr.strip().splitlines()[-1]), out.stdout


def test_a_command_that_prints_no_help_does_not_load_typers_rich_help(tmp_path):
    """typer.rich_utils (with rich.markdown, markdown_it …: ~40 ms of a ~180 ms start) is only needed to draw
    `--help`; console.cli.help_format puts its corrections into it when help is drawn, not at start."""
    from console.workspace import Workspace

    Workspace.load(db=tmp_path / "w.db").open().close()
    for args in (("--version",), ("info", "--json")):
        result, stdout = _run(tmp_path, *args)
        assert result == {"exit": 0, "rich_utils": False}, (args, stdout)


def test_help_drawn_in_a_fresh_process_still_has_winbacks_corrections(tmp_path):
    """The corrections are put in on the first `--help` (here the first thing the process draws): a flag without
    `<bool>`, arguments in capitals, a paragraph's source lines joined (tests/test_cli_first_contact.py in full)."""
    result, out = _run(tmp_path, "offers", "map", "--help")
    assert result == {"exit": 0, "rich_utils": True}
    assert "offers map [OPTIONS] LAYER [OFFER]" in out and "--remove" in out and "<bool>" not in out, out
    assert "their layer's offer. Example: `winback offers map" in out, out


# `winback ARGS` in a fresh interpreter; then whether console.stats and scipy were loaded.
_RUN_STATS = _RUN.replace('"rich_utils": "typer.rich_utils" in sys.modules',
                          '"stats": "console.stats" in sys.modules, "scipy": "scipy" in sys.modules')


def _loaded(tmp_path, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _RUN_STATS, *args], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={**os.environ, "COLUMNS": "200", "WINBACK_DB": str(tmp_path / "w.db")})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stderr.strip().splitlines()[-1])


def test_plan_computes_its_statistics_without_loading_scipy(tmp_path):
    """The plan's minimum detectable lift (console.stats) needs a normal quantile and a root, not scipy: importing
    scipy cost `campaign plan` ~0.8 s of a ~3 s run on the demo, and every other reader of console.stats (outcomes,
    program steps) the same. Only model fitting (propensity, uplift) needs it."""
    from console.workspace import Workspace

    db = Workspace.load(db=tmp_path / "w.db").open()
    with db.conn:
        db.execute("INSERT INTO campaigns (name, segment, channel, salt, created_at, created_by) "
                   "VALUES ('c', 'all', 'sms', 's', 0, 't')")
    db.close()
    assert _loaded(tmp_path, "campaign", "plan", "c") == {"exit": 0, "stats": True, "scipy": False}
