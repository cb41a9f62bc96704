"""Segments screen: create a segment and see its count as you type; parse errors in place; members masked
until unmasked (audited)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from console import segments
from console.audit import recent
from screens.segment_editor import SegmentEditorScreen
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, type_text, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def cells(table: DataTable, column: int) -> list[str]:
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def test_create_a_segment_and_see_its_count(demo):
    db = demo.open()
    expected = segments.count(db, "dormancy = dormant and orders >= 2")
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, SegmentEditorScreen)
        await type_text(pilot, "dormant-buyers")
        await pilot.press("tab")
        await wait_for(pilot, lambda: app.focused is app.screen.query_one("#segment-rule"), what="the rule field")
        await type_text(pilot, "dormancy = dormant and orders >=")
        await wait_for(pilot, lambda: "column" in text_of(pilot, "#rule-result")
                       or "^" in text_of(pilot, "#rule-result"), what="the half-typed rule's mistake pointed at")
        await pilot.press(*" 2")
        await wait_for(pilot, lambda: f"{expected:,} users match now" in text_of(pilot, "#rule-result"),
                       what=f"'{expected:,} users match now'")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, SegmentEditorScreen)
        await settle(pilot)
        table = app.screen.query_one("#segments-table", DataTable)
        row = cells(table, 0).index("dormant-buyers")
        assert str(table.get_row_at(row)[1]) == f"{expected:,}"
    assert segments.get(db, "dormant-buyers").rule_text == "dormancy = dormant and orders >= 2"


async def test_members_are_masked_until_unmasked_and_unmasking_is_audited(demo):
    app = make_app(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        members = app.screen.query_one("#seg-members", DataTable)
        phones = [p for p in cells(members, 2) if p]
        assert phones and all("****" in p for p in phones)
        await pilot.press("U")
        await settle(pilot)
        phones = [p for p in cells(members, 2) if p]
        assert phones and not any("****" in p for p in phones)
    assert recent(demo.open(), action="segment.unmask")


async def test_breakdown_and_layers_of_the_selected_segment(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        assert "warm" in text_of(pilot, "#seg-layers") or "no profiled users" in text_of(pilot, "#seg-layers")
        await pilot.press("2")
        await settle(pilot)
        assert "by region" in text_of(pilot, "#seg-breakdown")
        await pilot.press("v")
        await settle(pilot)
        assert "by gender" in text_of(pilot, "#seg-breakdown")


async def test_slash_filters_the_list_as_you_type_enter_keeps_it_and_escape_clears_it(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        table = app.screen.query_one("#segments-table", DataTable)
        everything = table.row_count
        await pilot.press("slash", *"cold")
        assert cells(table, 0) == ["cold-loyal", "cold-regular", "cold-light"]
        await pilot.press("enter")  # back to the list, filter kept (issue 18: Esc clears it)
        assert app.screen.focused is table and app.current_mode == "segments"
        await settle(pilot)
        assert table.row_count == 3  # the filter stays while the list refreshes
        await pilot.press("slash", "escape")
        assert table.row_count == everything and app.screen.focused is table
