"""The console's typed count of a real send is the whole run's, in the CLI's words: at 23:00 in Shanghai four Berlin
users go at once and six wait for quiet hours, so the dialog asks for 10 — "10 messages: 4 now, 6 after quiet hours
end, ≈ ¥0.40 in all" — refuses 4, and says the same total when the send is scheduled for the morning instead."""

from __future__ import annotations

from textual.widgets import Input

from console.campaigns import model
from console.campaigns.prelaunch import prelaunch_check
from screens.dialogs import ConfirmDialog, TypedCountDialog
from screens.schedule_real import confirm_real_schedule
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.tui_helpers import make_app, settle, text_of, wait_for


def _workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T23:00:00+08:00")
    # a transport that really sends (the call-list file): the dry-run one is refused by the pre-launch check
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04,
                                                                         "quiet_hours": True}}))
    db = ws.open()
    add_users(db, 6)                                        # Shanghai, 23:00: quiet
    add_users(db, 4, start=7, timezone="Europe/Berlin")     # 16:00 there: inside the sending window
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    return ws, db


async def _the_count_dialog(app, pilot) -> TypedCountDialog:
    """Past the providers' content warnings, if the template raises any (a second confirmation first)."""
    await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog | ConfirmDialog), what="a confirmation")
    if isinstance(app.screen, ConfirmDialog):
        app.screen.dismiss(True)
        await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog), what="the typed-count dialog")
    assert isinstance(app.screen, TypedCountDialog)
    await wait_for(pilot, lambda: app.screen.query("#typed"), what="the dialog's input")
    return app.screen


async def test_the_launch_dialog_asks_for_the_whole_run_in_the_clis_words(tmp_path, monkeypatch):
    ws, db = _workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("L")
        dialog = await _the_count_dialog(app, pilot)
        assert dialog.expected == 10
        body = " ".join(text_of(pilot, ".dialog-body").split())
        assert "10 messages: 4 now, 6 after quiet hours end, ≈ ¥0.40 in all" in body, body
        assert "Type 10 (the whole run)" in text_of(pilot, "#typed-row Label")
        dialog.query_one("#typed", Input).value = "4"
        await pilot.press("enter")
        await settle(pilot)
        note = " ".join(text_of(pilot, "#typed-note").split())
        assert "'4' is not 10" in note and "after quiet hours" in note, note
        assert app.screen is dialog and model.get(db, "c").status == "draft"   # nothing sent
        await pilot.press("escape")
        await settle(pilot)
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0


async def test_the_schedule_dialog_asks_for_the_same_total(tmp_path, monkeypatch):
    ws, db = _workspace(tmp_path, monkeypatch)
    plan = prelaunch_check(db, ws.config, "c", connect=True)
    answers: list[bool] = []
    app = make_app(ws)
    async with app.run_test(size=(100, 30)) as pilot:
        confirm_real_schedule(app.screen, plan, "2026-11-26 09:00 UTC+8", answers.append)
        dialog = await _the_count_dialog(app, pilot)
        assert dialog.expected == 10
        body = " ".join(text_of(pilot, ".dialog-body").split())
        assert "At 2026-11-26 09:00 UTC+8: 10 messages: 4 at once, 6 after quiet hours end (as of now), ≈ ¥0.40 " \
               "in all" in body, body
        await pilot.press("1", "0", "enter")
        await wait_for(pilot, lambda: answers == [True], what="the count accepted")
