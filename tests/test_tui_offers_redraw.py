"""Offers screen at 80x24: after Enter on a cell maps another offer, the layer grid redraws whole — row labels and
full offer names — not squeezed until the screen is left (seen in tmux on the demo)."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.widgets import DataTable

from console import offers
from console.segments import counts
from screens.dialogs import ChoiceDialog
from screens.offers import OffersScreen
from tests.tui_helpers import demo_workspace, make_app, settle, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def grid_text(pilot) -> str:
    """The grid as it is painted (what the operator reads), line by line."""
    grid = pilot.app.screen.query_one("#offer-grid", DataTable)
    lines = grid.render_lines(Region(0, 0, grid.size.width, grid.size.height))
    return "\n".join(line.text.rstrip() for line in lines)


def _cold_light(matrix: dict) -> tuple[int, int]:
    for i, row in enumerate(matrix["layers"]):
        for j, layer in enumerate(row):
            if layer == "cold light":
                return i, j
    raise AssertionError("no cold light layer in the demo")


async def test_the_grid_keeps_its_labels_and_offer_names_after_a_mapping_change(demo):
    db = demo.open()
    matrix = counts.layer_matrix(db, None, config=demo.config)
    mapped = {layer: o.name for layer, o in offers.layer_map(db).items()}
    db.close()
    row, column = _cold_light(matrix)
    labels = [label.split(" (")[0] for label in matrix["rows"]]
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen)
                       and app.screen.query_one("#offer-grid", DataTable).row_count > 0, what="the layer grid")
        await wait_for(pilot, lambda: all(label in grid_text(pilot) for label in labels),
                       what="the grid's row labels before the change")
        before = grid_text(pilot)
        grid = app.screen.query_one("#offer-grid", DataTable)
        grid.move_cursor(row=row, column=column + 1, animate=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the offer choice")
        await pilot.press("down", "down", "enter")  # back10 back20 back50
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen)
                       and app.screen._grid["cells"][row][column]["offer"] == "back50",
                       what="the grid data with back50 for cold light")
        await settle(pilot)
        # The terminal may paint the moment the new grid is filled, before the table's next idle; what is painted
        # then (and cached) must already be the whole grid. Paint right after the redraw, as a busy tmux did.
        screen = app.screen
        screen.show_offers(screen._shown["offers"])
        painted_at_once = grid_text(pilot)
        await settle(pilot)
        after = grid_text(pilot)
        assert painted_at_once == after, (painted_at_once, after)
        mapped["cold light"] = "back50"
        lines = after.splitlines()
        for i, layers in enumerate(matrix["layers"]):
            # header, then three lines per layer row: its label and users, the offers, their face values
            assert lines[1 + 3 * i].split()[0] == labels[i], after
            assert lines[2 + 3 * i].split() == [mapped[layer] for layer in layers], after
        # Same layout as before, only the one cell's offer (and its value) changed.
        assert [len(line) > 0 for line in after.splitlines()] == [len(line) > 0 for line in before.splitlines()]
        assert max(map(len, after.splitlines())) == max(map(len, before.splitlines()))
