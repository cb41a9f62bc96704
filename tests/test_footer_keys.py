"""The footer shows the most important keys whole (issue: the program page's footer was cut off — "b Bud…" at 100
columns, "r Resume…" at 80 — and the overview's lacked `i` Import, which newcomers look for). The keys left out of
a footer stay in `?` and the palette."""

from __future__ import annotations

import pytest

from tests.tui_helpers import demo_workspace, make_app, settle, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def _footer(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("KeyBar").render().plain)


def _help_rows(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    from textual.widgets import DataTable

    table = app.screen.query_one(DataTable)
    return [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])) for i in range(table.row_count)]


async def test_the_overview_footer_shows_import_at_80x24_and_help_lists_it_above_the_fold(demo) -> None:  # type: ignore[no-untyped-def]
    from screens.help import HelpScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = _footer(app)
        for key in ("i Import", "s Segments", "c Campaigns", "d Deliveries", "? Help", "q Quit"):
            assert key in footer, footer
        assert "…" not in footer, footer
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        keys = [k for k, _ in _help_rows(app)]
        # the list shows 24 - 6 rows at 80×24, less its header: Import is among the first 15
        assert "i" in keys[:15], keys


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_program_page_footer_is_whole(demo, size) -> None:  # type: ignore[no-untyped-def]
    from screens.programs import ProgramPage, ProgramsScreen

    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramsScreen), what="the list")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgramPage), what="the program page")
        await settle(pilot)
        footer = _footer(app)
        for key in ("esc Back", "? Help", "space Pause", "r Resume", "b Budget…", "e Edit", "t Days", "q Quit"):
            assert key in footer, footer
        # nothing cut: the only … are the labels' own (Budget…)
        assert footer.count("…") == footer.count("Budget…") + footer.count("Real…"), footer
