"""Model screen (issue 9): the latest propensity fit and its calibration chart, and the empty state before any
fit — opened with `y` from any screen, as the same report `winback model show` prints."""

from __future__ import annotations

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
