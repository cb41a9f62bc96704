"""Policy screen: set a cap, suppress an address, lift it with a reason — through the CLI's own functions."""

from __future__ import annotations

from textual.widgets import DataTable

from console.audit import recent
from screens.dialogs import FormDialog
from tests.tui_helpers import make_app, settle, text_of, type_text


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_set_a_cap_and_see_it_listed(workspace, db):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        assert "quiet 20:00-08:00" in text_of(pilot, "#quiet")
        await pilot.press("n")
        assert isinstance(app.screen, FormDialog)
        await pilot.press(*"sms 2/7d", "enter")
        await settle(pilot)
        assert rows(app.screen.query_one("#caps-table", DataTable)) == [["sms", "2", "7d"]]
    assert recent(db, action="caps.set")[0]["details"]["rule"] == "sms 2/7d"


async def test_a_bad_cap_is_explained_in_a_dialog(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("n", *"sms lots", "enter")
        await settle(pilot)
        assert "not understood" in text_of(pilot, "#error-message")


async def test_bad_quiet_hours_are_explained_in_a_dialog_titled_with_what_failed(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("q", *"nonsense", "enter")
        await settle(pilot)
        assert "not understood" in text_of(pilot, "#error-message")
        assert str(app.screen.query_one("Vertical").border_title) == "Could not set quiet hours"


async def test_suppress_an_address_then_lift_it_with_a_reason(workspace, db):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("tab")  # to the suppression list
        await pilot.press("n", *"13800138000", "enter", "enter", "enter", "enter")
        await settle(pilot)
        table = app.screen.query_one("#suppress-table", DataTable)
        assert rows(table)[0][1:5] == ["all", "138****8000", "", "manual"]  # masked on screen
        table.focus()
        await pilot.press("x")
        await type_text(pilot, "asked us by phone to resume")
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 0
    lifted = recent(db, action="suppress.remove")[0]["details"]
    assert lifted["reason"] == "asked us by phone to resume"
