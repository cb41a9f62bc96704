"""What a budget buys by uplift against p_alive (console.uplift.targeting.budget_comparison): the p_alive side must
rank as a p_alive ranking would, never inherit the uplift order."""

from __future__ import annotations

import numpy as np
import pytest

from console.uplift.targeting import budget_comparison


def test_without_any_p_alive_there_is_no_p_alive_figure():
    # seen on the demo (no propensity model fitted): "ranked by p_alive" repeated the uplift ranking's own figure
    uplift = np.array([0.3, 0.2, 0.1, 0.0])
    out = budget_comparison(uplift, np.full(4, np.nan), 2, net_value=np.array([9.0, 5.0, 1.0, -2.0]),
                            ids=np.array([4, 3, 2, 1]))
    assert out["extra_returns"] == 0.5 and out["extra_returns_ranked_by_p_alive"] is None
    assert out["value"]["ranked_by_p_alive"] is None and out["value"]["ranked"]["net_value"] == 14.0


def test_users_without_p_alive_follow_in_id_order_not_in_uplift_order():
    uplift = np.array([0.3, 0.2, 0.1, 0.0])            # uplift order; ids 40, 30, 20, 10
    p_alive = np.array([np.nan, np.nan, 0.9, np.nan])
    out = budget_comparison(uplift, p_alive, 2, ids=np.array([40, 30, 20, 10]))
    # by p_alive: id 20 (0.9), then the unscored by id: 10 → 0.1 + 0.0, not 0.1 + 0.3
    assert out["extra_returns_ranked_by_p_alive"] == 0.1


def test_groups_keep_enough_of_each_arm_and_the_map_is_flat_beyond_them():
    """console.uplift.calibration: equal groups by prediction, each with >= MIN_ARM of both arms (fewer groups for
    a small arm); a score is its group's calibrated uplift, the first's or last's beyond the edges."""
    from console.uplift import calibration

    rng = np.random.default_rng(11)
    n = 3_000
    raw = rng.normal(0.0, 0.2, n)
    t = np.ones(n, dtype=int)
    t[rng.choice(n, 330, replace=False)] = 0               # 330 holdout users: three groups at most
    truth = np.where(raw > 0.2, 0.15, 0.0)                 # the model's size is far from the truth's
    y = (rng.random(n) < 0.1 + truth * t).astype(int)
    cal = calibration.fit_calibration(raw, t, y)
    groups = cal["groups"]
    assert len(groups) == 3 and all(g["control"] >= calibration.MIN_ARM for g in groups)
    assert [g["calibrated"] for g in groups] == sorted(g["calibrated"] for g in groups)
    scored = calibration.apply(cal, np.array([-5.0, raw.min(), 0.0, raw.max(), 5.0]))
    assert scored[0] == pytest.approx(groups[0]["calibrated"], abs=1e-5)
    assert scored[-1] == pytest.approx(groups[-1]["calibrated"], abs=1e-5) and scored[-1] < 0.25 < raw.max()
    assert list(scored) == sorted(scored) and len(set(scored.tolist())) == 5    # the model's order kept
    # a small arm: one group, everyone scored the average effect
    one = calibration.fit_calibration(raw[:400], t[:400], y[:400])
    assert len(one["groups"]) == 1 and one["edges"] == []


def test_a_fit_stored_before_calibration_is_shown_and_planned_as_not_calibrated(db, workspace, cli):
    """An old workspace's latest fit has no calibration: nothing crashes; `uplift show`, the Model screen's text
    and the plan's 'budget buys' line say its scores are the raw model's sizes and to fit again."""
    import json

    from screens.uplift_view import render_uplift
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users

    users = add_users(db, 10, consent=("sms",))
    add_template(db, workspace.config, SMS_TEMPLATE)
    report = {"campaigns": [], "simulated": [], "skipped": [], "treated": 1000, "control": 1000,
              "treated_conversions": 80, "control_conversions": 50, "folds": 3, "replicates": 200, "qini": 0.12,
              "qini_low": 0.05, "qini_high": 0.19, "uplift_at": {"10": {"uplift": 0.2, "low": 0.1, "high": 0.3}},
              "curve": [], "by_layer": [], "usable": True, "scored": 10, "verdict": "usable: Qini 0.12"}
    fit = db.execute(
        "INSERT INTO uplift_fits (fitted_at, fitted_by, campaigns, treated, control, treated_conversions, "
        "control_conversions, usable, verdict, report, scored) VALUES (1, 'test', '[]', 1000, 1000, 80, 50, 1, "
        "'usable: Qini 0.12', ?, 10)", [json.dumps(report)]).lastrowid
    db.conn.executemany("INSERT INTO uplift_scores VALUES (?, ?, 0.5, 0.1, ?, 1)",
                        [(u, 0.4, fit) for u in users])
    db.conn.commit()
    shown = cli("uplift", "show")
    assert shown.exit_code == 0, shown.output
    assert f"fit #{fit} predates calibration" in " ".join(shown.output.split())
    assert "predates calibration" in render_uplift({"id": fit, "fitted_at": 1, "fitted_by": "test", "usable": 1,
                                                    "report": report}, "UTC").plain
    assert cli("campaign", "create", "old", "--segment", "all", "--channel", "sms", "--template", "miss-you",
               "--holdout", "0", "--rank-by", "uplift", "--budget", "0.20").exit_code == 0
    plan = cli("campaign", "plan", "old")
    assert plan.exit_code == 0, plan.output
    said = " ".join(plan.output.split())
    assert "uplift model:" in said and "NOT calibrated" in said and "run `winback uplift fit` again" in said
