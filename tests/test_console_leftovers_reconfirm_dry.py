"""`r` on the Campaigns list on a campaign scheduled as a DRY RUN (issue 18's leftovers): the key that confirms a
scheduled one-off again as a real send (screens.schedule_real.ScheduledCampaignKeys) had tests only for a held real
send. On a scheduled dry run it makes the dry run a real send at the time asked, through the same pre-launch check
and typed count as the creation flow, audited `campaign.schedule_real` (how console); going back leaves it a dry
run. At 80×24.

What the test found: the list's state was then cut to `scheduled ·re…` (the state column's least width was that of
`scheduled ·dry`, one cell short of `·real`, `·held`, `·void`), and a dry run — never confirmed — was offered and
told "confirm again" / "confirmed again"; it now reads "make it a real send"."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from console.campaigns import confirmation, model
from console.workspace import Workspace
from screens.dialogs import FormDialog, TypedCountDialog
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.test_tui_schedule_keys import AT_TS, LATER_TS, _audit, _to_the_count
from tests.tui_helpers import make_app, settle, text_of, wait_for


def _dry_workspace(tmp_path, monkeypatch) -> tuple[Workspace, object]:
    """`dry-one`: scheduled as a dry run at 09:00 tomorrow (as `winback campaign schedule dry-one --at …`)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T10:00:00+08:00")
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}}))
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "dry-one", segment="all", channel="sms", template="miss-you", holdout=0)
    confirmation.schedule_dry(db, "dry-one", at=AT_TS)
    return ws, db


def _state(app) -> str:
    return str(app.screen.query_one("#campaigns-table", DataTable).get_row_at(0)[1])


async def test_r_on_a_scheduled_dry_run_makes_it_a_real_send_after_the_typed_count(tmp_path, monkeypatch):
    ws, db = _dry_workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: "scheduled dry run at 2026-12-08 09:00" in text_of(pilot, "#campaign-plan-text"),
                       what="the plan pane's schedule line")
        assert "r: make it a real send · u: unschedule" in text_of(pilot, "#campaign-plan-text")
        assert _state(app) == "scheduled ·dry"

        await pilot.press("r")                               # the time first: its own, kept
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the time form")
        assert app.screen.query_one("#field-at", Input).value == "2026-12-08 09:00"
        assert app.screen.title_text == "Make dry-one a real send"
        assert "a dry run now: confirming makes it a REAL send" in text_of(pilot, ".dialog-body")
        await pilot.press("enter")
        dialog = await _to_the_count(app, pilot)             # the pre-launch check passed: the real plan's count
        assert dialog.expected == 3
        assert "At 2026-12-08 09:00 UTC+8: 3 messages" in text_of(pilot, ".dialog-body")
        await pilot.press("escape")                          # going back: still a dry run, nothing written
        await wait_for(pilot, lambda: not isinstance(app.screen, TypedCountDialog), what="the dialog to close")
        await settle(pilot)
        still = model.get(db, "dry-one")
        assert (still.status, still.scheduled_real, still.next_run_at) == ("scheduled", False, AT_TS)
        assert _audit(db, "campaign.schedule_real") == []

        await pilot.press("r")                               # again, at a new time, typed through
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the time form")
        app.screen.query_one("#field-at", Input).value = "2026-12-08 11:00"
        await pilot.press("enter")
        await _to_the_count(app, pilot)
        await pilot.press("3", "enter")
        await wait_for(pilot, lambda: "scheduled REAL at 2026-12-08 11:00" in text_of(pilot, "#campaign-plan-text"),
                       what="the plan pane to say it is a real send")
        assert "r: confirm again · u: unschedule" in text_of(pilot, "#campaign-plan-text")
        await wait_for(pilot, lambda: _state(app) == "scheduled ·real", what="the list's state, whole")
        assert any("a dry run made a real send" in n.message for n in app._notifications)
        assert not any("confirmed again" in n.message for n in app._notifications)
    made = model.get(db, "dry-one")
    assert (made.status, made.scheduled_real, made.hold_reason, made.next_run_at) == ("scheduled", True, None,
                                                                                      LATER_TS)
    confirmed = confirmation.current(db, made.id)
    assert confirmed is not None and (confirmed["due_at"], confirmed["how"], confirmed["to_send"]) == (LATER_TS,
                                                                                                      "console", 3)
    [record] = _audit(db, "campaign.schedule_real")          # the entry `campaign schedule --real` writes
    assert (record["campaign"], record["at"], record["how"], record["to_send"]) == ("dry-one", LATER_TS, "console", 3)
