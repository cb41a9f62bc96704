"""The command palette reaches the operator's main actions by name from any screen."""

from __future__ import annotations

import pytest

from console import templates
from console.audit import recent
from console.campaigns import control, model, tallies
from console.policy import quiet_hours
from screens.deliveries import DeliveriesScreen
from screens.dialogs import ChoiceDialog, ConfirmDialog
from screens.new_campaign import NewCampaignScreen
from screens.segment_editor import SegmentEditorScreen
from tests.tui_helpers import demo_workspace, make_app, run_command, settle, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml('name = "miss-you"\nchannel = "sms"\nbody = "好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    db.close()
    return workspace


async def choose(pilot, name: str) -> None:
    """In the ChoiceDialog: arrows down to `name`, then Enter."""
    options = pilot.app.screen.query_one("#choices")
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    await pilot.press(*["down"] * ids.index(name), "enter")


async def test_new_segment_and_new_campaign_from_another_screen(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        await run_command(pilot, "new segment")
        assert app.current_mode == "segments" and isinstance(app.screen, SegmentEditorScreen)
        await pilot.press("escape")
        await pilot.press("p")
        await settle(pilot)
        await run_command(pilot, "new campaign")
        assert app.current_mode == "campaigns" and isinstance(app.screen, NewCampaignScreen)


async def test_launch_a_dry_run_by_name_from_the_overview(demo):
    db = demo.open()
    model.create(db, "from-palette", segment="all", channel="sms", template="miss-you")
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await run_command(pilot, "launch a campaign")
        assert isinstance(app.screen, ChoiceDialog)
        assert "from-palette" in str(app.screen.query_one("#choices").get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "completed" in text_of(pilot, "#deliveries-title"), what="Deliveries: completed")
        assert "dry-run" in text_of(pilot, "#deliveries-title")
    assert tallies.tally(db, "from-palette")["waiting"] == 0


async def test_pause_resume_and_cancel_by_name_from_any_screen(demo):
    db = demo.open()
    for name in ("half-sent", "other"):
        model.create(db, name, segment="all", channel="sms", template="miss-you", holdout=0)
        control.launch(db, demo.config, name, should_stop=lambda: True)  # interrupted after one batch
    db.execute("UPDATE campaigns SET status = 'paused' WHERE name = 'other'")
    assert model.get(db, "half-sent").status == "running" and tallies.tally(db, "half-sent")["waiting"] > 0
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await run_command(pilot, "pause a running")
        assert isinstance(app.screen, ChoiceDialog)
        assert app.screen.query_one("#choices").option_count == 1  # only the running one is offered
        await pilot.press("enter")
        await wait_for(pilot, lambda: model.get(db, "half-sent").status == "paused", what="half-sent paused")
        assert app.current_mode == "deliveries"

        await pilot.press("s")
        await settle(pilot)
        await run_command(pilot, "resume a paused")
        assert isinstance(app.screen, ChoiceDialog) and app.screen.query_one("#choices").option_count == 2
        await choose(pilot, "half-sent")
        await wait_for(pilot, lambda: "half-sent" in text_of(pilot, "#deliveries-title")
                       and "completed" in text_of(pilot, "#deliveries-title"), what="Deliveries: half-sent completed")
        assert tallies.tally(db, "half-sent")["waiting"] == 0

        await pilot.press("p")
        await settle(pilot)
        await run_command(pilot, "cancel a running")
        await choose(pilot, "other")  # the only one left (paused)
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, lambda: model.get(db, "other").status == "cancelled", what="other cancelled")
    actions = [e["action"] for e in recent(db, action="campaign.*")][:3]
    assert actions == ["campaign.cancel", "campaign.resume", "campaign.pause"]
