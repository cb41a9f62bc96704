"""Model screen (issue 9): the latest propensity fit and its calibration chart, and the empty state before any
fit — opened with `y` from any screen, as the same report `winback model show` prints."""

from __future__ import annotations

import copy

from rich.text import Text
from textual.geometry import Region
from textual.widgets import DataTable

from console.propensity.report import describe_latest
from screens.columns import FitTable
from screens.propensity import ModelScreen, parameter_text
from screens.sources import model_report
from tests.test_propensity_workspace import load_cdnow
from tests.tui_helpers import make_app, settle, text_of


def _painted(table: DataTable) -> list[str]:
    """The table's lines as painted (what the operator reads)."""
    width, height = table.size
    return ["".join(s.text for s in strip) for strip in table.render_lines(Region(0, 0, width, height))]


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
        params = "\n".join(_painted(app.screen.query_one("#model-params", DataTable)))
        for shown in ("BG/NBD", "Pareto/NBD", "Gamma-Gamma", "alpha", "log-lik", "yes"):
            assert shown in params, shown
        bgnbd = describe_latest(db)["models"]["bgnbd"]["params"]
        assert f"r {parameter_text(bgnbd['r'])}  alpha {parameter_text(bgnbd['alpha'])}" in params
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


async def test_the_parameters_fit_at_80_columns_each_whole_and_counts_whole_when_wide(workspace, db, cli):
    """Issue 18: at 80 columns every parameter shows whole (the rich table wrapped them over lines); the
    log-likelihood and customers are left out, never cut; at 160 they show, with thousands separators."""
    load_cdnow(db)
    assert cli("model", "fit", "--as-of", "1998-06-30", "--holdout", "0").exit_code == 0
    report = copy.deepcopy(model_report(db))
    assert report is not None
    for fit in report["models"].values():
        fit["customers"] = 412_345   # a workspace of that size (the CDNOW sample has 2,357)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        app.screen.show_report(report)
        await settle(pilot)
        table = app.screen.query_one("#model-params", FitTable)
        for size in ((80, 24), (160, 45)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            lines = _painted(table)
            assert not [line for line in lines if "…" in line], lines
            assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
            for name, label in (("bgnbd", "BG/NBD"), ("paretonbd", "Pareto/NBD"), ("gammagamma", "Gamma-Gamma")):
                line = next(line for line in lines if label in line)
                for key, value in report["models"][name]["params"].items():
                    assert f"{key} {parameter_text(value)}" in line, (key, line)
                assert "yes" in line or "NO" in line, line
                if size[0] >= 160:
                    assert "412,345" in line and f"{report['models'][name]['log_likelihood']:,.1f}" in line, line
        cells = [c.plain if isinstance(c, Text) else str(c) for c in table.get_row("bgnbd")]
        assert "412,345" in cells
