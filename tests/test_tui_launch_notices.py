"""A real launch from the console takes the CLI's path (issue 16): the pre-launch check first — it connects, as
`winback campaign launch --real` does before it asks — then the typed count; and what the dispatcher tells the
operator on the way (an unreachable provider, giving up) reaches the screen as it reaches the CLI's stderr."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input, Select

from console.campaigns import model
from screens.dialogs import TypedCountDialog
from screens.new_campaign import NewCampaignScreen
from tests.campaign_support import (
    EMAIL_TEMPLATE,
    SMS_TEMPLATE,
    add_template,
    add_users,
    load_workspace,
    write_config,
)
from tests.servers import free_port
from tests.tui_helpers import error_dialog_shown, make_app, settle, text_of, wait_for


@pytest.fixture
def closed_smtp(tmp_path, monkeypatch):
    """An email channel on an SMTP port where nothing listens: the plan (which makes no connection) finds nothing
    wrong, the pre-launch check's connection is refused."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    cfg = write_config(tmp_path / "winback.toml", {"email": {
        "transport": "smtp", "host": "127.0.0.1", "port": free_port(), "security": "none",
        "from": "B <hello@brand.example>", "timeout": 3}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 6)
    add_template(db, ws.config, EMAIL_TEMPLATE)
    db.close()
    return ws


def _asked_or_refused(app) -> bool:
    return isinstance(app.screen, TypedCountDialog) or error_dialog_shown(app)


async def test_the_campaigns_list_checks_the_channel_before_it_asks_for_the_count(closed_smtp):
    db = closed_smtp.open()
    model.create(db, "mail", segment="all", channel="email", template="miss-you-mail", holdout=0)
    app = make_app(closed_smtp)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: _asked_or_refused(app), what="the typed count or the check's finding")
        # the finding, not a count typed for a launch that cannot happen
        assert not isinstance(app.screen, TypedCountDialog)
        assert "127.0.0.1" in text_of(pilot, "#error-message")
    assert model.get(db, "mail").status == "draft"
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0


async def test_the_creation_flow_checks_the_channel_before_it_asks_for_the_count(closed_smtp):
    app = make_app(closed_smtp)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(NewCampaignScreen())
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and app.screen.query_one("#f-segment", Select).value == "all", what="the flow's choices")
        screen = app.screen
        screen.query_one("#f-name", Input).value = "mail"
        screen.query_one("#f-channel", Select).value = "email"
        await wait_for(pilot, lambda: screen.query_one("#f-template", Select).value == "miss-you-mail",
                       what="the email template offered")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.created == "mail" and screen.plan is not None, what="the draft's plan")
        screen.query_one("#f-real", Checkbox).value = True
        await wait_for(pilot, lambda: screen.plan is not None and screen.plan["real"], what="the real plan")
        assert not screen.plan["problems"]   # the plan makes no connection: nothing wrong seen yet
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: _asked_or_refused(app), what="the typed count or the check's finding")
        assert not isinstance(app.screen, TypedCountDialog)
        assert "127.0.0.1" in text_of(pilot, "#error-message")
    db = closed_smtp.open()
    assert model.get(db, "mail").status == "draft"
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0


async def test_an_unreachable_provider_is_told_on_screen_as_the_cli_tells_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WB_TUI_TOKEN", "t")
    closed = f"http://127.0.0.1:{free_port()}/send"   # nothing listens there: connection refused
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": closed, "token_env": "WB_TUI_TOKEN", "backoff": 0.01, "max_backoff": 0.05,
        "unreachable_retries": 2, "batch": 4}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 6)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "texts", segment="all", channel="sms", template="miss-you", holdout=0)
    app = make_app(ws)

    def notices() -> list[str]:
        return [str(n.message) for n in app._notifications]

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog), what="the typed-count dialog")
        await pilot.press(*str(app.screen.expected), "enter")
        await wait_for(pilot, lambda: any("giving up" in n for n in notices()), what="the giving-up notice")
        said = notices()
        assert any("sms provider unreachable (try 1 of 2)" in n and "127.0.0.1" in n for n in said), said
        assert any("giving up" in n and "unreachable after 2 tries" in n for n in said), said
    assert model.get(db, "texts").status == "paused"
