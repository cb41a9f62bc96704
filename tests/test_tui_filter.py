"""`/` filters the rows of the table that has the focus — a campaign's recipients, a segment's members, the
templates — says how many match, stays while the table refreshes; Enter keeps it, Esc clears it."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from screens.deliveries import DeliveriesScreen
from tests.tui_helpers import filter_recipients, launched_demo, make_app, settle, text_of, type_text, wait_for

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return launched_demo(tmp_path, monkeypatch)


def _rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def _count(pilot) -> str:
    return text_of(pilot, "#filter-count").strip()


@pytest.mark.parametrize("size", SIZES)
async def test_slash_filters_a_campaigns_recipients_and_says_how_many_match(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "completed" in text_of(pilot, "#deliveries-title"), what="the dry run on Deliveries")
        table = app.screen.query_one("#recipients-table", DataTable)
        await filter_recipients(pilot, "skipped")
        await wait_for(pilot, lambda: table.row_count > 0, what="skipped recipients")
        await settle(pilot)
        everything = _rows(table)
        wanted = [r for r in everything if any("no_consent" in c for c in r)]
        assert 0 < len(wanted) < len(everything)
        assert app.screen.focused is table  # Deliveries opens on the recipients (no Tab from the tally)
        await pilot.press("slash")
        await type_text(pilot, "NO_CONSENT")  # any cell, any case
        await wait_for(pilot, lambda: _rows(table) == wanted, what="the matching recipients")
        await wait_for(pilot, lambda: _count(pilot) == f"{len(wanted):,} of {len(everything):,} match",
                       what="the count of matches")
        await pilot.press("enter")  # back to the table, the filter kept
        assert app.screen.focused is table and _rows(table) == wanted
        app.screen.refresh_data()  # a live refresh keeps the filter
        await settle(pilot)
        assert _rows(table) == wanted
        await pilot.press("escape")  # Esc on a filtered table clears the filter first …
        await wait_for(pilot, lambda: _rows(table) == everything, what="every recipient again")
        assert isinstance(app.screen, DeliveriesScreen)
        await pilot.press("slash")
        await type_text(pilot, "zzz-nothing")
        await wait_for(pilot, lambda: _count(pilot) == f"0 of {len(everything):,} match", what="no match")
        assert table.row_count == 0
        await pilot.press("escape")  # … and Esc in the filter bar clears it too
        await wait_for(pilot, lambda: _rows(table) == everything, what="every recipient again")
        assert app.screen.focused is table
        assert not app.screen.query_one("#table-filter").display


@pytest.mark.parametrize("size", SIZES)
async def test_slash_filters_a_segments_members_page(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("3")
        members = app.screen.query_one("#seg-members", DataTable)
        await wait_for(pilot, lambda: members.row_count > 0, what="the members page")
        members.focus()
        await settle(pilot)
        everything = _rows(members)
        needle = everything[3][0]  # one member's external id
        await pilot.press("slash")
        await type_text(pilot, needle)
        wanted = [r for r in everything if any(needle.lower() in c.lower() for c in r)]
        await wait_for(pilot, lambda: _rows(members) == wanted, what="the one matching member")
        # The count is of the whole segment (135 active users), not of the 50 on the page.
        await wait_for(pilot, lambda: _count(pilot) == "1 of 135 match", what="the count of matches")
        await pilot.press("escape")
        await wait_for(pilot, lambda: _rows(members) == everything, what="the whole page again")


async def test_slash_on_the_templates_list_counts_matches(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        table = app.screen.query_one("#templates-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, what="the templates list")
        everything = _rows(table)
        sms = [r for r in everything if any("sms" in c for c in r)]
        await pilot.press("slash", *"sms")
        assert _rows(table) == sms and _count(pilot) == f"{len(sms)} of {len(everything)} match"
