"""Messages screen: write a template, see it rendered for a real member, step to the next one, save it."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, TextArea

from console import templates
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


async def test_preview_follows_the_editor_and_steps_to_the_next_member(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("n")  # a new template from the starting point
        await wait_for(pilot, lambda: "member 1/400" in text_of(pilot, "#preview")
                       and "上新了" in text_of(pilot, "#preview"), what="the new template's preview for member 1")
        await settle(pilot)
        first = text_of(pilot, "#preview")
        assert "member 1/400" in first and "好久不见" in first and "上新了" in first
        assert "1 part" in first or "parts" in first
        await pilot.press("ctrl+n")
        await settle(pilot)
        second = text_of(pilot, "#preview")
        assert "member 2/400" in second
        assert second.splitlines()[0] != first.splitlines()[0]  # a different person
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "member 1/400" in text_of(pilot, "#preview")


async def test_a_mistake_in_the_template_is_shown_in_place_and_saving_works_once_fixed(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("n")
        editor = app.screen.query_one("#editor", TextArea)
        editor.load_text(editor.text.replace("user.name", "user.nmae"))
        await wait_for(pilot, lambda: "user.nmae" in text_of(pilot, "#problems"), what="the problem named in place")
        editor.load_text(editor.text.replace("user.nmae", "user.name"))
        await wait_for(pilot, lambda: "checks pass" in text_of(pilot, "#problems"), what="checks pass once fixed")
        await pilot.press("ctrl+s")
        await settle(pilot)
        table = app.screen.query_one("#templates-table", DataTable)
        assert "miss-you" in [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    db = demo.open()
    assert templates.get(db, "miss-you").version == 1


async def test_lint_over_a_segment_reports_in_the_preview_pane(demo):
    db = demo.open()
    templates.save(db, templates.parse_toml('name = "hello"\nchannel = "sms"\nbody = "{{ user.name }}，好久不见"\n'))
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("ctrl+g", *"all", "enter", "enter", "enter")
        await pilot.press("ctrl+l")
        await settle(pilot)
        report = text_of(pilot, "#preview")
        assert "lint hello over all: 400 recipients" in report
