"""Segment members sorted by propensity score (issue 9): `winback segments members NAME --order-by p_alive` on a
workspace fitted on the CDNOW purchases, with users who never ordered (no score) listed last."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.workspace import Workspace
from tests.conftest import FROZEN_NOW, Cli
from tests.test_propensity_workspace import load_cdnow


@pytest.fixture(scope="module")
def _scored_file(_migrated_empty_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CDNOW loaded, two users who never ordered, fitted and scored, and a segment of everyone: built once for the
    module through the same commands (the tests only read it; each gets a copy of the file)."""
    folder = tmp_path_factory.mktemp("scored")
    shutil.copy(_migrated_empty_database, folder / "winback.db")
    with pytest.MonkeyPatch.context() as mp:   # what the per-test fixtures would set
        mp.chdir(folder)
        for name in ("WINBACK_DB", "WINBACK_CONFIG"):
            mp.delenv(name, raising=False)
        mp.setenv("WINBACK_OPERATOR", "tester")
        mp.setenv("WINBACK_NOW", FROZEN_NOW)
        db = Workspace(db_path=folder / "winback.db").open()
        load_cdnow(db)
        db.execute("BEGIN")
        db.conn.executemany("INSERT INTO users (id, external_id, created_at, updated_at) VALUES (?, ?, 0, 0)",
                            [(9001, "never-1"), (9002, "never-2")])
        db.execute("COMMIT")
        cli = Cli(folder / "winback.db")
        fit = cli("model", "fit", "--as-of", "1998-06-30", "--holdout", "90", "--json")
        assert fit.exit_code == 0, fit.output
        made = cli("segments", "create", "everyone", "--rule", "orders >= 0")
        assert made.exit_code == 0, made.output
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # everything in the main file: a plain copy is whole
        db.close()
    return folder / "winback.db"


@pytest.fixture
def scored(workspace: Workspace, _scored_file: Path):
    """A private copy of the module's scored workspace at this test's database (the `cli` fixture's)."""
    shutil.copy(_scored_file, workspace.db_path)
    db = workspace.open()
    yield db
    db.close()


def _members(cli, order_by: str, *extra: str) -> list[dict]:
    result = cli("segments", "members", "everyone", "--order-by", order_by, "--page-size", "10000", "--json",
                 *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("score", ["p_alive", "expected_value", "expected_orders_90d"])
def test_members_sort_by_a_score_highest_first_and_unscored_last(scored, cli, score):
    rows = _members(cli, score)
    assert len(rows) == 2357 + 2
    assert [r["user"] for r in rows[-2:]] == ["never-1", "never-2"]
    assert rows[-1][score] is None
    values = [r[score] for r in rows[:-2]]
    assert all(v is not None for v in values)
    assert values == sorted(values, reverse=True)
    assert values[0] > values[-1]
    # The same order as the scores table itself (the `winback model scores` listing).
    top = scored.execute(f"SELECT u.external_id FROM scores s JOIN users u ON u.id = s.user_id "
                         f"ORDER BY s.{score} DESC, s.user_id LIMIT 5").fetchall()
    assert [r["user"] for r in rows[:5]] == [t[0] for t in top]


def test_members_table_shows_the_score_columns_only_when_sorting_by_one(scored, cli):
    by_value = cli("segments", "members", "everyone", "--order-by", "expected_value", "--page-size", "5")
    assert by_value.exit_code == 0, by_value.output
    assert "p_alive" in by_value.stdout and "exp_value" in by_value.stdout
    by_id = cli("segments", "members", "everyone", "--page-size", "5")
    assert by_id.exit_code == 0, by_id.output
    assert "p_alive" not in by_id.stdout and "layer" in by_id.stdout
    assert "p_alive" not in _members(cli, "id")[0]


def test_unknown_order_names_the_score_choices(scored, cli):
    result = cli("segments", "members", "everyone", "--order-by", "alive")
    assert result.exit_code == 2
    assert "expected_value" in result.output
