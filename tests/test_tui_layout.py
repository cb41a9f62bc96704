"""Readable at 80×24: what the tour through tmux found cut off, checked so it stays fixed."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.tui_helpers import demo_workspace, make_app, settle


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def fits(table: DataTable) -> bool:
    """Every column shows without scrolling sideways."""
    return table.virtual_size.width <= table.scrollable_content_region.width


async def test_segment_members_take_the_whole_width_at_80_columns(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        members = app.screen.query_one("#seg-members", DataTable)
        assert members.row_count and fits(members)
        assert not app.screen.query_one("#segment-list").display
        assert [str(k.value) for k in members.columns][-1] == "last order"
        for _ in range(6):  # S: sorted by expected value, a score column joins and still everything fits
            await pilot.press("S")
        await settle(pilot)
        assert "exp. value" in [str(k.value) for k in members.columns] and fits(members)
        await pilot.press("1")  # the list comes back with the layer view
        assert app.screen.query_one("#segment-list").display
        assert app.screen.focused is app.screen.query_one("#segments-table")


async def test_segment_members_keep_the_layer_column_when_there_is_room(demo):
    app = make_app(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        members = app.screen.query_one("#seg-members", DataTable)
        assert "layer" in [str(k.value) for k in members.columns] and fits(members)
        assert app.screen.query_one("#segment-list").display


async def test_template_list_shows_its_channel_column_at_80_columns(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        assert fits(app.screen.query_one("#templates-table", DataTable))


async def test_consent_of_every_main_channel_shows_in_the_policy_box_at_80_columns(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        consent = app.screen.query_one("#consent")
        lines = str(consent.content).splitlines()
        box = app.screen.query_one("#rules-box").content_region
        for channel in ("sms", "email", "push"):
            row = next(i for i, line in enumerate(lines) if line.startswith(channel))
            assert consent.region.y + row < box.bottom, f"{channel} is below the box"


async def test_the_palette_leaves_out_textual_commands_an_operator_has_no_use_for(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Screenshot" not in titles and "Maximize" not in titles and "Quit" in titles
