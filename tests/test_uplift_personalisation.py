"""PIPL Art. 24 (DOMAIN.md "Regulation"): a person can refuse personalised marketing, and then no personal model
ranks or orders them — no predicted uplift is stored for them, budget ranking puts them at the audience's average
score, member lists sorted by a score list them unscored. They still get what their segment gets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from console.clock import now_ts
from console.propensity.targeting import rank_for_budget
from tests.campaign_support import load_workspace, write_config
from tests.uplift_sim import simulate_campaign


@pytest.fixture(scope="module")
def refusing_ws(tmp_path_factory):
    """20,000 simulated users; 40 of the persuadable (the users uplift would rank first) refuse personalised
    marketing — 3 through the CLI, the rest through the same function — before `uplift fit` runs."""
    from typer.testing import CliRunner

    from console.cli import app
    from console.personalisation import set_choice

    mp = pytest.MonkeyPatch()
    mp.setenv("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    mp.setenv("WINBACK_OPERATOR", "tester")
    folder = tmp_path_factory.mktemp("refusing")
    mp.chdir(folder)
    cfg = write_config(folder / "winback.toml", {"sms": {"transport": "csv", "price": 0.05}})
    ws = load_workspace(cfg)
    db = ws.open()
    sim = simulate_campaign(db, users=20_000, effect=0.25, now=now_ts(), seed=5)
    refusing = sim.user_id[sim.persuadable][:40].tolist()
    runner = CliRunner()
    for u in refusing[:3]:
        said = runner.invoke(app, ["--config", str(cfg), "consent", "personalised", f"sim-{u}", "--refuse"])
        assert said.exit_code == 0 and "refuses personalised marketing" in said.output, said.output
    for u in refusing[3:]:
        set_choice(db, f"sim-{u}", refuse=True, source="test")
    fitted = runner.invoke(app, ["--config", str(cfg), "uplift", "fit", "--json"], catch_exceptions=False)
    assert fitted.exit_code == 0, fitted.output
    yield ws, db, sim, refusing, json.loads(fitted.stdout), cfg, runner
    db.close()
    mp.undo()


def test_no_uplift_is_predicted_for_those_who_refused(refusing_ws):
    _ws, db, _sim, refusing, report, _cfg, _runner = refusing_ws
    assert report["usable"] is True
    assert report["not_scored_refused"] == 40 and report["scored"] == 20_000 - 40
    marks = ",".join("?" * len(refusing))
    assert db.execute(f"SELECT COUNT(*) FROM uplift_scores WHERE user_id IN ({marks})", refusing).fetchone()[0] == 0


@pytest.mark.parametrize("rank_by", ["uplift", "p_alive", "expected_value"])
def test_budget_ranking_puts_them_at_the_average_score_not_their_own(refusing_ws, rank_by):
    _ws, db, _sim, refusing, _report, _cfg, _runner = refusing_ws
    column = {"uplift": "up.uplift", "p_alive": "s.p_alive", "expected_value": "s.expected_value"}[rank_by]
    score = dict(db.execute(f"SELECT u.id, {column} FROM users u LEFT JOIN scores s ON s.user_id = u.id "
                            "LEFT JOIN uplift_scores up ON up.user_id = u.id").fetchall())
    others = np.array([v for u, v in score.items() if u not in set(refusing) and v is not None])
    average = others.mean()
    ranked = rank_for_budget(db, "SELECT id FROM users", 0.05, None, rank_by=rank_by).chosen
    where = [i for i, u in enumerate(ranked) if u in set(refusing)]
    assert len(where) == 40 and where == list(range(where[0], where[0] + 40))    # together, in id order
    assert [ranked[i] for i in where] == sorted(refusing)
    before = [score[u] for u in ranked[:where[0]]]
    after = [score[u] for u in ranked[where[-1] + 1:] if score[u] is not None]
    assert min(before) >= average >= max(after)
    if rank_by == "uplift":
        # they were persuadable: by their own score most would be among the first 1,500 (the persuadable's
        # number); at the average, none is (1,853 users score above the calibrated average; above the raw, 2,000+)
        assert where[0] > 1_500


def test_members_sorted_by_a_score_list_them_unscored_and_allow_undoes_it(refusing_ws):
    from console import segments
    from console.cli import app

    _ws, db, _sim, refusing, _report, cfg, runner = refusing_ws
    if "all-users" not in [s.name for s in segments.list_segments(db)]:
        segments.create(db, "all-users", "orders >= 0")
    last = segments.members(db, "all-users", order_by="p_alive", page_size=10_000, page=2)[-40:]
    assert {r["user"] for r in last} == {f"sim-{u}" for u in refusing}          # every user has a p_alive
    assert all(r["p_alive"] is None for r in last)
    said = runner.invoke(app, ["--config", str(cfg), "consent", "personalised", f"sim-{refusing[0]}", "--allow",
                               "--json"])
    assert said.exit_code == 0 and json.loads(said.stdout)["changed"] is True
    last = segments.members(db, "all-users", order_by="p_alive", page_size=10_000, page=2)[-40:]
    assert f"sim-{refusing[0]}" not in {r["user"] for r in last if r["p_alive"] is None}
    actions = [r[0] for r in db.execute("SELECT action FROM audit WHERE action LIKE 'personalised.%'")]
    assert actions.count("personalised.refuse") >= 40 and actions.count("personalised.allow") >= 1
    shown = runner.invoke(app, ["--config", str(cfg), "consent", "show", f"sim-{refusing[1]}"])
    assert shown.exit_code == 0 and "personalised marketing: refused" in " ".join(shown.output.split())
    unknown = runner.invoke(app, ["--config", str(cfg), "consent", "personalised", "nobody", "--refuse"])
    assert unknown.exit_code == 2 and "nobody" in unknown.output and "Traceback" not in unknown.output
    from console.personalisation import set_choice

    set_choice(db, f"sim-{refusing[0]}", refuse=True)     # as the module's other tests expect it


def test_refusing_after_a_fit_drops_the_stored_prediction_at_once(refusing_ws):
    from console.personalisation import set_choice

    _ws, db, sim, refusing, _report, _cfg, _runner = refusing_ws
    other = next(u for u in sim.user_id[sim.persuadable].tolist() if u not in set(refusing))
    assert db.execute("SELECT COUNT(*) FROM uplift_scores WHERE user_id = ?", [other]).fetchone()[0] == 1
    assert set_choice(db, f"sim-{other}", refuse=True)["changed"] is True
    assert db.execute("SELECT COUNT(*) FROM uplift_scores WHERE user_id = ?", [other]).fetchone()[0] == 0
    assert set_choice(db, f"sim-{other}", refuse=True)["changed"] is False
    set_choice(db, f"sim-{other}", refuse=False)
