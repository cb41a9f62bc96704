"""The header and the Overview at 80×24: the person page's header kept one space between its time and "no campaign
running" (the other headers leave room or say " · "), and the Overview's "profiles as of …" said no zone."""

from __future__ import annotations

import pytest

from screens.person import PersonScreen
from screens.widgets import ConsoleHeader
from tests.tui_helpers import demo_workspace, make_app, type_text, wait_for

NOW = "2026-11-25T11:00:00+08:00"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)


def _header(pilot) -> str:
    return pilot.app.screen.query_one(ConsoleHeader).render().plain


async def test_the_person_pages_header_keeps_its_parts_apart_and_the_overview_says_its_zone(demo):
    from textual.widgets import Input

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "profiles as of" in str(app.screen.query_one("#dormancy").border_subtitle),
                       what="the overview's profiles time")
        subtitle = str(app.screen.query_one("#dormancy").border_subtitle)
        assert subtitle.endswith("UTC+8"), subtitle
        await pilot.press("w")
        await wait_for(pilot, lambda: app.screen.query(Input), what="the find dialog")
        await type_text(pilot, "U0000001")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen), what="the person page")
        header = _header(pilot)
        assert "no campaign running" in header, header
        before = header.split("no campaign running")[0]
        assert before.endswith(" · ") or before.endswith("   "), repr(header)
