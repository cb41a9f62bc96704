"""`?` uses the terminal's height: at 160x45 the tmux tour found the key list cut at 18 rows behind a scroll bar
(Import and Quit out of sight) with half the screen empty; at 80x24 it still fits inside the screen."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.tui_helpers import make_app, settle, wait_for


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_help_shows_as_many_keys_as_the_terminal_has_rows(workspace, size):
    from screens.help import HelpScreen

    app = make_app(workspace)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        box = table.parent
        assert box is not None and box.region.bottom <= size[1] and box.region.y >= 0   # inside the screen
        rows_needed = table.virtual_size.height
        if size == (160, 45):
            assert table.size.height >= rows_needed, (table.size.height, rows_needed)   # nothing to scroll to
        else:
            assert table.size.height >= min(rows_needed, size[1] - 6)   # all the room the screen has
