"""The console shell: navigation, help, palette, dialogs, error handling, the audit screen."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from console.audit import record
from console.errors import BadInput
from screens.app import WinbackApp
from screens.dialogs import ConfirmDialog, ErrorDialog, TypedCountDialog
from screens.help import HelpScreen
from tests.campaign_support import add_users
from tests.tui_helpers import make_app, run_command, settle, text_of


async def test_opens_on_the_overview_and_says_honestly_that_there_are_no_profiles(workspace):
    db = workspace.open()
    add_users(db, 3)
    db.close()
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_mode == "overview"
        assert "no profiles yet — run winback refresh" in text_of(pilot, "#funnel")
        assert "no campaigns yet" in text_of(pilot, "#no-campaigns")


async def test_a_fresh_workspace_points_to_import_not_to_refresh(workspace):
    """After `winback init` there is nobody to profile: the overview says how to bring customers in."""
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for panel in ("#funnel", "#heat"):
            text = text_of(pilot, panel)
            assert "no customers yet — press i to import" in text and "refresh" not in text


async def test_letter_keys_open_each_area_and_escape_goes_back(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, mode in [("s", "segments"), ("m", "messages"), ("c", "campaigns"), ("p", "policy"),
                          ("d", "deliveries"), ("a", "audit")]:
            await pilot.press(key)
            assert app.current_mode == mode
        await pilot.press("escape")
        assert app.current_mode == "deliveries"  # back where we came from
        await pilot.press("o")
        assert app.current_mode == "overview"


async def test_help_lists_the_keys_in_force_on_the_screen_it_was_opened_from(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        rows = {tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)}
        assert ("/", "Filter") in rows
        assert ("s", "Segments") in rows
        assert ("Esc", "Back") in rows
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        assert app.current_mode == "audit"


async def test_help_lists_the_screens_own_keys_before_the_ones_that_work_everywhere(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s", "question_mark")
        table = app.screen.query_one(DataTable)
        keys = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert keys[:3] == ["/", "n", "e"]  # Segments' own, visible without scrolling at 80×24
        assert keys.index("o") > keys.index("3") and sorted(keys[-2:]) == ["ctrl+q", "q"]  # quitting last


async def test_the_palette_reaches_a_screen_by_name(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await run_command(pilot, "go to audit")
        assert app.current_mode == "audit"


async def test_a_failing_action_shows_an_error_dialog_not_a_crash(workspace):
    app = make_app(workspace)

    def broken(db):
        raise BadInput("segment 'vip' does not exist")

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.fetch("save_segment", broken)  # an operator's action: the dialog is the answer to the key
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "segment 'vip' does not exist" in text_of(pilot, "#error-message")
        assert not app.screen.hint  # their input, not a bug
        await pilot.press("enter")
        assert app.current_mode == "overview" and not isinstance(app.screen, ErrorDialog)


async def test_confirmation_dialog_answers_yes_or_no(workspace):
    app = make_app(workspace)
    answers: list[bool | None] = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ConfirmDialog("Cancel campaign?", "412 recipients will be cancelled."), answers.append)
        await pilot.pause()
        await pilot.press("n")
        app.push_screen(ConfirmDialog("Cancel campaign?", "412 recipients will be cancelled."), answers.append)
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert answers == [False, True]


async def test_a_real_launch_needs_the_count_typed_exactly(workspace):
    app = make_app(workspace)
    answers: list[bool | None] = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(TypedCountDialog("Launch for real?", "4,512 messages · ¥240.56", 4512), answers.append)
        await pilot.pause()
        await pilot.press(*"4500", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TypedCountDialog)  # a wrong number sends nothing
        assert "nothing was sent" in text_of(pilot, "#typed-note")
        app.screen.query_one("#typed", Input).value = ""
        await pilot.press(*"4,512", "enter")
        await pilot.pause()
        app.push_screen(TypedCountDialog("Launch for real?", "4,512 messages", 4512), answers.append)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert answers == [True, False]


async def test_audit_screen_lists_entries_newest_first_and_filters_by_action(workspace, db):
    record(db, "segment.create", name="vip")
    record(db, "campaign.launch", name="we-miss-you", real=True, count=4512)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one("#audit-table", DataTable)
        action = [str(k.value) for k in table.columns].index("action")  # columns are chosen by width
        assert [str(table.get_row_at(i)[action]) for i in range(table.row_count)] == ["campaign.launch",
                                                                                      "segment.create"]
        await pilot.press("slash", *"segment", "enter")
        await settle(pilot)
        action = [str(k.value) for k in table.columns].index("action")  # chosen again for the rows now shown
        assert [str(table.get_row_at(i)[action]) for i in range(table.row_count)] == ["segment.create"]


async def test_audit_screen_picks_up_new_entries_and_keeps_the_cursor(workspace, db):
    for i in range(3):
        record(db, "caps.set", rule=f"sms {i}/7d")
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one("#audit-table", DataTable)
        await pilot.press("down")
        before = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        record(db, "caps.set", rule="any 1/1d")
        app.screen.refresh_data()
        await settle(pilot)
        assert table.row_count == 4
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == before


def test_run_console_and_the_app_take_a_workspace(workspace):
    app = WinbackApp(workspace)
    assert app.workspace is workspace


def test_run_console_migrates_a_new_database_before_the_screens_open_it(tmp_path, monkeypatch):
    from console.workspace import Workspace
    from screens import app as app_module

    started = []
    monkeypatch.setattr(app_module.WinbackApp, "run", lambda self: started.append(self.workspace.db_path.exists()))
    app_module.run_console(Workspace.load(db=tmp_path / "new.db"))
    assert started == [True]  # created and migrated before the app (and its workers) started
