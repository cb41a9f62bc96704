"""Never lose work (issue 18): leaving an edited segment rule, an edited template or an unfinished creation flow
asks first, and so does quitting; with nothing typed nothing is asked. The real-send switch reads differently on
and off, not only in colour."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input, TextArea

from console import segments, templates
from screens.dialogs import ConfirmDialog
from screens.messages import MessagesScreen
from screens.new_campaign import REAL_OFF, REAL_ON, NewCampaignScreen
from screens.segment_editor import SegmentEditorScreen
from tests.tui_helpers import demo_workspace, make_app, settle, type_text, wait_for

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


@pytest.mark.parametrize("size", SIZES)
async def test_leaving_a_typed_segment_rule_asks_first(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SegmentEditorScreen), what="the segment editor")
        await pilot.press("escape")  # nothing typed: leaves at once
        await wait_for(pilot, lambda: not isinstance(app.screen, SegmentEditorScreen), what="leaving at once")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SegmentEditorScreen), what="the segment editor")
        await type_text(pilot, "big-spenders")
        await pilot.press("tab")
        await wait_for(pilot, lambda: app.focused is app.screen.query_one("#segment-rule"), what="the rule field")
        await type_text(pilot, "orders >= 5")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        assert "big-spenders is not saved" in app.screen.body
        await pilot.press("n")  # stay: the rule is still there
        assert isinstance(app.screen, SegmentEditorScreen)
        assert app.screen.query_one("#segment-rule", Input).value == "orders >= 5"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.current_mode == "segments" and not isinstance(
            app.screen, SegmentEditorScreen | ConfirmDialog), what="back on Segments")
        db = demo.open()
        assert "big-spenders" not in [s.name for s in segments.list_segments(db)]
        db.close()


@pytest.mark.parametrize("size", SIZES)
async def test_opening_another_template_over_edits_asks_and_a_saved_one_does_not(demo, size):
    db = demo.open()
    names = [t["name"] for t in templates.list_templates(db)]
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("m")
        editor = app.screen.query_one("#editor", TextArea)
        await wait_for(pilot, lambda: editor.text.strip() != "", what="the first template in the editor")
        first = editor.text
        editor.insert("# my change\n", (0, 0))
        await settle(pilot)
        table = app.screen.query_one("#templates-table")
        table.focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        await pilot.press("escape")  # Esc: stay
        assert isinstance(app.screen, MessagesScreen) and editor.text.startswith("# my change")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question again")
        await pilot.press("y")  # open the other one: the edits are dropped
        await wait_for(pilot, lambda: isinstance(app.screen, MessagesScreen) and editor.text != first
                       and not editor.text.startswith("# my change"), what="the other template")
        assert len(names) > 1
        await pilot.press("up", "enter")  # nothing edited: opens without asking
        await wait_for(pilot, lambda: editor.text == first, what="the first template again, unasked")


async def test_quitting_with_an_unfinished_campaign_asks_and_the_real_switch_reads_on_or_off(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen), what="the creation flow")
        switch = app.screen.query_one("#f-real", Checkbox)
        assert str(switch.label) == REAL_OFF
        switch.value = True
        await settle(pilot)
        assert str(switch.label) == REAL_ON
        switch.value = False
        await pilot.press(*"nov-sms")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="quit asks first")
        assert "The new campaign nov-sms is not saved" in app.screen.body
        await pilot.press("n")
        assert isinstance(app.screen, NewCampaignScreen) and app.is_running
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="Esc asks first")
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewCampaignScreen | ConfirmDialog),
                       what="the flow left")
