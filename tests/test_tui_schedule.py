"""The creation flow's schedule field reads a time as `winback campaign create --at` does (issue 16): one function,
console.campaigns.schedule — the workspace's zone, and a time already past refused in words (it was accepted,
and run-due then launched the campaign at once)."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Input, Select

from console.campaigns import model
from screens.new_campaign import NewCampaignScreen
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.tui_helpers import error_dialog_shown, make_app, settle, text_of, wait_for


async def test_the_schedule_field_refuses_a_past_time_and_schedules_a_later_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T10:00:00+08:00")
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv"}}))
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(NewCampaignScreen())
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and app.screen.query_one("#f-template", Select).value == "miss-you", what="the flow's choices")
        screen = app.screen
        screen.query_one("#f-name", Input).value = "later"
        screen.query_one("#f-schedule", Input).value = "2026-12-07 09:59"   # a minute ago, in the workspace's zone
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the refusal")
        assert "schedule '2026-12-07 09:59' is in the past" in text_of(pilot, "#error-message")
        await pilot.press("escape")
        await settle(pilot)
        assert model.list_campaigns(db) == []
        screen.query_one("#f-schedule", Input).value = "2026-12-08 09:00"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.created == "later", what="the draft")
    later = model.get(db, "later")
    assert later.status == "scheduled"
    assert later.next_run_at == int(datetime.fromisoformat("2026-12-08T09:00:00+08:00").timestamp())
