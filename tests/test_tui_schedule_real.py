"""A REAL send scheduled from the console's creation flow (issue 16), at 80x24: with the real-send switch on and a
time in the schedule field, ctrl+s runs the pre-launch check and asks for the typed count before the campaign is
scheduled — Esc leaves a draft — and the Campaigns list says how each scheduled campaign will go out (real, dry,
held with its reason, or with a confirmation voided by a template saved again)."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Checkbox, DataTable, Input, Select

from console.campaigns import confirmation, model
from screens.dialogs import ConfirmDialog, TypedCountDialog
from screens.new_campaign import NewCampaignScreen
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.tui_helpers import make_app, settle, text_of, wait_for

AT_TS = int(datetime.fromisoformat("2026-12-08T09:00:00+08:00").timestamp())


def _workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T10:00:00+08:00")
    # a transport that really sends (the call-list file): the dry-run one is refused by the pre-launch check
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}}))
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    return ws, db


async def _fill_the_flow(app, pilot, name: str) -> NewCampaignScreen:
    app.push_screen(NewCampaignScreen())
    await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                   and app.screen.query_one("#f-template", Select).value == "miss-you", what="the flow's choices")
    screen = app.screen
    screen.query_one("#f-name", Input).value = name
    screen.query_one("#f-holdout", Input).value = "0"
    screen.query_one("#f-schedule", Input).value = "2026-12-08 09:00"
    screen.query_one("#f-real", Checkbox).value = True
    await settle(pilot)
    return screen


async def _past_the_warnings(app, pilot) -> None:
    """The providers' content rules may ask a second confirmation first (screens.schedule_real)."""
    await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog | ConfirmDialog), what="a confirmation")
    if isinstance(app.screen, ConfirmDialog):
        app.screen.dismiss(True)
        await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog), what="the typed-count dialog")


async def test_the_flow_asks_the_typed_count_before_it_schedules_a_real_send(tmp_path, monkeypatch):
    ws, db = _workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _fill_the_flow(app, pilot, "later")
        await pilot.press("ctrl+s")
        await _past_the_warnings(app, pilot)
        dialog = app.screen
        assert dialog.expected == 3
        assert "At 2026-12-08 09:00 UTC+8: 3 messages" in text_of(pilot, ".dialog-body")
        assert model.get(db, "later").status == "draft"            # nothing scheduled before the count
        await pilot.press("escape")                                 # going back: a draft, not scheduled
        await wait_for(pilot, lambda: "not scheduled" in str(screen.query_one("#flow-form").border_subtitle),
                       what="the flow to say it is a draft")
        assert (model.get(db, "later").status, model.get(db, "later").scheduled_real) == ("draft", False)

        await pilot.press("ctrl+s")                                 # asked again
        await _past_the_warnings(app, pilot)
        await pilot.press("3", "enter")
        await wait_for(pilot, lambda: "scheduled REAL" in str(screen.query_one("#flow-form").border_title),
                       what="the flow to say it is scheduled")
        assert "2026-12-08 09:00 UTC+8" in str(screen.query_one("#flow-form").border_title)
    later = model.get(db, "later")
    assert (later.status, later.scheduled_real, later.next_run_at, later.mode) == ("scheduled", True, AT_TS, "real")
    confirmed = confirmation.current(db, later.id)
    assert confirmed is not None
    assert (confirmed["to_send"], confirmed["how"], confirmed["confirmed_by"]) == (3, "console", "tester")


async def test_the_campaigns_list_says_real_dry_or_held_and_why(tmp_path, monkeypatch):
    ws, db = _workspace(tmp_path, monkeypatch)
    plan = {"campaign": "real-one", "real": True, "problems": [], "warnings": [], "to_send": 3, "est_cost": 0.12,
            "currency": "CNY", "transport": "csv"}
    model.create(db, "real-one", segment="all", channel="sms", template="miss-you", holdout=0)
    confirmation.confirm_real(db, "real-one", at=AT_TS, plan=plan, how="console")   # type: ignore[arg-type]
    model.create(db, "dry-one", segment="all", channel="sms", template="miss-you", holdout=0, at=AT_TS)
    other = SMS_TEMPLATE.replace('"miss-you"', '"miss-you-2"')
    add_template(db, ws.config, other)
    model.create(db, "void-one", segment="all", channel="sms", template="miss-you-2", holdout=0)
    confirmation.confirm_real(db, "void-one", at=AT_TS, plan={**plan, "campaign": "void-one"},  # type: ignore[arg-type]
                              how="console")
    add_template(db, ws.config, other.replace("好久不见", "好久没见"))   # saved again: the confirmation is void
    model.create(db, "held-one", segment="all", channel="sms", template="miss-you", holdout=0)
    confirmation.confirm_real(db, "held-one", at=AT_TS, plan={**plan, "campaign": "held-one"},  # type: ignore[arg-type]
                              how="console")
    assert confirmation.hold(db, model.get(db, "held-one"), "the audience grew", due_by=AT_TS)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        table = app.screen.query_one("#campaigns-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4, what="the list")
        rows = {cells[0]: cells for cells in ([str(c) for c in table.get_row_at(i)] for i in range(4))}
        assert "scheduled ·held" in rows["held-one"]   # whole, at 80 columns
        assert "scheduled ·void" in rows["void-one"]
        assert "scheduled ·dry" in rows["dry-one"]
        assert "scheduled ·real" in rows["real-one"]
        # held-one is the newest: the cursor starts on it, and its plan pane says why it was held
        await wait_for(pilot, lambda: "HELD, not sent" in text_of(pilot, "#campaign-plan-text"), what="the reason")
        assert "the audience grew" in " ".join(text_of(pilot, "#campaign-plan-text").split())
        await pilot.press("down")
        await wait_for(pilot, lambda: "confirmation VOID: template 'miss-you-2' was saved again" in " ".join(
            text_of(pilot, "#campaign-plan-text").split()), what="void-one's plan")
        await pilot.press("down")
        await wait_for(pilot, lambda: "scheduled dry run at" in text_of(pilot, "#campaign-plan-text"),
                       what="dry-one's plan")
        await pilot.press("down")
        await wait_for(pilot, lambda: "scheduled REAL at 2026-12-08 09:00" in text_of(pilot, "#campaign-plan-text"),
                       what="real-one's plan")
