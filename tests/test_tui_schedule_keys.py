"""The Campaigns list's keys for a scheduled one-off (issue 16), at 80x24: `r` confirms a held (or void) real send
again — its time, the pre-launch check, the typed count of the creation flow (screens.schedule_real) — and `u`
unschedules one after asking; both by binding id ([keys] remaps them) and from the palette, through the services the
CLI's `campaign schedule --real` and `unschedule` use, so the audit says the same."""

from __future__ import annotations

import json
from datetime import datetime

from textual.widgets import DataTable, Input

from console.campaigns import confirmation, model
from console.workspace import Workspace
from screens.dialogs import ConfirmDialog, FormDialog, TypedCountDialog
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.tui_helpers import make_app, run_command, settle, text_of, wait_for

AT_TS = int(datetime.fromisoformat("2026-12-08T09:00:00+08:00").timestamp())
LATER_TS = int(datetime.fromisoformat("2026-12-08T11:00:00+08:00").timestamp())


def _held_workspace(tmp_path, monkeypatch, keys: str = "") -> tuple[Workspace, object]:
    """`held-one`: confirmed as a real send of 3 messages at 09:00, then held by run-due."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T10:00:00+08:00")
    config = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    if keys:
        config.write_text(config.read_text(encoding="utf-8") + "\n[keys]\n" + keys, encoding="utf-8")
    ws = load_workspace(config)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    plan = {"campaign": "held-one", "real": True, "problems": [], "warnings": [], "to_send": 3, "est_cost": 0.12,
            "currency": "CNY", "transport": "csv"}
    model.create(db, "held-one", segment="all", channel="sms", template="miss-you", holdout=0)
    confirmation.confirm_real(db, "held-one", at=AT_TS, plan=plan, how="typed")   # type: ignore[arg-type]
    assert confirmation.hold(db, model.get(db, "held-one"), "the audience grew", due_by=AT_TS)
    return ws, db


def _audit(db, action: str) -> list[dict]:
    return [json.loads(details) for (details,) in
            db.execute("SELECT details FROM audit WHERE action = ? ORDER BY id", [action])]


async def _on_the_list(app, pilot) -> None:
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen.query_one("#campaigns-table", DataTable), DataTable)
                   and app.screen.query_one("#campaigns-table", DataTable).row_count == 1, what="the list")
    await wait_for(pilot, lambda: "HELD, not sent" in text_of(pilot, "#campaign-plan-text"), what="the held line")


async def _to_the_count(app, pilot) -> TypedCountDialog:
    """Past the content warnings' confirmation, if the template has any, to the typed count."""
    await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog | ConfirmDialog), what="a confirmation")
    if isinstance(app.screen, ConfirmDialog):
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog), what="the typed-count dialog")
    assert isinstance(app.screen, TypedCountDialog)
    return app.screen


async def test_r_confirms_a_held_send_again_with_the_typed_count(tmp_path, monkeypatch):
    ws, db = _held_workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _on_the_list(app, pilot)
        assert "r: confirm again · u: unschedule" in text_of(pilot, "#campaign-plan-text")

        await pilot.press("r")                               # the time first: its own, still to come
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the time form")
        assert app.screen.query_one("#field-at", Input).value == "2026-12-08 09:00"
        assert "HELD, not sent: the audience grew" in text_of(pilot, ".dialog-body")
        await pilot.press("enter")
        dialog = await _to_the_count(app, pilot)
        assert dialog.expected == 3
        assert "At 2026-12-08 09:00 UTC+8: 3 messages" in text_of(pilot, ".dialog-body")
        await pilot.press("escape")                          # going back: still held, nothing written
        await wait_for(pilot, lambda: not isinstance(app.screen, TypedCountDialog), what="the dialog to close")
        await settle(pilot)
        assert model.get(db, "held-one").hold_reason == "the audience grew"
        assert len(_audit(db, "campaign.schedule_real")) == 1

        await pilot.press("r")                               # again, at a new time
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the time form")
        app.screen.query_one("#field-at", Input).value = "2026-12-08 11:00"
        await pilot.press("enter")
        await _to_the_count(app, pilot)
        await pilot.press("3", "enter")
        await wait_for(pilot, lambda: "scheduled REAL at 2026-12-08 11:00" in text_of(pilot, "#campaign-plan-text"),
                       what="the plan pane to say it is confirmed")
        assert "scheduled ·real" in [str(c) for c in app.screen.query_one(DataTable).get_row_at(0)]
    held = model.get(db, "held-one")
    assert (held.status, held.scheduled_real, held.hold_reason, held.next_run_at) == ("scheduled", True, None,
                                                                                       LATER_TS)
    confirmed = confirmation.current(db, held.id)
    assert confirmed is not None and (confirmed["due_at"], confirmed["how"], confirmed["to_send"]) == (LATER_TS,
                                                                                                      "console", 3)
    record = _audit(db, "campaign.schedule_real")[-1]   # the entry `campaign schedule --real` writes
    assert (record["campaign"], record["at"], record["how"], record["to_send"]) == ("held-one", LATER_TS,
                                                                                   "console", 3)


async def test_a_time_already_past_is_refused_before_any_check(tmp_path, monkeypatch):
    ws, db = _held_workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _on_the_list(app, pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the time form")
        app.screen.query_one("#field-at", Input).value = "2026-12-07 09:00"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "is in the past" in text_of(pilot, ".dialog-body"), what="the refusal")
        assert "held-one is unchanged" in text_of(pilot, ".dialog-body")
    assert model.get(db, "held-one").hold_reason == "the audience grew"


async def test_u_asks_then_unschedules_by_its_remapped_key_or_the_palette(tmp_path, monkeypatch):
    ws, db = _held_workspace(tmp_path, monkeypatch, keys='"campaigns.unschedule" = "x"\n')
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _on_the_list(app, pilot)
        assert "r: confirm again · x: unschedule" in text_of(pilot, "#campaign-plan-text")
        await pilot.press("u")                               # remapped: u does nothing now
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the unschedule question")
        assert "HELD: the audience grew" in text_of(pilot, ".dialog-body")
        await pilot.press("n")                               # kept
        await settle(pilot)
        assert model.get(db, "held-one").status == "scheduled"

        await run_command(pilot, "Campaigns: Unschedule")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question, from the palette")
        await pilot.press("y")
        await wait_for(pilot, lambda: "draft" in [str(c) for c in app.screen.query_one(DataTable).get_row_at(0)],
                       what="the list to say it is a draft")
        await pilot.press("r")                               # a draft: nothing to confirm again, and it says why
        await wait_for(pilot, lambda: any("only a scheduled one-off" in n.message for n in app._notifications),
                       what="the refusal")
        assert not isinstance(app.screen, FormDialog)
    held = model.get(db, "held-one")
    assert (held.status, held.scheduled_real, held.next_run_at) == ("draft", False, None)
    [record] = _audit(db, "campaign.unschedule")          # the entry `campaign unschedule` writes
    assert (record["campaign"], record["was_real"], record["was_held"]) == ("held-one", True, "the audience grew")
