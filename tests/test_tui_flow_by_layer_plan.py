"""The creation flow with offer "by layer": ctrl+s creates the draft and the Plan pane shows the plan (issue seen
in tmux at 80x24: the by-layer preview and the plan both ran, the pane said "no such table: temp.plan_audience"
and spun for ever)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from console import recommendations
from console.campaigns import model
from screens.new_campaign import BY_LAYER, NewCampaignScreen
from tests.tui_helpers import demo_workspace, error_dialog_shown, make_app, settle, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


async def _open_creation_flow(pilot) -> None:
    """Campaigns (c), then a new campaign (n): the creation flow once its segment choices have loaded."""
    app = pilot.app
    await pilot.press("c")
    await settle(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                   and "dormant" in [str(v) for _, v in app.screen.query_one("#f-segment", Select)._options],
                   what="the creation flow with its segments")


async def test_ctrl_s_with_offer_by_layer_creates_the_draft_and_shows_its_plan(demo):
    # Recommendations out of date (as after an import): the plan's sample render rebuilds them on the plan's own
    # connection while temp.plan_audience is alive; the rebuild must not drop it (storage/temp_store.py).
    db = demo.open()
    with db.conn:
        db.execute("DELETE FROM settings WHERE key = ?", [recommendations.MARK_KEY])
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_creation_flow(pilot)
        app.screen.query_one("#f-name", Input).value = "by-layer"
        app.screen.query_one("#f-segment", Select).value = "dormant"
        app.screen.query_one("#f-offer", Select).value = BY_LAYER
        await wait_for(pilot, lambda: "what each layer gets" in text_of(pilot, "#plan"), what="the by-layer table")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "to send" in text_of(pilot, "#plan"), what="the plan's funnel")
        assert not app.screen.query_one("#plan").loading
        db = demo.open()
        assert model.get(db, "by-layer").offer_by_layer
        db.close()


class _PlanBug(Exception):
    """Stands in for a bug in the plan (nothing an operator could fix)."""


async def test_a_plan_that_fails_with_a_bug_says_so_in_the_pane_instead_of_spinning(demo, monkeypatch):
    from screens import sources

    real_plan = sources.plan_campaign

    def broken_plan(db, config, name, *args: object, **kwargs: object) -> dict:
        if name != "broken":   # the demo's simulated past campaign, shown as the Campaigns screen opens
            return real_plan(db, config, name, *args, **kwargs)
        raise _PlanBug("no such table: temp.plan_audience")

    monkeypatch.setattr(sources, "plan_campaign", broken_plan)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_creation_flow(pilot)
        app.screen.query_one("#f-name", Input).value = "broken"
        app.screen.query_one("#f-segment", Select).value = "dormant"
        await pilot.press("ctrl+s")
        # A bug is still called one (the app's dialog) ...
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the bug dialog")
        assert "_PlanBug: no such table" in text_of(pilot, "#error-message")
        await pilot.press("escape")
        # ... and the pane where the plan was loading says it failed, instead of spinning for ever.
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and "cannot plan" in text_of(pilot, "#plan"), what="the failure in the plan pane")
        assert not app.screen.query_one("#plan").loading
        assert "_PlanBug: no such table: temp.plan_audience" in text_of(pilot, "#plan")
