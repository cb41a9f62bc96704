"""Overview: the layer heat map is a way in — arrows move between cells, Enter opens that layer's segment."""

from __future__ import annotations

import pytest

from console import layers, segments
from screens.segments import SegmentsScreen
from tests.tui_helpers import demo_workspace, make_app, settle, text_of


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


async def test_enter_on_a_heat_map_cell_opens_that_layers_preset_segment(demo):
    db = demo.open()
    expected = segments.count(db, "cool-regular")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")                 # to the heat map (Tab reaches it too)
        await pilot.press("down", "right")     # warm loyal → cool loyal → cool regular
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "segments"
        assert isinstance(app.screen, SegmentsScreen)
        assert app.screen.selected == "cool-regular"
        await settle(pilot)
        assert str(app.screen.query_one("#segment-detail").border_title) == f"cool-regular · {expected:,} users"


async def test_arrows_stop_at_the_edges_and_a_layer_without_a_preset_says_so(demo):
    db = demo.open()
    db.execute("DELETE FROM segments WHERE name = 'cold-light'")
    names = layers.settings(demo.config)
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l", *["down"] * 6, *["right"] * 6)   # far past the corner: stays on cold × light
        heat = app.screen.query_one("#heat")
        assert heat.cursor == (len(names.temperature_names) - 1, len(names.loyalty_names) - 1)
        assert "cold" in text_of(pilot, "#heat")
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "overview"
        messages = [n.message for n in app._notifications]
        assert any("No preset segment for cold" in m for m in messages), messages
