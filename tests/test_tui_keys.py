"""[keys] in winback.toml remaps the console's bindings by id: the keys work, the footer, `?` and the palette show
them, and a wrong entry is reported naming the file and field (issue 18, keys an operator can make their own)."""

from __future__ import annotations

import pytest

from console.workspace import Workspace
from screens.dialogs import FormDialog
from screens.help import HelpScreen
from screens.keys import keymap_from_config
from tests.tui_helpers import demo_workspace, make_app, settle, wait_for

KEYS = '''
[keys]
find = "ctrl+f"
"goto.segments" = "S"
"goto.audit" = 5
"segment" = "x"
'''


@pytest.fixture
def remapped(tmp_path, monkeypatch):
    demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    config = tmp_path / "winback.toml"
    config.write_text('[workspace]\nname = "keys"\n' + KEYS, encoding="utf-8")
    return Workspace.load(config=config, db=tmp_path / "winback.db")


def test_problems_name_the_file_and_field():
    keymap, problems = keymap_from_config({"keys": {"find": "ctrl+f", "goto.audit": 5, "segments": "x"}},
                                          "/ws/winback.toml")
    assert keymap == {"find": "ctrl+f"}
    assert "/ws/winback.toml: [keys] goto.audit = 5: give the key as text" in problems[0]
    assert "'segments' is not a binding id (did you mean goto.segments?)" in problems[1]
    assert keymap_from_config({}, "x") == ({}, [])


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_remapped_keys_work_and_are_shown(remapped, size):
    app = make_app(remapped)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        notes = [n.message for n in app._notifications]
        assert any("[keys] goto.audit = 5" in n and "winback.toml" in n for n in notes)
        assert any("'segment' is not a binding id" in n for n in notes)
        footer = app.screen.query_one("KeyBar").render().plain
        assert "S Segments" in footer and "s Segments" not in footer
        await pilot.press("s")  # no longer Segments
        await settle(pilot)
        assert app.current_mode == "overview"
        await pilot.press("S")
        await wait_for(pilot, lambda: app.current_mode == "segments", what="S to open Segments")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        from textual.widgets import DataTable

        table = app.screen.query_one(DataTable)
        rows = {tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)}
        assert ("S", "Segments") in rows and ("ctrl+f", "Find a person") in rows
        await pilot.press("escape")
        await pilot.press("w")  # the old key does nothing now
        await settle(pilot)
        assert not isinstance(app.screen, FormDialog)
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="ctrl+f to find a person")


# ---- q quits where no screen took it; the footer and ? say which key quits ------------------------------------

def _footer(app) -> str:
    return app.screen.query_one("KeyBar").render().plain


def _help_rows(app) -> set[tuple[str, str]]:
    from textual.widgets import DataTable

    table = app.screen.query_one(DataTable)
    return {tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)}


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_q_quits_from_the_overview_and_the_footer_says_so(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert "q Quit" in _footer(app) and "^q" not in _footer(app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert {("q", "Quit"), ("ctrl+q", "Quit")} <= _help_rows(app)
        table = app.screen.query_one("DataTable")
        last = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)][-2:]
        assert sorted(last) == [("ctrl+q", "Quit"), ("q", "Quit")]  # quitting comes last, after the screen's keys
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code == 0, what="q to quit the console")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_on_policy_q_is_quiet_hours_and_the_footer_shows_ctrl_q(demo, size):
    from screens.policy import PolicyScreen

    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyScreen), what="Policy")
        footer = _footer(app)
        assert "q Quiet hours" in footer and "^q Quit" in footer and " q Quit" not in footer
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        rows = _help_rows(app)
        assert ("ctrl+q", "Quit") in rows and ("q", "Quit") not in rows and ("q", "Quiet hours") in rows
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyScreen), what="Policy again")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the quiet hours form")
        assert app.return_code is None and app.screen.title_text == "Quiet hours"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyScreen), what="Policy after the form")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_code == 0, what="ctrl+q to quit from Policy")


async def test_q_typed_in_a_field_is_a_letter_and_the_footer_says_ctrl_q_meanwhile(demo):
    from textual.widgets import Input

    from screens.segments import SegmentsScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SegmentsScreen), what="Segments")
        await settle(pilot)
        await pilot.press("slash", "q")
        await wait_for(pilot, lambda: isinstance(app.screen.focused, Input) and app.screen.focused.value == "q",
                       what="q typed in the filter")
        await settle(pilot)
        assert app.return_code is None
        assert "^q Quit" in _footer(app) and " q Quit" not in _footer(app)


async def test_keys_can_move_q_quit(tmp_path, monkeypatch):
    demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    config = tmp_path / "winback.toml"
    config.write_text('[workspace]\nname = "keys"\n[keys]\n"quit.q" = "Q"\n', encoding="utf-8")
    app = make_app(Workspace.load(config=config, db=tmp_path / "winback.db"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Q Quit" in _footer(app)
        assert not [n for n in app._notifications if "[keys]" in n.message]  # no clash, no unknown id
        await pilot.press("q")
        await settle(pilot)
        assert app.return_code is None
        await pilot.press("Q")
        await wait_for(pilot, lambda: app.return_code == 0, what="Q to quit")
