"""While the "window too small" notice is up, the keys that quit are those of the screen under it (`q` where that
screen has no `q` of its own and no field has the focus, `ctrl+q` everywhere, as `[keys]` maps them), and the
notice names them; the question they ask (quit without saving?) shows above the notice, never hidden under it,
and the notice is back once it is answered."""

from __future__ import annotations

import pytest

from console.workspace import Workspace
from screens.dialogs import ConfirmDialog
from screens.too_small import TooSmallScreen
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for

NOW = "2026-11-25T11:00:00+08:00"


@pytest.fixture
def demo(tmp_path, monkeypatch) -> Workspace:
    return demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)


def _notice(pilot) -> str:
    return " ".join(text_of(pilot, "#too-small").split())


async def _noticed(pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, TooSmallScreen) and pilot.app.screen.is_mounted,
                   what="the too-small notice")
    await settle(pilot)


async def test_q_quits_from_the_notice_as_it_does_on_the_overview_under_it(demo):
    app = make_app(demo)
    async with app.run_test(size=(60, 20)) as pilot:
        await _noticed(pilot)
        assert "q or ctrl+q quits" in _notice(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code == 0, what="q to quit from the notice")


async def test_over_policy_q_is_not_quit_there_so_not_from_the_notice_either(demo):
    from screens.policy import PolicyScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyScreen), what="Policy")
        await settle(pilot)
        await pilot.resize_terminal(60, 20)
        await _noticed(pilot)
        assert "(ctrl+q quits)" in _notice(pilot)   # q is quiet hours on Policy: the notice does not offer it
        await pilot.press("q")   # neither quits nor opens the quiet-hours form behind the notice
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen) and app.return_code is None
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_code == 0, what="ctrl+q to quit from the notice over Policy")


async def test_keys_moves_q_quit_and_the_notice_follows(tmp_path, monkeypatch):
    demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    config = tmp_path / "winback.toml"
    config.write_text('[workspace]\nname = "keys"\n[keys]\n"quit.q" = "Q"\n', encoding="utf-8")
    app = make_app(Workspace.load(config=config, db=tmp_path / "winback.db"))
    async with app.run_test(size=(60, 20)) as pilot:
        await _noticed(pilot)
        assert "Q or ctrl+q quits" in _notice(pilot)
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen) and app.return_code is None
        await pilot.press("Q")
        await wait_for(pilot, lambda: app.return_code == 0, what="Q to quit from the notice")


async def test_quitting_with_unsaved_work_asks_above_the_notice_and_the_notice_comes_back(demo):
    from screens.new_campaign import NewCampaignScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen), what="the creation flow")
        await pilot.press(*"nov-sms")   # typed in its name field: unsaved work
        await settle(pilot)
        await pilot.resize_terminal(60, 20)
        await _noticed(pilot)
        assert "(ctrl+q quits)" in _notice(pilot)   # q is a letter in the field under the notice
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen) and app.return_code is None
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question, on top")
        await settle(pilot)
        assert "The new campaign nov-sms is not saved" in app.screen.body
        assert isinstance(app.screen_stack[-2], TooSmallScreen)   # above the notice, not under it
        await pilot.press("n")   # Stay: the notice again, the work kept under it
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen), what="the notice again")
        assert app.return_code is None and any(isinstance(s, NewCampaignScreen) for s in app.screen_stack)
        await settle(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.return_code == 0, what="Quit from the question")


async def test_a_window_shrunk_while_a_question_is_open_covers_it_and_gives_it_back(demo):
    # The notice covers a question open when the window shrank (cut off at that size, with no word why); it
    # waits intact under the notice (tests/test_too_small_over_modal.py).
    from screens.new_campaign import NewCampaignScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen), what="the creation flow")
        await pilot.press(*"nov-sms", "ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="quit asks first")
        question = app.screen
        await pilot.resize_terminal(60, 20)
        await _noticed(pilot)
        assert app.screen_stack[-2] is question
        await pilot.press("n")   # taken by the notice: the question is not answered behind it
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen) and question in app.screen_stack
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: app.screen is question, what="the question again once the window grows")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen), what="the work, kept")
        assert app.return_code is None
