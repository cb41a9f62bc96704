"""Input and environment errors are shown where they happened, in words; only real surprises are "a bug".

Issue #12 point 8: typing `{{` in the template editor opened "This is a bug in winback" and took the focus.
"""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import TextArea

from console.config import ConfigError
from console.errors import BadInput
from console.workspace import Workspace
from screens.dialogs import ErrorDialog
from screens.failures import operator_message
from screens.messages import NEW_TEMPLATE
from tests.tui_helpers import error_dialog_shown, make_app, settle, text_of, wait_for

TEMPLATE = 'name = "hello"\nchannel = "sms"\nbody = "{{ user.name }}，好久不见"\n'



def _bug_dialog(app) -> bool:
    return isinstance(app.screen, ErrorDialog) and bool(app.screen.hint)


@pytest.fixture
def with_users(workspace: Workspace) -> Workspace:
    db = workspace.open()
    db.execute("INSERT INTO users (external_id, name, phone, created_at, updated_at) "
               "VALUES ('u1', '王小明', '+8613800000001', 0, 0)")
    db.close()
    return workspace


async def test_typing_a_half_finished_tag_says_so_in_the_preview_and_keeps_the_focus(with_users):
    app = make_app(with_users)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("n")
        editor = app.screen.query_one("#editor", TextArea)
        await wait_for(pilot, lambda: "好久不见" in text_of(pilot, "#preview"), what="the first preview")
        editor.move_cursor(editor.document.end)
        # At the end of the body line, inside the closing quote: type a tag that is not finished yet.
        editor.move_cursor((3, len(editor.document.get_line(3)) - 1))
        await pilot.press("{", "{")
        await wait_for(pilot, lambda: "cannot preview" in text_of(pilot, "#preview"), what="the preview's message")
        assert not isinstance(app.screen, ErrorDialog)
        assert app.screen.focused is editor
        assert "template line" in text_of(pilot, "#preview")
        await pilot.press("backspace", "backspace")
        await wait_for(pilot, lambda: "好久不见" in text_of(pilot, "#preview"), what="the preview back")


async def test_a_bad_price_in_the_config_is_shown_in_the_preview_not_as_a_bug(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text('[workspace]\nname = "t"\n[channels.sms]\nprice = "cheap"\n',
                                           encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    db.execute("INSERT INTO users (external_id, name, phone, created_at, updated_at) "
               "VALUES ('u1', '王小明', '+8613800000001', 0, 0)")
    db.close()
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: "cannot preview" in text_of(pilot, "#preview"), what="the preview's message")
        assert "winback.toml line 4: [channels.sms] price: 'cheap' is not a number" in text_of(pilot, "#preview")
        assert not isinstance(app.screen, ErrorDialog)


async def test_a_busy_database_on_save_is_explained_not_called_a_bug(with_users, monkeypatch):
    import storage.db

    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 50)  # wait 50 ms for the other writer, not 10 s
    monkeypatch.setenv("WINBACK_WRITE_WAIT", "0.2")           # and give up after 0.2 s in all, not 600 s
    app = make_app(with_users)
    other = sqlite3.connect(with_users.db_path, isolation_level=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MessagesScreen", what="the Messages screen")
        await settle(pilot)
        await pilot.press("n")
        # under load the key may land before the screen is ready: wait until the editor holds a new template
        await wait_for(pilot, lambda: app.screen.query_one("#editor").text == NEW_TEMPLATE,
                       what="a new template in the editor")
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        try:
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: error_dialog_shown(app), what="the save's answer")
            message = " ".join(text_of(pilot, "#error-message").split())
            assert "is busy" in message and "Nothing was changed" in message, message
            assert not _bug_dialog(app)
        finally:
            other.execute("ROLLBACK")
            other.close()


async def test_a_load_that_fails_on_input_notifies_without_taking_the_focus(workspace):
    app = make_app(workspace)

    def broken(db):
        raise BadInput("segment 'vip' does not exist")

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        focused = app.screen.focused
        app.screen.fetch("segment_count", broken)
        await wait_for(pilot, lambda: any("segment 'vip' does not exist" in str(n.message)
                                          for n in app._notifications), what="a notification")
        assert not isinstance(app.screen, ErrorDialog)
        assert app.screen.focused is focused


async def test_a_genuine_bug_is_still_called_a_bug(workspace):
    app = make_app(workspace)

    def broken(db):
        raise ZeroDivisionError("division by zero")

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.fetch("segment_count", broken)
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the bug dialog")
        assert _bug_dialog(app)


def test_which_failures_are_the_operators_and_which_are_bugs():
    from jinja2 import Environment, TemplateSyntaxError

    with pytest.raises(TemplateSyntaxError) as syntax:
        Environment().from_string("hi {{")
    assert operator_message(syntax.value).startswith("template line 1")
    assert "not a number" in operator_message(ConfigError("winback.toml: price = 'x' is not a number"))
    assert "busy" in operator_message(sqlite3.OperationalError("database is locked"))
    assert "cannot be used" in operator_message(sqlite3.OperationalError("database or disk is full"))
    assert operator_message(PermissionError(13, "Permission denied", "/x/winback.db")) == \
        "Permission denied (/x/winback.db)"
    assert operator_message(sqlite3.OperationalError("no such column: nmae")) is None
    assert operator_message(KeyError("x")) is None


async def test_a_bad_price_shows_in_the_campaigns_plan_panel(tmp_path, monkeypatch):
    from console import templates
    from console.campaigns import model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text('[workspace]\nname = "t"\n[channels.sms]\nprice = "cheap"\n',
                                           encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    db.execute("INSERT INTO users (external_id, name, phone, created_at, updated_at) "
               "VALUES ('u1', '王小明', '+8613800000001', 0, 0)")
    templates.save(db, templates.parse_toml(TEMPLATE))
    model.create(db, "c", segment="all", channel="sms", template="hello", holdout=0)
    db.close()
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: "cannot plan" in text_of(pilot, "#campaign-plan-text"), what="the panel's message")
        assert "is not a number" in text_of(pilot, "#campaign-plan-text")
        assert not isinstance(app.screen, ErrorDialog)
        assert not app.screen.query_one("#campaign-plan-text").loading
