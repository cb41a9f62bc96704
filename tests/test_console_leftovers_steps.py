"""A program's steps table at 80 columns with five steps (issue 18's leftovers): each step, as a column, is as wide
as its widest figure, so five steps with real counts did not fit and the table scrolled sideways (a count cut at
the screen's edge read as '412,'). Now, when the steps do not fit as columns, the table shows a row per step and
chooses its metric columns by width (screens/program_steps.py, FitTable's rules): every step on screen, every count
whole. At 160 columns the same five steps stay columns."""

from __future__ import annotations

import pytest

from console.programs import preset, spec, store
from screens.program_steps import StepsTable
from tests.test_tui_program_fit import _big_page, _lines, _open_page, _plain
from tests.tui_helpers import demo_workspace, make_app, settle

NOW = "2026-11-25T10:00:00+08:00"
TWO_MORE = """
[[steps]]
name = "reminder"
wait = "7d"
channel = "sms"
template = "nostalgic-sms-zh"

[[steps]]
name = "last-call-for-the-dormant"
wait = "7d"
channel = "sms"
template = "offer-sms-zh"
offer_by_layer = true
"""
STEPS = ("1 nudge", "2 offer", "3 call", "4 reminder", "5 last-call")


@pytest.fixture
def five_steps(tmp_path, monkeypatch):
    """The demo's ladder with two more steps (five), started as a dry run."""
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = ws.open()
    store.add(db, spec.parse(preset.LADDER + TWO_MORE, "ladder.toml", db), replace=True)
    store.start(db, "ladder", real=False)
    db.close()
    return ws


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_five_steps_fit_the_width_with_every_count_whole(five_steps, size):
    app = make_app(five_steps)
    async with app.run_test(size=size) as pilot:
        screen = await _open_page(pilot)
        table = screen.query_one("#program-steps", StepsTable)
        await pilot.press("right", "right")   # the cursor on step 2 ("2 offer")
        screen.show_page(_big_page(five_steps))   # six-digit counts and money in every step
        await settle(pilot)
        lines = _lines(table)
        painted = "\n".join(lines)
        # nothing scrolls sideways: the columns shown fit the table's width
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width, painted
        assert table.max_scroll_x == 0, painted
        for shown in ("412,345", "398,765", "123,456 · 41.2%"):   # took it, would send, returned: whole
            assert painted.count(shown) >= 5, (shown, painted)
        cells = [_plain(c) for key in table.rows for c in table.get_row(key)]
        assert not [c for c in cells if "…" in c and any(ch.isdigit() for ch in c.split(" ", 1)[-1])], cells
        if size[0] >= 160:   # room for the steps as columns, as before
            assert not table.turned
            assert all(step in lines[0] for step in STEPS[:4]) and "5 last-call-for-the-dormant" in lines[0]
            assert table.cursor_column == 2
        else:                # a row per step: the metric columns the width holds, the step names cut with …
            assert table.turned
            assert [_plain(table.get_row(k)[0]).split("…")[0] for k in table.rows][:4] == list(STEPS[:4])
            assert "would send" in lines[0] and "took it" in lines[0] and "returned" in lines[0], lines[0]
            assert _plain(table.get_row_at(table.cursor_row)[0]) == "2 offer"   # the cursor kept its step
            for step in STEPS:
                assert any(line.lstrip().startswith(step) for line in lines), (step, painted)
        await pilot.resize_terminal(*((80, 24) if size[0] >= 160 else (160, 45)))   # it turns with the width
        await settle(pilot)
        assert table.turned == (size[0] >= 160)
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
