"""The new-campaign form's template starts at one of the workspace's language for the chosen channel: in a zh_CN
workspace it was the alphabetically first, nostalgic-sms-en."""

from __future__ import annotations

from textual.widgets import Select

from screens.new_campaign import NewCampaignScreen
from tests.tui_helpers import demo_workspace, make_app, settle, wait_for


async def test_the_default_template_is_in_the_workspaces_language_for_the_channel(tmp_path, monkeypatch):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    assert ws.config.locale == "zh_CN"
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and app.screen.query_one("#f-template", Select).value != Select.NULL, what="the form")
        template = app.screen.query_one("#f-template", Select)
        assert template.value == "nostalgic-sms-zh", template.value
        app.screen.query_one("#f-channel", Select).value = "email"
        await wait_for(pilot, lambda: str(template.value).startswith("nostalgic-email"), what="an email template")
        assert template.value == "nostalgic-email-zh", template.value
