"""`winback demo --users N --no-tui` as the CLI builds it, once per test session for each size and clock, copied into
each test that only needs the result (not the build's own output).

A 300-user demo through the CLI takes ~1-2 s (more under load); several modules built the same one in every test.
The copy is the same database the test would have built: same command, same WINBACK_NOW, same operator.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

from console.workspace import Workspace

_BUILT: dict[tuple[int, str], Path] = {}


def copy_cli_demo(db_path: Path, *, users: int, now: str) -> None:
    """Put at `db_path` (a closed database, replaced) the demo `winback demo --users {users} --no-tui` builds at
    the business time `now` for the operator 'tester'; built on first use in this process."""
    from tests.conftest import Cli

    key = (users, now)
    if key not in _BUILT:
        folder = Path(tempfile.mkdtemp(prefix="winback-cli-demo-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(folder)
            for name in ("WINBACK_DB", "WINBACK_CONFIG"):
                mp.delenv(name, raising=False)
            mp.setenv("WINBACK_NOW", now)
            mp.setenv("WINBACK_OPERATOR", "tester")
            built = Cli(folder / "winback.db")("demo", "--users", str(users), "--no-tui")
            assert built.exit_code == 0, built.output
        db = Workspace.load(db=folder / "winback.db").open()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # everything in the main file: a plain copy is whole
        db.close()
        _BUILT[key] = folder / "winback.db"
    for leftover in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        leftover.unlink(missing_ok=True)   # the replaced database's, if any: they would be read with the copy
    shutil.copy(_BUILT[key], db_path)
