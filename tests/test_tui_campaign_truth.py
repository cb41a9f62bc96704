"""The console says what is true of a campaign's money and progress (issue #12 point 9).

A dry run's money "would cost"; a cancelled campaign shows its cancelled count and stops short of 100%; the plan
of a campaign that cannot start again shows the audience frozen at launch, not "segment 0".
"""

from __future__ import annotations

import pytest

from console import templates
from console.campaigns import control, freeze, model
from console.policy import quiet_hours
from screens.dialogs import TypedCountDialog
from tests.tui_helpers import demo_workspace, make_app, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml('name = "hi"\nchannel = "sms"\nbody = "{{ user.name }}，好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    db.close()
    return workspace



async def test_a_dry_run_would_cost_on_deliveries_and_the_overview(demo):
    db = demo.open()
    model.create(db, "nov-recall", segment="all", channel="sms", template="hi", holdout=0)
    control.launch(db, demo.config, "nov-recall")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "would ¥" in _overview_cost(app), what="the overview's cost")
        from textual.widgets import DataTable

        table = app.screen.query_one("#campaign-table", DataTable)
        await wait_for(pilot, lambda: table.virtual_size.width <= table.scrollable_content_region.width,
                       what="the campaigns table, 'would ¥…' included, fitting 80 columns")
        app.followed_campaign = "nov-recall"
        await pilot.press("d")
        await wait_for(pilot, lambda: "would cost ¥" in text_of(pilot, "#rate-line"), what="would cost on Deliveries")
        assert "spent" not in text_of(pilot, "#rate-line")
        await pilot.press("c")
        listed = app.screen.query_one("#campaigns-table", DataTable)
        # beside the demo's simulated past campaign (fixtures/demo_uplift.py)
        await wait_for(pilot, lambda: listed.row_count == 2, what="the campaign in the list")
        # "completed ·dry" and its sent count fit beside the plan at 80 columns (the count was cut to "2,50")
        await wait_for(pilot, lambda: listed.virtual_size.width <= listed.scrollable_content_region.width,
                       what="the campaigns list fitting 80 columns")


def _overview_cost(app) -> str:
    from textual.widgets import DataTable

    table = app.screen.query_one("#campaign-table", DataTable)
    return " ".join(str(table.get_row_at(i)[-1]) for i in range(table.row_count))


async def test_a_cancelled_campaign_shows_its_cancelled_count_and_honest_progress(demo):
    db = demo.open()
    model.create(db, "stopped", segment="all", channel="sms", template="hi", holdout=0)
    freeze.freeze(db, model.get(db, "stopped"), dry_run=True, config=demo.config)  # frozen, none sent yet
    cancelled = control.cancel(db, "stopped", "wrong offer")["cancelled"]
    db.close()
    assert 0 < cancelled <= 400
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        app.followed_campaign = "stopped"
        await pilot.press("d")
        await wait_for(pilot, lambda: "cancelled" in text_of(pilot, "#skipped-line"), what="the cancelled count")
        assert f"cancelled: {cancelled:,}" in text_of(pilot, "#skipped-line")
        assert "100%" not in text_of(pilot, "#rate-line")
        await pilot.press("c")
        await wait_for(pilot, lambda: "frozen at launch" in text_of(pilot, "#campaign-plan-text"), what="the frozen audience in the plan")
        plan = text_of(pilot, "#campaign-plan-text")
        assert "was cancelled" in plan and "segment " not in plan
        await pilot.press("L")  # a real launch of a cancelled campaign: no count to type, it says why not
        await wait_for(pilot, lambda: any("was cancelled" in str(n.message) for n in app._notifications),
                       what="the refusal")
        assert not isinstance(app.screen, TypedCountDialog)
