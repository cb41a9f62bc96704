"""The Programs list and a program's page fit at 80 columns (issue 18): their tables are FitTables — a count in
the hundreds of thousands is shown whole, with thousands separators, right-aligned; a long step or program name is
cut with … (never a count). Checked on the rendered lines of the tables, at 80×24 and 160×45.

The page is opened on the demo's real ladder (its second step renamed long, through the program file); the counts
are then the real service's data with its figures raised to the hundreds of thousands, shown as a refresh shows
them (a real funnel of that size takes seconds to build)."""

from __future__ import annotations

import copy

import pytest
from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

from console.programs import spec, store
from screens.columns import Column, FitTable, cell, fit
from screens.program_services import program_page, program_rows
from screens.programs import ProgramPage, ProgramsScreen
from tests.tui_helpers import demo_workspace, make_app, settle, wait_for

SIZES = [(80, 24), (160, 45)]
NOW = "2026-11-25T10:00:00+08:00"
LONG_STEP = "offer-for-the-dormant-east-china-layer"   # 38 cells: its header "2 offer-…" is 40
LONG_PROGRAM = "ladder-for-the-dormant-east-china-layer-winter"
BIG = {"taken": 412_345, "reached": 398_765, "holdout": 45_678, "waiting": 123_456}


def test_a_mixed_column_is_cut_no_narrower_than_its_widest_figure():
    step = Column("s", "2 a-very-long-step-name", "mixed", least=4)
    assert cell(step, 412_345).plain == "412,345" and cell(step, 412_345).justify == "right"
    assert cell(step, "sms,push") == "sms,push"   # words stay words, cut like a name
    natural = {"s": 23}
    assert fit([step], natural, 12) == [(step, 10)]                       # cut to fit the room…
    assert fit([step], natural, 6, figures={"s": 7}) == [(step, 7)]       # …but never below a count


@pytest.fixture
def demo(tmp_path, monkeypatch):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = ws.open()
    source = store.source(db, "ladder").replace('name = "offer"', f'name = "{LONG_STEP}"', 1)
    store.add(db, spec.parse(source, "ladder.toml", db), replace=True)
    store.start(db, "ladder", real=False)
    db.close()
    return ws


def _lines(widget: Widget) -> list[str]:
    """What the widget shows, line by line, as painted."""
    width, height = widget.size
    return ["".join(segment.text for segment in strip) for strip in widget.render_lines(Region(0, 0, width, height))]


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _big_page(workspace) -> dict:
    """The ladder's page data as the service reads it, its figures raised to the hundreds of thousands."""
    db = workspace.open()
    try:
        data = copy.deepcopy(program_page(db, "ladder"))
    finally:
        db.close()
    for step in data["funnel"]["steps"]:
        step.update(BIG)
        step["skipped"] = {"no usable channel": 234_567, "only": 101_010}
        step["cost"] = 1_234_567.0
        step["returns"] = {arm: {"users": 300_000, "returned": 123_456, "rate": 0.41152}
                           for arm in ("treated", "control")}
    data["funnel"]["returned_by_days"] = [   # a day-old program has no checkpoint yet: three, as weeks give
        {"days": days, "treated": {"users": 398_765, "returned": 123_456, "rate": 0.3096},
         "control": {"users": 45_678, "returned": 9_876, "rate": 0.2162},
         "lift": 0.0934, "ci_low": 0.0897, "ci_high": 0.0971, "p_value": 0.0} for days in (7, 14, 28)]
    return data


async def _open_page(pilot) -> ProgramPage:
    await pilot.press("P")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen)
                   and pilot.app.screen.query_one("#programs-table", FitTable).row_count == 1, what="the list")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                   and pilot.app.screen.query_one("#program-steps", FitTable).row_count > 0, what="the page")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ProgramPage)
    screen.on_screen_suspend()   # no live refresh: the test shows the big figures, the poll would not
    return screen


@pytest.mark.parametrize("size", SIZES)
async def test_the_steps_keep_counts_whole_and_cut_a_long_step_name(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        screen = await _open_page(pilot)
        table = screen.query_one("#program-steps", FitTable)
        await pilot.press("right", "right")   # the cursor on step 2: it stays there when the columns are remade
        assert table.cursor_column == 2
        screen.show_page(_big_page(demo))
        await settle(pilot)
        assert table.cursor_column == 2 and table.shown[2] == "step1"
        lines = _lines(table)
        header = lines[0]
        assert "1 nudge" in header and "3 call" in header, header
        if size[0] >= 160:
            assert f"2 {LONG_STEP}" in header, header   # room enough: nothing is cut
        else:
            assert "2 offer-for-the-dormant" in header and "…" in header and LONG_STEP not in header, header
        rows = {str(key.value): [_plain(c) for c in table.get_row(key)] for key in table.rows}
        for key, shown in (("taken", "412,345"), ("reached", "398,765"), ("holdout", "45,678"),
                           ("waiting", "123,456"), ("skipped", "335,577"), ("returned_treated", "123,456 · 41.2%"),
                           ("cost", "1,234,567")):
            assert all(shown in cell for cell in rows[key][1:]), (key, rows[key])
            painted = next(line for line in lines if rows[key][0] in line)
            assert painted.count(shown) == 3, (key, painted)   # three steps, each whole on screen
        assert not [c for key in BIG for c in rows[key] if "…" in c]
        # every step on screen at once at 80 columns too: no sideways scrolling to read a count
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width


@pytest.mark.parametrize("size", SIZES)
async def test_the_timeline_and_the_returns_by_days_keep_counts_whole(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        screen = await _open_page(pilot)
        screen.show_page(_big_page(demo))
        await pilot.press("T")
        curve = screen.query_one("#program-curve", FitTable)
        await wait_for(pilot, lambda: curve.display and curve.row_count > 0, what="the returns by days")
        await settle(pilot)
        painted = "\n".join(_lines(curve))
        assert "31.0% of 398,765" in painted and "21.6% of 45,678" in painted, painted
        assert "…" not in painted, painted
        await pilot.press("T", "t")
        days = screen.query_one("#program-timeline", FitTable)
        await wait_for(pilot, lambda: days.display, what="the timeline")
        await settle(pilot)   # the (empty: not run yet) timeline the screen fetched, before the big one
        screen.show_timeline([{"day": day, "entered": 412_345, "messaged": 398_765, "held_out": 45_678,
                               "skipped": 234_567, "returned": 123_456, "left": 1_234_567}
                              for day in ("2026-11-25", "2026-12-02", "2026-12-16")])
        await settle(pilot)
        painted = "\n".join(_lines(days))
        assert "412,345" in painted and "398,765" in painted and "1,234,567" in painted, painted
        assert "…" not in painted, painted


@pytest.mark.parametrize("size", SIZES)
async def test_the_programs_list_cuts_a_long_name_not_a_count(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("P")
        table = pilot.app.screen.query_one("#programs-table", FitTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the list")
        db = demo.open()
        rows = program_rows(db)
        db.close()
        screen = pilot.app.screen
        assert isinstance(screen, ProgramsScreen)
        screen.on_screen_suspend()
        screen.show_programs([{**r, "name": LONG_PROGRAM, "entered": 412_345, "active": 123_456,
                               "returned": 98_765} for r in rows])
        await settle(pilot)
        line = _lines(table)[1]
        for shown in ("412,345", "98,765"):
            assert shown in line, line
        if size[0] >= 160:
            assert LONG_PROGRAM in line and "123,456" in line, line
        else:   # at 80 the name is cut to make room for the counts
            assert "123,456" in line and "ladder-for-the" in line and "…" in line, line


async def test_the_head_shows_every_line_at_80_columns_with_big_counts(demo):
    """At 80 columns six-digit counts wrap the head's lines; its height was capped at 6 lines, which hid the
    budget (spent, left) below them."""
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_page(pilot)
        data = _big_page(demo)
        f = data["funnel"]
        f.update(entered=412_345, control=45_678, still_waiting=123_456)
        f["exited"] = {"completed": 234_567, "no_channel": 23_456, "opted_out": 3_456, "returned": 123_456}
        f["comparison"].update(treated={"users": 398_765, "returned": 123_456, "rate": 0.3096},
                               control={"users": 45_678, "returned": 9_876, "rate": 0.2162},
                               lift=0.0934, ci_low=0.0897, ci_high=0.0971, cost=1_234_567.0,
                               cost_per_extra_returned=12.34)
        f["budget"] = {"budget": 2_000_000.0, "spent": 1_234_567.0, "remaining": 765_433.0}
        screen.show_page(data)
        await settle(pilot)
        head = " ".join(_lines(screen.query_one("#program-head")))
        for shown in ("412,345", "123,456", "398,765", "1,234,567", "2,000,000", "765,433"):
            assert shown in head, (shown, head)
        # the steps table still shows its header and every metric's row
        assert screen.query_one("#program-steps", FitTable).size.height >= 11


async def test_the_lists_detail_shows_every_steps_count_at_80_columns(demo):
    """The line under the list ('took: nudge 412,345 › …') wraps at 80 columns with a long step name and big
    counts; it was two lines high, so the last step's count was cut off."""
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("P")
        table = pilot.app.screen.query_one("#programs-table", FitTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the list")
        db = demo.open()
        rows = program_rows(db)
        db.close()
        screen = pilot.app.screen
        assert isinstance(screen, ProgramsScreen)
        screen.on_screen_suspend()
        screen.show_programs([{**r, "entered": 1_234_567, "taken": [1_234_567, 412_345, 98_765]} for r in rows])
        await settle(pilot)
        detail = " ".join(_lines(screen.query_one("#programs-detail")))
        for shown in ("nudge 1,234,567", f"{LONG_STEP} 412,345", "call 98,765"):
            assert shown in " ".join(detail.split()), (shown, detail)
