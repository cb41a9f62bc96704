"""A newcomer's audit of the Model screen (`y`): the Qini curve's model and random lines are told apart by their
glyphs, not only by colour (16 colours, NO_COLOR)."""

from __future__ import annotations

import json

import pytest

from screens.propensity import ModelScreen
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for

CURVE = [{"share": s / 10, "extra_returns": e, "random": r} for s, e, r in (
    (0, 0.0, 0.0), (1, 242.6, 58.5), (2, 392.5, 117.0), (3, 485.7, 175.4), (4, 513.6, 233.9), (5, 507.6, 292.4),
    (6, 506.0, 350.9), (7, 511.6, 409.3), (8, 516.8, 467.8), (9, 520.5, 526.3), (10, 584.8, 584.8))]


@pytest.fixture
def fitted(tmp_path, monkeypatch):
    """The demo with an uplift fit stored as `winback uplift fit` stores one (its report: the figures of a fit of
    the 20,000-user demo; fitting here would take seconds)."""
    monkeypatch.setenv("NO_COLOR", "1")
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    report = {"verdict": "usable: the model ranks those a message changes first", "treated": 12_909,
              "control": 1_434, "treated_conversions": 3_100, "control_conversions": 280, "qini": 0.131,
              "qini_low": 0.096, "qini_high": 0.155, "uplift_at": {"10": {"uplift": 0.238}, "20": {"uplift": 0.192}},
              "curve": CURVE, "by_layer": []}
    db = workspace.open()
    db["uplift_fits"].insert({"fitted_at": 1_795_000_000, "fitted_by": "tester", "campaigns": "[]", "treated": 12_909,
                              "control": 1_434, "treated_conversions": 3_100, "control_conversions": 280,
                              "qini": 0.131, "qini_low": 0.096, "qini_high": 0.155, "usable": 1,
                              "verdict": report["verdict"], "report": json.dumps(report)})
    db.close()
    return workspace


async def test_the_qini_legend_and_lines_differ_by_glyph_not_only_colour(fitted):
    app = make_app(fitted)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color   # as an operator with NO_COLOR sees it
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelScreen)
                       and "Qini curve" in text_of(pilot, "#model-uplift"), what="the Qini curve on the Model screen")
        await settle(pilot)
        lines = text_of(pilot, "#model-uplift").splitlines()
        legend = next(line for line in lines if "model" in line and "random" in line)
        model_mark = legend.split("model")[0].strip()[-1]
        random_mark = legend.split("random")[0].strip()[-1]
        assert model_mark != random_mark, legend
        start = lines.index(legend) + 1
        model_rows, random_rows = lines[start:start + 10:2], lines[start + 1:start + 10:2]
        assert all(model_mark in row and random_mark not in row for row in model_rows[1:]), model_rows
        assert all(random_mark in row and model_mark not in row for row in random_rows[1:]), random_rows
