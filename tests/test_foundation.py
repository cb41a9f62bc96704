"""Storage basics: pragmas, file mode, migrations, refusing a newer database, import hygiene."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from storage.db import DatabaseTooNew, open_database


def test_new_database_is_private_wal_with_foreign_keys(tmp_path):
    path = tmp_path / "w.db"
    db = open_database(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    for table in ("users", "consents", "events", "audit", "sends", "campaigns"):
        assert db[table].exists(), table


def test_migrations_apply_once_and_upgrade_an_older_database(tmp_path):
    from storage.migrations import MIGRATIONS

    path = tmp_path / "w.db"
    names = [m.name for m in MIGRATIONS._migrations]
    # An "older" database: only the first step applied.
    from storage.db import connect

    old = connect(path)
    MIGRATIONS.apply(old, stop_before=names[1])
    assert [m.name for m in MIGRATIONS.applied(old)] == names[:1]
    old.close()
    db = open_database(path)
    assert [m.name for m in MIGRATIONS.applied(db)] == names
    db.close()
    again = open_database(path)
    assert [m.name for m in MIGRATIONS.applied(again)] == names


def test_newer_database_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "w.db"
    db = open_database(path)
    db["_sqlite_migrations"].insert(
        {"migration_set": "winback", "name": "m999_from_the_future", "applied_at": "2030-01-01"}
    )
    db.close()
    with pytest.raises(DatabaseTooNew, match="newer winback"):
        open_database(path)


# Run in a fresh interpreter: in this one, other tests have long since imported textual.
_IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import console, storage
imported, first = [], None
for package in (console, storage):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
        imported.append(module.name)
        if first is None and "textual" in sys.modules:
            first = module.name
print(json.dumps({"imported": imported, "textual_first_loaded_by": first}))
"""


def test_no_console_or_storage_module_imports_textual():
    """The CLI, cron jobs and the inbound server never pay for the TUI: every module of console/ and storage/,
    imported one by one, leaves textual unloaded."""
    out = subprocess.run([sys.executable, "-c", _IMPORT_EVERYTHING], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["textual_first_loaded_by"] is None, f"{report['textual_first_loaded_by']} imports textual"
    # the walk really went through the packages, down to their subpackages
    assert {"console.cli", "console.campaigns.dispatch", "console.importing.events", "console.inbound.server",
            "storage.db"} <= set(report["imported"])
    assert any(name.startswith("storage.migrations.") for name in report["imported"])


def test_cli_refuses_a_newer_database_with_exit_1(tmp_path, cli):
    db = open_database(cli.db_path)
    db["_sqlite_migrations"].insert(
        {"migration_set": "winback", "name": "m999_from_the_future", "applied_at": "2030-01-01"}
    )
    db.close()
    result = cli("info")
    assert result.exit_code == 1
    assert "newer winback" in result.output


def test_many_threads_opening_a_new_database_at_once_all_succeed(tmp_path):
    import threading

    path = tmp_path / "new.db"
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_it() -> None:
        barrier.wait()
        try:
            open_database(path).close()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = open_database(path)
    from storage.migrations import MIGRATIONS

    assert len(MIGRATIONS.applied(db)) == len(MIGRATIONS._migrations)  # each step applied exactly once
