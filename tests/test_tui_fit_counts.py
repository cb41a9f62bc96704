"""Counts shown by the other screens follow FitTable's rules too (issue 18, "fits at 80 columns"): whole, with
thousands separators, right-aligned; checked on the painted table at 80×24 and 160×45."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.widget import Widget

from console.policy import caps
from screens.columns import FitTable
from tests.tui_helpers import make_app, settle, wait_for

SIZES = [(80, 24), (160, 45)]


def _lines(widget: Widget) -> list[str]:
    """What the widget shows, line by line, as painted."""
    width, height = widget.size
    return ["".join(segment.text for segment in strip) for strip in widget.render_lines(Region(0, 0, width, height))]


@pytest.mark.parametrize("size", SIZES)
async def test_a_caps_limit_is_a_count_with_separators(workspace, db, size):
    caps.set_rule(db, caps.parse_rule("sms", "25000/7d"))
    app = make_app(workspace)
    async with app.run_test(size=size) as pilot:
        await pilot.press("p")
        table = app.screen.query_one("#caps-table", FitTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the cap")
        await settle(pilot)
        header, line = _lines(table)[:2]
        assert "sms" in line and "25,000" in line and "7d" in line, line
        # right-aligned: the count ends where its header ends
        assert line.index("25,000") + len("25,000") == header.index("at most") + len("at most"), (header, line)
