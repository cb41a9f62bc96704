"""The Model screen (`y`) at 80×24: model names whole ("Pareto/…", "Gamma-G…" before) and parameters as an operator
reads them — thousands separators for the large, three significant digits for the small ("beta 1.062e+04")."""

from __future__ import annotations

import pytest

from screens.columns import FitTable
from screens.propensity import ModelScreen
from tests.tui_helpers import demo_workspace, make_app, settle, wait_for


@pytest.mark.parametrize(("value", "shown"), [
    (10620.4, "10,620"), (9307.0, "9,307"), (693.4, "693"), (31.65, "31.6"), (5.129, "5.13"),
    (0.2426, "0.243"), (0.0001234, "0.000123"), (100.0, "100"), (0.0, "0"), (-2.5, "-2.50"),
])
def test_a_parameter_reads_without_e_notation(value, shown):
    from screens.propensity import parameter_text

    assert parameter_text(value) == shown


def _fit(params: dict[str, float], ll: float) -> dict:
    return {"params": params, "log_likelihood": ll, "customers": 18024, "converged": True, "message": "converged"}


# The demo's fit (20,000 customers): long parameters leave the model's name the least room
REPORT = {
    "run": 1, "unit": "weeks", "as_of": 1796688000, "fitted_at": 1796688000, "fitted_by": "root",
    "scores": {"customers": 18024, "mean_p_alive": 0.54, "scored_at": 1796688000, "p_alive_below_0_3": 6495},
    "models": {
        "bgnbd": _fit({"r": 5.129, "alpha": 31.65, "a": 693.4, "b": 9307.2}, -354693.0),
        "paretonbd": _fit({"r": 4.822, "alpha": 31.75, "s": 100.0, "beta": 10620.4}, -354774.8),
        "gammagamma": _fit({"p": 1.041, "q": 4.128, "gamma": 2111.3}, -131556.7),
    },
    "calibration": None, "calibration_rows": [],
}


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_model_screen_shows_whole_names_and_plain_numbers(tmp_path, monkeypatch, size):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelScreen), what="the model screen")
        await settle(pilot)
        app.screen.show_report(REPORT)
        table = app.screen.query_one("#model-params", FitTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="the model's table")
        await settle(pilot)
        # the cells as drawn (a cut name is cut when the table draws it, not in its data)
        rows = [table.render_line(y).text.strip() for y in range(table.size.height)]
        text = "\n".join(rows)
        for name in ("BG/NBD", "Pareto/NBD", "Gamma-Gamma"):
            assert any(row.startswith(name + " ") for row in rows), text
        assert "…" not in text and "e+" not in text, text
        assert "beta 10,620" in text and "b 9,307" in text and "alpha 31.6" in text, text
