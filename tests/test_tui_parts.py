"""The console's parts on their own: stylesheets beside their screens, live tables that keep the cursor,
formatting, the overview's campaigns row."""

from __future__ import annotations

import re
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from console.campaigns import control, model
from screens.areas import area_screens
from screens.base import cursor_key, sync_table
from screens.format import bar, money, progress
from screens.new_campaign import NewCampaignScreen
from screens.segment_editor import SegmentEditorScreen
from tests.tui_helpers import demo_workspace, make_app, settle


def test_every_screen_has_its_stylesheet_beside_it_with_rules_rooted_at_its_class():
    screens = [*area_screens().values(), NewCampaignScreen, SegmentEditorScreen]
    for screen in screens:
        path = Path(__import__(screen.__module__, fromlist=["_"]).__file__).with_name(screen.CSS_PATH)
        assert path.exists(), f"{screen.__name__}: {path} is missing"
        css = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
        for selector in re.findall(r"(?:^|})\s*([^{}]+?)\s*{", css):
            for part in selector.split(","):
                assert part.strip().startswith(screen.__name__), f"{path.name}: {part.strip()!r} is not rooted"


class _TableApp(App):
    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("arm", key="arm")
        table.add_column("sent", key="sent")


async def test_live_updates_keep_the_cursor_on_its_row_even_when_rows_move():
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        sync_table(table, [("A", ["A", "1"]), ("B", ["B", "2"]), ("C", ["C", "3"])])
        await pilot.press("down")
        assert cursor_key(table) == "B"
        sync_table(table, [("A", ["A", "10"]), ("B", ["B", "20"]), ("C", ["C", "30"]), ("D", ["D", "1"])])
        assert cursor_key(table) == "B" and str(table.get_cell("B", "sent")) == "20"
        sync_table(table, [("D", ["D", "1"]), ("C", ["C", "3"]), ("B", ["B", "2"])])  # reordered, A gone
        assert cursor_key(table) == "B" and table.row_count == 3


def test_numbers_and_bars_read_as_the_sketches_show():
    assert money(128.4) == "¥128.40"
    assert money(None) == "—"
    assert bar(1.0, 4) == "████" and bar(0.0, 4) == "    " and len(bar(0.37, 10)) == 10
    assert progress(71, 100, width=10) == "███████░░░  71%"


async def test_overview_lists_a_launched_campaign_and_enter_opens_its_deliveries(tmp_path, monkeypatch):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = ws.open()
    model.create(db, "we-miss-you", segment="all", channel="sms", template="nostalgic-sms-zh", holdout=10)
    control.launch(db, ws.config, "we-miss-you")
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#campaign-table", DataTable)
        row = [str(c) for c in table.get_row_at(0)]
        assert row[0] == "we-miss-you" and row[1] == "sms" and row[2] == "completed"
        assert any(re.fullmatch(r"would [\d,]+", cell) for cell in row)   # a dry run's count: never shown as sent
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "deliveries" and app.screen.campaign == "we-miss-you"


async def test_a_log_shown_newest_first_takes_new_entries_without_a_rebuild_and_keeps_the_cursor():
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        newest_first = ("arm", lambda cell: int(cell))
        sync_table(table, [("1", ["1", "a"]), ("2", ["2", "b"]), ("3", ["3", "c"])], newest_first=newest_first)
        assert [str(table.get_row_at(i)[0]) for i in range(3)] == ["3", "2", "1"]
        await pilot.press("down")
        assert cursor_key(table) == "2"
        # one entry falls out of the window at the old end, one arrives at the new end
        sync_table(table, [("2", ["2", "b"]), ("3", ["3", "c"]), ("4", ["4", "d"])], newest_first=newest_first)
        assert [str(table.get_row_at(i)[0]) for i in range(3)] == ["4", "3", "2"]
        assert cursor_key(table) == "2"  # the cursor followed its row
        assert table.row_count == 3 and "1" not in [str(k.value) for k in table.rows]
