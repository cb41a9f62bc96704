"""The "window too small" notice shows above whatever is on top — a dialog too — and goes when the window grows,
the dialog intact under it. A dialog left on top of a small window was cut off, and no notice said why.

The one dialog shown above the notice is the question its own quit key asks (quit without saving?): that is
tests/test_small_leftovers_too_small.py.
"""

from __future__ import annotations

from console.workspace import Workspace
from screens.dialogs import InfoDialog
from screens.help import HelpScreen
from screens.too_small import TooSmallScreen
from tests.tui_helpers import make_app, settle, text_of, wait_for


def _notice_on_top(app) -> bool:
    return isinstance(app.screen, TooSmallScreen) and app.screen.is_mounted


async def test_a_window_shrunk_under_an_open_dialog_shows_the_notice_over_it(workspace: Workspace):
    app = make_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help dialog")
        help_screen = app.screen
        await pilot.resize_terminal(60, 20)
        await wait_for(pilot, lambda: _notice_on_top(app), what="the notice over the dialog")
        assert "this window is 60×20" in " ".join(text_of(pilot, "#too-small").split())
        assert app.screen_stack[-2] is help_screen              # the dialog kept, under the notice
        await pilot.press("escape")                               # the notice takes the keys: the dialog stays
        await settle(pilot)
        assert _notice_on_top(app) and help_screen in app.screen_stack
        await pilot.resize_terminal(79, 30)                       # still too narrow: the notice follows the size
        await wait_for(pilot, lambda: "this window is 79×30" in " ".join(text_of(pilot, "#too-small").split()),
                       what="the notice following the new size")
        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: app.screen is help_screen, what="the dialog again once the window grows")
        assert not any(isinstance(s, TooSmallScreen) for s in app.screen_stack)
        await pilot.press("escape")                               # and it works as ever
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="the dialog closed")


async def test_a_dialog_opened_while_the_window_is_small_comes_under_the_notice(workspace: Workspace):
    app = make_app(workspace)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: _notice_on_top(app), what="the notice")
        dialog = InfoDialog("Import finished", "12 users imported")   # as a worker's report opens one
        app.push_screen(dialog)
        await wait_for(pilot, lambda: _notice_on_top(app) and app.screen_stack[-2] is dialog,
                       what="the notice over the new dialog")
        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: app.screen is dialog, what="the dialog once the window grows")
        dialog.dismiss()
        await wait_for(pilot, lambda: not isinstance(app.screen, (InfoDialog, TooSmallScreen)),
                       what="the console under it, no notice left behind")
        assert not any(isinstance(s, TooSmallScreen) for s in app.screen_stack)
