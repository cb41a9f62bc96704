"""Overview: the heat map shows the layer grid of the dormant users (t: the lost), reads without colour (a shade
mark and the count in every cell, a legend in marks), and is a way in — Enter lists that cell's users."""

from __future__ import annotations

import pytest

from console import layers, segments
from screens.overview import LEGEND, SHADES, LayerMembersScreen, shade
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, type_text, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def _cell_counts(demo, state: str) -> dict[str, int]:
    db = demo.open()
    try:
        return {layer: n for layer, n in db.execute(
            "SELECT layer, count(*) FROM profiles WHERE dormancy = ? AND layer IS NOT NULL GROUP BY 1", [state])}
    finally:
        db.close()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_heat_map_counts_only_dormant_users_and_t_shows_the_lost(demo, size):
    dormant, lost = _cell_counts(demo, "dormant"), _cell_counts(demo, "lost")
    names = layers.settings(demo.config)
    assert dormant and lost and dormant != lost
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        heat = app.screen.query_one("#heat")
        rows, columns, cells = heat.matrix
        grid = {f"{t} {lo}": cells[i][j] for i, t in enumerate(names.temperature_names)
                for j, lo in enumerate(names.loyalty_names)}
        assert {k: v for k, v in grid.items() if v} == dormant
        assert str(app.screen.query_one("#layers").border_title) == "Dormant users by layer"
        await pilot.press("t")
        await wait_for(pilot, lambda: str(app.screen.query_one("#layers").border_title) == "Lost users by layer",
                       what="the heat map to show the lost users")
        rows, columns, cells = app.screen.query_one("#heat").matrix
        grid = {f"{t} {lo}": cells[i][j] for i, t in enumerate(names.temperature_names)
                for j, lo in enumerate(names.loyalty_names)}
        assert {k: v for k, v in grid.items() if v} == lost
        assert "t: dormant" in str(app.screen.query_one("#layers").border_subtitle)
        await pilot.press("t")
        await wait_for(pilot, lambda: str(app.screen.query_one("#layers").border_title) == "Dormant users by layer",
                       what="the heat map back on the dormant users")


async def test_enter_on_a_cell_lists_that_layers_dormant_users(demo):
    dormant = _cell_counts(demo, "dormant")
    names = layers.settings(demo.config)
    # The fullest dormant cell: walk the cursor there.
    layer = max(dormant, key=dormant.get)
    t, lo = next((i, j) for i, tn in enumerate(names.temperature_names) for j, ln in enumerate(names.loyalty_names)
                 if f"{tn} {ln}" == layer)
    db = demo.open()
    expected = segments.count(db, f'dormancy = dormant and layer = "{layer}"')
    db.close()
    assert expected == dormant[layer]
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l", *["down"] * t, *["right"] * lo, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LayerMembersScreen), what="the layer's users")
        table = app.screen.query_one("#layer-table")
        await wait_for(pilot, lambda: table.row_count == min(expected, 200), what="the layer's users listed")
        title = str(app.screen.query_one("#layer-members").border_title)
        assert title.startswith(f"dormant · {layer} · {expected:,} users"), title
        first = str(table.get_row_at(0)[0])
        await pilot.press("enter")                 # a member: their person page, over the list
        await wait_for(pilot, lambda: type(app.screen).__name__ == "PersonScreen", what="the person page")
        assert app.screen.user == first
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LayerMembersScreen), what="back on the layer's users")
        await pilot.press("n")                     # a segment of exactly these users: the rule is filled in
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SegmentEditorScreen", what="the segment editor")
        await type_text(pilot, "dormant-top-layer")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LayerMembersScreen), what="saved, back on the list")
        db = demo.open()
        assert segments.count(db, "dormant-top-layer") == expected
        db.close()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.current_mode == "overview" and not isinstance(app.screen,
                                                                                       LayerMembersScreen),
                       what="back on the overview")


async def test_under_no_color_every_cell_carries_a_mark_and_its_count_and_the_legend_says_so(demo, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    dormant = _cell_counts(demo, "dormant")
    app = make_app(demo)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        legend = text_of(pilot, "#heat-legend")
        assert legend == LEGEND and "darker" not in legend and SHADES[0] in legend and SHADES[-1] in legend
        drawn = text_of(pilot, "#heat")
        top = max(dormant.values())
        for n in dormant.values():
            assert f"{SHADES[shade(n, top)]} {n:,}" in drawn, (n, drawn)
        assert f"{SHADES[-1]} {top:,}" in drawn   # the fullest cell has the darkest mark, colour or not
        # No colour: the cells carry no background at all (a grey ramp could read the wrong way round).
        heat = app.screen.query_one("#heat")
        table = heat.render()
        styles = [str(cell.style) for column in table.columns[1:] for cell in column._cells]
        assert not any("on " in s for s in styles), styles


def test_shades_go_from_fewer_to_more():
    assert [shade(n, 100) for n in (0, 1, 25, 26, 50, 51, 75, 76, 100)] == [0, 0, 0, 1, 1, 2, 2, 3, 3]
