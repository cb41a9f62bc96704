"""Propensity on a real SQLite workspace: the CDNOW purchases loaded as order events, summarised by SQL,
fitted, calibrated and scored through the `winback model` commands; thin data; budget ranking."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from console.propensity.summary import summarise
from console.propensity.targeting import rank_for_budget
from console.timefmt import parse_as_of
from console.workspace import Workspace

DATA = Path(__file__).parent / "data"
CALIBRATION_END = "1997-09-30"


def load_cdnow(db) -> None:
    """2,357 users and their 6,919 CDNOW purchases as `order` events at noon UTC on the purchase date."""
    rows = [line.split() for line in (DATA / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    ids = {r[0]: int(r[1]) for r in rows}     # the second column numbers customers 1..2357
    db.execute("BEGIN")
    db.conn.executemany(
        "INSERT INTO users (id, external_id, created_at, updated_at) VALUES (?, ?, 0, 0)",
        [(i, f"cdnow-{c}") for c, i in ids.items()],
    )
    events = []
    for n, (cust, _, date, _cds, amount) in enumerate(rows):
        at = int(datetime.strptime(date, "%Y%m%d").replace(hour=12, tzinfo=UTC).timestamp())
        events.append((ids[cust], "order", at, float(amount), n))
    db.conn.executemany(
        "INSERT INTO events (user_id, kind, at, amount, fingerprint) VALUES (?, ?, ?, ?, ?)", events
    )
    db.execute("COMMIT")


@pytest.fixture(scope="module")
def _cdnow_file(_migrated_empty_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated empty database with the CDNOW users and orders loaded, once for the module (each test copies
    it: the same rows `load_cdnow` writes, nothing in them depends on the clock)."""
    path = tmp_path_factory.mktemp("cdnow") / "winback.db"
    shutil.copy(_migrated_empty_database, path)
    db = Workspace(db_path=path).open()
    load_cdnow(db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # everything in the main file: a plain copy is whole
    db.close()
    return path


@pytest.fixture
def cdnow_db(workspace: Workspace, _cdnow_file: Path):
    """This test's workspace database (no connection open yet) replaced by a copy of the loaded CDNOW one."""
    shutil.copy(_cdnow_file, workspace.db_path)
    db = workspace.open()
    yield db
    db.close()


def test_sql_summary_of_order_events_reproduces_the_published_cdnow_summary(cdnow_db):
    cutoff = parse_as_of(CALIBRATION_END, "Asia/Shanghai")
    s = summarise(cdnow_db, cutoff=cutoff, unit="weeks", offset=8 * 3600)
    published = np.loadtxt(DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    assert s.customers == 2357
    assert np.array_equal(s.user_id, published[:, 0].astype(int))
    assert np.array_equal(s.x, published[:, 1])
    assert np.allclose(s.t_x, published[:, 2], atol=0.006)     # published rounded to 2 decimals
    assert np.allclose(s.T, published[:, 3], atol=0.006)
    rep = published[:, 1] > 0
    assert np.allclose(s.monetary[rep], published[rep, 4], atol=0.006)
    assert np.isnan(s.monetary[~rep]).all()


def test_model_fit_show_and_score_through_the_cli(cdnow_db, cli):
    # Fit on the whole 78 weeks; the calibration check refits on the first 39 (to 1997-09-30) and predicts
    # the 39 weeks after, as in Fader, Hardie & Lee (2005).
    result = cli("model", "fit", "--as-of", "1998-06-30", "--holdout", "273", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["customers"] == 2357
    assert all(f["converged"] for f in out["fits"].values())
    cal = out["calibration"]["models"]["bgnbd"]
    assert cal["params"]["r"] == pytest.approx(0.243, rel=0.01)
    assert cal["params"]["b"] == pytest.approx(2.426, rel=0.01)
    total = cal["rows"][-1]
    assert total["bucket"] == "all"
    # The calibration table tells the operator how far to trust the forecasts. On CDNOW BG/NBD forecasts the
    # 39-week holdout at 0.70 repeat purchases per customer against 0.80 actual, and ranks the buckets right.
    assert total["predicted"] == pytest.approx(total["actual"], rel=0.15)
    buckets = cal["rows"][:-1]
    assert [r["bucket"] for r in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    for key in ("actual", "predicted"):
        assert all(a[key] < b[key] for a, b in zip(buckets, buckets[1:], strict=False)), key
    assert buckets[-1]["predicted"] == pytest.approx(buckets[-1]["actual"], rel=0.1)
    assert out["scored"]["scored"] == 2357

    shown = cli("model", "show")
    assert shown.exit_code == 0, shown.output
    assert "Calibration" in shown.stdout and "Pareto/NBD" in shown.stdout
    as_json = json.loads(cli("model", "show", "--json").stdout)
    assert set(as_json["models"]) == {"bgnbd", "paretonbd", "gammagamma"}
    assert as_json["scores"]["customers"] == 2357

    rows = list(cdnow_db.query("SELECT * FROM scores"))
    assert len(rows) == 2357
    assert all(0 < r["p_alive"] <= 1 and r["expected_orders_90d"] >= 0 and r["expected_value"] > 0 for r in rows)
    one_timers = [r for r in rows if r["repeat_orders"] == 0]
    assert one_timers and all(r["model"] == "paretonbd" and r["p_alive"] < 1 for r in one_timers)

    listing = json.loads(cli("model", "scores", "--sort", "p_alive", "--asc", "--limit", "3", "--json").stdout)
    assert len(listing) == 3
    assert listing[0]["p_alive"] <= listing[1]["p_alive"] <= listing[2]["p_alive"]


def test_rescoring_later_lowers_p_alive_of_the_silent(cdnow_db, cli):
    assert cli("model", "fit", "--as-of", CALIBRATION_END, "--holdout", "0", "--no-score").exit_code == 0
    assert cli("model", "score", "--as-of", CALIBRATION_END).exit_code == 0
    before = dict(cdnow_db.execute("SELECT user_id, p_alive FROM scores").fetchall())
    # User 2 bought twice in January 1997 and never again: a year of silence later they look gone.
    assert cli("model", "score", "--as-of", "1998-09-30").exit_code == 0
    after = dict(cdnow_db.execute("SELECT user_id, p_alive FROM scores").fetchall())
    assert after[2] < before[2] < 0.3


def test_a_future_as_of_is_refused_and_the_scores_stay(cdnow_db, cli, monkeypatch):
    # A fit "as of" a day after today sees no orders after it, calls everyone gone and overwrote the scores.
    monkeypatch.setenv("WINBACK_NOW", "1998-07-01T12:00:00+08:00")
    assert cli("model", "fit", "--as-of", "1998-06-30", "--holdout", "0").exit_code == 0
    before = cdnow_db.execute("SELECT COUNT(*), SUM(p_alive) FROM scores").fetchone()
    fits = cdnow_db.execute("SELECT COUNT(*) FROM model_fits").fetchone()[0]
    for args in (("fit", "--as-of", "1998-07-02"), ("score", "--as-of", "2030-01-01")):
        result = cli("model", *args)
        assert result.exit_code == 2 and "is in the future" in result.stderr
    assert cdnow_db.execute("SELECT COUNT(*), SUM(p_alive) FROM scores").fetchone() == before
    assert cdnow_db.execute("SELECT COUNT(*) FROM model_fits").fetchone()[0] == fits
    table = cli("model", "score", "--as-of", "1998-07-01")                    # today is fine
    assert table.exit_code == 0
    # One figure per line at 80 columns: the one-row table used to cut the figures ("1,795,5…").
    assert "…" not in table.stdout and "likely gone" in table.stdout and "1998-07-01" in table.stdout


def test_too_little_history_gets_a_clear_message_and_stores_nothing(db, cli):
    db.execute("BEGIN")
    for i in range(1, 21):
        db.execute("INSERT INTO users (id, external_id, created_at, updated_at) VALUES (?, ?, 0, 0)", [i, f"u{i}"])
        db.execute("INSERT INTO events (user_id, kind, at, amount, fingerprint) VALUES (?, 'order', ?, 10, ?)",
                   [i, 1_700_000_000 + i * 86400, i])
    db.execute("COMMIT")
    result = cli("model", "fit")
    assert result.exit_code == 1
    assert "too little order history" in result.output
    assert "20 customers" in result.output
    assert db.execute("SELECT COUNT(*) FROM model_fits").fetchone()[0] == 0
    assert cli("model", "score").exit_code == 1


def test_rank_for_budget_takes_the_most_valuable_until_the_budget_is_spent(cdnow_db, cli):
    assert cli("model", "fit", "--as-of", CALIBRATION_END, "--holdout", "0").exit_code == 0
    pick = rank_for_budget(cdnow_db, "SELECT id FROM users WHERE id <= ?", 0.5, 100.0, params=[1000])
    assert len(pick.chosen) == 200
    values = dict(cdnow_db.execute("SELECT user_id, expected_value FROM scores WHERE user_id <= 1000").fetchall())
    threshold = values[pick.chosen[-1]]
    assert all(values[u] >= threshold for u in pick.chosen)
    assert sum(v > threshold for v in values.values()) < 200
    s = pick.summary
    assert s["audience"] == 1000 and s["chosen"]["cost"] == 100.0 and s["everyone"]["cost"] == 500.0
    # A fifth of the messages buys far more than a fifth of the expected value.
    assert s["share_of_expected_value"] > 2 * s["share_if_random"]
    everyone = rank_for_budget(cdnow_db, "SELECT id FROM users", 0.5, None)
    assert len(everyone.chosen) == 2357
    # For a caller working set-based (campaign plan): the pick lands in a temp table, in rank order.
    rank_for_budget(cdnow_db, "SELECT id FROM users WHERE id <= 1000", 0.5, 100.0, into="budget_pick")
    ranked = cdnow_db.execute("SELECT user_id FROM temp.budget_pick ORDER BY rank").fetchall()
    assert [r[0] for r in ranked] == pick.chosen


def test_users_who_never_ordered_rank_last(cdnow_db, cli):
    cdnow_db.execute("INSERT INTO users (id, external_id, created_at, updated_at) VALUES (9999, 'new', 0, 0)")
    assert cli("model", "fit", "--as-of", CALIBRATION_END, "--holdout", "0").exit_code == 0
    pick = rank_for_budget(cdnow_db, "SELECT id FROM users", 1.0, None, rank_by="p_alive")
    assert pick.chosen[-1] == 9999
    assert pick.summary["scored"] == 2357


def test_scores_are_segment_rule_fields(cdnow_db, cli):
    cdnow_db.execute("INSERT INTO users (id, external_id, created_at, updated_at) VALUES (9999, 'new', 0, 0)")
    assert cli("model", "fit", "--as-of", CALIBRATION_END, "--holdout", "0").exit_code == 0
    result = cli("segments", "create", "likely-gone", "--rule", "p_alive < 0.3", "--json")
    assert result.exit_code == 0, result.output
    from console.segments import count, get

    expected = cdnow_db.execute("SELECT COUNT(*) FROM scores WHERE p_alive < 0.3").fetchone()[0]
    assert 0 < count(cdnow_db, get(cdnow_db, "likely-gone")) == expected
    # Never ordered: no score, in neither "gone" nor "alive".
    assert cli("segments", "create", "alive", "--rule", "p_alive >= 0.3").exit_code == 0
    assert count(cdnow_db, get(cdnow_db, "alive")) + expected == 2357    # user 9999 is in neither
    worth = cli("segments", "create", "worth", "--rule", "expected_value >= 20 and expected_orders_90d > 0.5")
    assert worth.exit_code == 0, worth.output
    fields = cli("segments", "fields")
    assert "p_alive" in fields.stdout and "expected_value" in fields.stdout


def test_the_time_unit_only_rescales_the_rate_parameters(cdnow_db, cli):
    weeks = json.loads(cli("model", "fit", "--as-of", CALIBRATION_END, "--holdout", "0", "--no-score",
                           "--json").stdout)["fits"]["bgnbd"]["params"]
    days = json.loads(cli("model", "fit", "--unit", "days", "--as-of", CALIBRATION_END, "--holdout", "0",
                          "--json").stdout)
    d = days["fits"]["bgnbd"]["params"]
    assert days["unit"] == "days"
    assert d["alpha"] == pytest.approx(7 * weeks["alpha"], rel=1e-3)
    for name in ("r", "a", "b"):
        assert d[name] == pytest.approx(weeks[name], rel=1e-3)
    # The days fit scores customer 1 (x=2, t_x=30.43, T=38.86 weeks) as the weeks fit does.
    scored = cdnow_db.execute("SELECT p_alive, expected_orders_90d FROM scores WHERE user_id = 1").fetchone()
    assert scored[0] == pytest.approx(0.7266, abs=1e-3)      # DOMAIN.md test value, customer 1


def test_a_holdout_too_long_for_the_history_skips_the_check_but_keeps_the_fit(cdnow_db, cli):
    # Split on 1997-01-07: hardly anyone had bought twice by then.
    result = cli("model", "fit", "--as-of", "1998-06-30", "--holdout", "539", "--no-score")
    assert result.exit_code == 0, result.output
    assert "calibration check skipped" in result.output and "539-day holdout" in result.output
    shown = cli("model", "show")
    assert shown.exit_code == 0 and "calibration check skipped" in shown.output
    info = json.loads(cli("model", "show", "--json").stdout)
    assert "skipped" in info["calibration"] and info["models"]["bgnbd"]["converged"]


def test_refresh_scores_does_nothing_before_a_fit_and_rescores_after(cdnow_db, cli):
    from console.propensity.scoring import refresh_scores

    assert refresh_scores(cdnow_db) is None
    assert cdnow_db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0
    assert cli("model", "fit", "--as-of", CALIBRATION_END, "--holdout", "0", "--no-score").exit_code == 0
    cutoff = parse_as_of("1998-06-30", "Asia/Shanghai")
    done = refresh_scores(cdnow_db, as_of=cutoff, timezone="Asia/Shanghai")
    assert done["scored"] == 2357 and done["as_of"] == cutoff
    assert cdnow_db.execute("SELECT COUNT(*) FROM scores WHERE as_of = ?", [cutoff]).fetchone()[0] == 2357


def test_fit_without_as_of_uses_the_last_refresh_and_says_so(cdnow_db, cli, monkeypatch):
    # Issue #12 point 11: after `refresh --as-of 1997-09-30` a bare `model fit` fitted on today (years of
    # silence after CDNOW's last order: everyone gone) instead of the history the profiles show.
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    assert cli("refresh", "--as-of", CALIBRATION_END).exit_code == 0
    result = cli("model", "fit", "--holdout", "0", "--no-score", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["as_of"] == parse_as_of(CALIBRATION_END, "Asia/Shanghai")
    assert "history up to 1997-09-30 23:59 UTC+8, the as-of of the last `winback refresh`" in result.stderr
    scored = cli("model", "score")
    assert scored.exit_code == 0 and "1997-09-30 23:59 UTC+8" in scored.stdout


def test_fit_before_any_refresh_says_it_uses_now(cdnow_db, cli, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "1998-07-01T12:00:00+08:00")
    result = cli("model", "fit", "--holdout", "0", "--no-score", "--json")
    assert result.exit_code == 0, result.output
    assert "history up to now (1998-07-01 12:00 UTC+8): no refresh yet" in result.stderr
