"""Model screen (issue 9): the latest propensity fit and its calibration chart, and the empty state before any
fit — opened with `y` from any screen, as the same report `winback model show` prints."""

from __future__ import annotations

from textual.widgets import DataTable

from console.propensity.report import describe_latest
from screens.propensity import ModelScreen
from tests.test_propensity_workspace import load_cdnow
from tests.tui_helpers import make_app, settle, text_of


async def test_the_model_screen_shows_the_fit_and_its_calibration_chart(workspace, db, cli):
    load_cdnow(db)
    fitted = cli("model", "fit", "--as-of", "1998-06-30", "--holdout", "273")
    assert fitted.exit_code == 0, fitted.output
    app = make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        assert not app.screen.query_one("#model-empty").display
        params = text_of(pilot, "#model-params")
        for shown in ("BG/NBD", "Pareto/NBD", "Gamma-Gamma", "alpha", "log-lik", "yes"):
            assert shown in params, shown
        bgnbd = describe_latest(db)["models"]["bgnbd"]["params"]
        assert f"r {bgnbd['r']:.4g}  alpha {bgnbd['alpha']:.4g}" in params
        summary = text_of(pilot, "#model-summary")
        assert "run 1" in summary and "scored 2,357 customers" in summary
        chart = text_of(pilot, "#model-chart")
        assert "next 273 days" in chart
        for bucket in ("0 repeat orders · 1,411 customers", "1 repeat orders", "6 repeat orders",
                       "7+ repeat orders", "all · 2,357 customers"):
            assert bucket in chart, bucket
        assert "█" in chart and "actual" in chart and "BG/NBD" in chart


async def test_before_any_fit_the_model_screen_says_what_to_run(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        assert "no model fitted yet — run `winback model fit`" in text_of(pilot, "#model-empty")
        assert not app.screen.query_one("#model-chart").display
        await pilot.press("question_mark")
        await settle(pilot)
        assert ("y", "Model") in app.screen.keys


async def test_segment_members_sort_by_propensity_with_S(workspace, db, cli):
    load_cdnow(db)
    db.execute("BEGIN")
    db.execute("INSERT INTO users (id, external_id, created_at, updated_at) VALUES (9001, 'never-ordered', 0, 0)")
    db.execute("COMMIT")
    assert cli("model", "fit", "--as-of", "1998-06-30", "--holdout", "0").exit_code == 0
    assert cli("segments", "create", "everyone", "--rule", "orders >= 0").exit_code == 0
    best = db.execute("SELECT u.external_id, s.p_alive FROM scores s JOIN users u ON u.id = s.user_id "
                      "ORDER BY s.p_alive DESC, s.user_id LIMIT 1").fetchone()
    app = make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_segment("everyone")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        members = app.screen.query_one("#seg-members", DataTable)
        assert "p alive" not in [str(c.label) for c in members.columns.values()]
        await pilot.press(*"SSSSS")  # id → last_order → last_seen → spend → orders → p_alive
        await settle(pilot)
        assert app.screen.order == "p_alive"
        assert "by p_alive" in text_of(pilot, "#segment-views")
        labels = [str(c.label) for c in members.columns.values()]
        assert labels[-1] == "p alive"
        first = members.get_row_at(0)
        assert str(first[0]) == best[0] and str(first[-1]) == f"{best[1]:.3f}"
        await pilot.press("S")  # expected_value: its own column replaces p_alive
        await settle(pilot)
        assert [str(c.label) for c in members.columns.values()][-1] == "exp. value"
