"""Names are cut only when they really do not fit (issue 18, the tmux tour): a short list keeps no room for a
scrollbar it does not have, and extra columns go before a name is cut — at 160 columns nothing is cut."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import DataTable

from console.campaigns import control, model
from console.policy import quiet_hours
from screens.campaigns import CampaignsScreen
from screens.columns import Column, fit
from screens.deliveries import DeliveriesScreen
from tests.tui_helpers import demo_workspace, make_app, settle, wait_for

NOW = "2026-11-25T11:00:00+08:00"
NAME = "dec-cold-light"


def _cells(table: DataTable) -> list[str]:
    return [c.plain if isinstance(c, Text) else str(c) for i in range(table.row_count) for c in table.get_row_at(i)]


@pytest.fixture
def launched(tmp_path, monkeypatch):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = ws.open()
    quiet_hours.set_quiet_hours(db, "off")
    model.create(db, NAME, segment="all", channel="sms", template="nostalgic-sms-en", holdout=10)
    control.launch(db, ws.config, NAME)
    db.close()
    return ws


def test_a_name_that_fits_exactly_is_not_cut() -> None:
    columns = (Column("name", "name", "name"), Column("n", "n", "count"))
    assert fit(columns, {"name": 14, "n": 5}, 14 + 5 + 4) == [(columns[0], 14), (columns[1], 5)]


def test_extra_columns_go_before_a_name_is_cut() -> None:
    columns = (Column("name", "name", "name"), Column("state", "state", priority=1),
               Column("cost", "cost", "count", priority=6))
    natural = {"name": 14, "state": 20, "cost": 7}
    assert fit(columns, natural, 14 + 20 + 4, extras_first=True) == [(columns[0], 14), (columns[1], 20)]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_campaigns_list_cuts_no_name_that_fits(launched, size):
    app = make_app(launched)
    async with app.run_test(size=size) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen), what="the Campaigns list")
        table = app.screen.query_one("#campaigns-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="both campaigns")
        await settle(pilot)
        cells = _cells(table)
        assert NAME in cells, cells  # 14 cells: fits at 80 (the tour saw dec-cold-li…) and at 160
        if size[0] >= 160:
            assert not [c for c in cells if c.endswith("…")], cells


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_tally_keeps_no_room_for_a_scrollbar_it_has_not(launched, size):
    app = make_app(launched)
    async with app.run_test(size=size) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen), what="Deliveries")
        tally = app.screen.query_one("#tally-table", DataTable)
        await wait_for(pilot, lambda: tally.row_count == 3, what="the tally")
        await settle(pilot)
        used = sum(column.get_render_width(tally) for column in tally.columns.values())
        cells = _cells(tally)
        cut = [c for c in cells if c.endswith("…")]
        # Cut only when the table is full to its last cell (no scrollbar: three rows fit).
        assert not cut or used == tally.size.width, (cut, used, tally.size.width)
        if size[0] >= 160:
            assert not cut, cells
