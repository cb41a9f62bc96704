"""The new-campaign flow with nothing to choose: a workspace without templates says "choose a template" — Textual
8's empty Select value (Select.NULL) passed for a chosen template before, and the create went on with a
NoSelection object for a name."""

from __future__ import annotations

from textual.widgets import Select

from console.workspace import Workspace
from screens.dialogs import ErrorDialog
from screens.new_campaign import NewCampaignScreen
from tests.tui_helpers import error_dialog_shown, make_app, settle, wait_for


async def test_no_template_says_choose_a_template_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    ws = Workspace.load(db=tmp_path / "winback.db")   # a new workspace: no template yet
    app = make_app(ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen), what="the form")
        await settle(pilot)
        assert app.screen.query_one("#f-template", Select).value is Select.NULL
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the refusal")
        assert isinstance(app.screen, ErrorDialog)
        assert "choose a template" in str(app.screen.query_one("#error-message").render())
    db = ws.open()
    assert db.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0
    db.close()
