"""The console's Programs area (issue #14): the list with a small funnel each, a program's page with its steps as
columns, pause / resume / stop / start (a real start asks for the typed name), and the editor that checks the
program file as you type. On the demo workspace, whose draft 'ladder' is the issue's ladder."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, TextArea

from console.programs import funnel, runner, spec, store
from console.workspace import Workspace
from screens.dialogs import ConfirmDialog, ErrorDialog
from screens.programs import ProgramEditorScreen, ProgramPage, ProgramsScreen, TypedNameDialog
from tests.tui_helpers import demo_workspace, loading, make_app, run_command, settle, text_of, wait_for

SIZES = [(80, 24), (160, 45)]
NOW = "2026-11-25T10:00:00+08:00"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)


def _status(workspace: Workspace, name: str = "ladder") -> str:
    db = workspace.open()
    try:
        return store.get(db, name).status
    finally:
        db.close()


def _cells(pilot, selector: str) -> list[list[str]]:
    table = pilot.app.screen.query_one(selector, DataTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def _open_programs(pilot) -> None:
    await pilot.press("P")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen)
                   and pilot.app.screen.query_one("#programs-table", DataTable).row_count == 1,
                   what="the Programs list with the demo's ladder")


async def _open_ladder_editor(pilot) -> TextArea:
    """Programs (P), then the editor (e) on the demo's ladder once its file has been checked: the text area."""
    await _open_programs(pilot)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramEditorScreen)
                   and "✓ ladder" in text_of(pilot, "#program-check"), what="the ladder's file, checked")
    return pilot.app.screen.query_one("#program-text", TextArea)


@pytest.mark.parametrize("size", SIZES)
async def test_the_list_starts_a_dry_run_and_the_page_pauses_and_resumes(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await _open_programs(pilot)
        assert _cells(pilot, "#programs-table")[0][:3] == ["ladder", "draft", "dry run"]
        await pilot.press("l")   # a dry-run start: started and run once, nothing leaves the machine
        await wait_for(pilot, lambda: _cells(pilot, "#programs-table")[0][1] == "running"
                       and _cells(pilot, "#programs-table")[0][4] not in ("0", ""),
                       what="the ladder running with its entrants counted")
        db = demo.open()
        entered = funnel.funnel(db, "ladder")["entered"]
        taken = [s["taken"] for s in funnel.funnel(db, "ladder")["steps"]]
        # the program's own steps (the demo's simulated past campaign has real-run rows of its own)
        assert db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                          "WHERE s.dry_run = 0 AND c.program_id IS NOT NULL").fetchone()[0] == 0
        db.close()
        assert _cells(pilot, "#programs-table")[0][4] == f"{entered:,}"
        await wait_for(pilot, lambda: f"took: nudge {taken[0]:,} › offer {taken[1]:,} › call {taken[2]:,}"
                       in text_of(pilot, "#programs-detail"), what="the steps taken, as the funnel counts them")

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                       and "running" in text_of(pilot, "#program-head"), what="the ladder's page")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#program-steps", DataTable).row_count > 0,
                       what="the steps table")
        table = pilot.app.screen.query_one("#program-steps", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["", "1 nudge", "2 offer", "3 call"]
        await pilot.press("space")
        await wait_for(pilot, lambda: "paused" in text_of(pilot, "#program-head"), what="the page saying paused")
        assert _status(demo) == "paused"
        await pilot.press("r")
        await wait_for(pilot, lambda: "running" in text_of(pilot, "#program-head"), what="running again")
        assert _status(demo) == "running"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen), what="back to the list")


@pytest.mark.parametrize("size", SIZES)
async def test_stop_asks_first_and_a_second_stop_is_explained(demo, size):
    db = demo.open()
    store.start(db, "ladder", real=False)
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await _open_programs(pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="the stop question")
        await pilot.press("escape")   # kept
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen), what="the list again")
        assert _status(demo) == "running"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="the stop question")
        await pilot.click("#yes")
        await wait_for(pilot, lambda: _cells(pilot, "#programs-table")[0][1] == "stopped", what="stopped")
        await pilot.press("space")    # pausing a stopped program: the store's words, no traceback
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog), what="the refusal")
        assert "is stopped" in text_of(pilot, "#error-message")


async def test_a_real_start_on_the_dry_run_transport_is_refused_before_asking(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_programs(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog), what="the refusal")
        assert "dryrun" in text_of(pilot, "#error-message")
    assert _status(demo) == "draft"


async def test_a_real_start_needs_the_typed_program_name(demo, tmp_path: Path):
    # every channel of the ladder "really sends" to a file (no provider needed)
    (tmp_path / "winback.toml").write_text(
        "".join(f'[channels.{c}]\ntransport = "csv"\n\n' for c in ("sms", "push", "call")), encoding="utf-8")
    workspace = Workspace.load(db=demo.db_path)
    app = make_app(workspace)
    async with app.run_test(size=(160, 45)) as pilot:
        await _open_programs(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TypedNameDialog), what="the typed-name dialog")
        await pilot.press(*"ladde", "enter")   # a wrong name starts nothing
        await wait_for(pilot, lambda: "nothing was started" in text_of(pilot, "#typed-note"), what="the note")
        assert _status(workspace) == "draft"
        await pilot.press("r", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen)
                       and _cells(pilot, "#programs-table")[0][1:3] == ["running", "real"], what="started for real")
        await wait_for(pilot, lambda: not loading(pilot), what="the start's run to finish")
    db = workspace.open()
    assert store.get(db, "ladder").dry_run is False
    assert db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                      "WHERE s.dry_run = 0 AND c.program_id IS NOT NULL").fetchone()[0] > 0
    db.close()


MISTAKES = [   # (as written in the ladder, the mistake typed instead, what the check says after "line N: ")
    ('template = "nostalgic-sms-zh"', 'template = "no-such-template"', "steps[1].template"),
    ('channel = "call"', 'channel = "fax"', "steps[3].channel: 'fax' is not a channel"),
    ('only = "spend >= 1000"            # who gets this step; the others skip it (recorded) and go on',
     'only = "spnd >= 1000"', "steps[3].only: rule, column 1: no field 'spnd'"),
]


async def test_the_editor_names_an_unknown_template_channel_or_rule_at_its_line_and_saves_a_fixed_draft(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        area = await _open_ladder_editor(pilot)
        text = area.text
        for written, mistake, said in MISTAKES:
            line = text.splitlines().index(written) + 1
            area.text = text.replace(written, mistake)
            await wait_for(pilot, lambda: f"line {line}: {said}" in text_of(pilot, "#program-check"),  # noqa: B023
                           what=f"{mistake!r} named at its line {line}")
        area.text = text.replace('control = 10 ', 'control = 20 ')
        await wait_for(pilot, lambda: "✓ ladder" in text_of(pilot, "#program-check"), what="the file good again")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen), what="back after saving")
    db = demo.open()
    assert store.get(db, "ladder").control_pct == 20
    db.close()


async def test_the_palette_opens_programs(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await run_command(pilot, "Go to Programs")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen), what="the Programs screen")


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_of_the_ladder_page_after_a_dry_run_of_three_weeks(snap_compare, demo, monkeypatch, size):
    db = demo.open()
    # the program's salt (which fixes its control group) is random by design; fixed for a stable picture
    monkeypatch.setattr(store.secrets, "token_hex", lambda n=8: "5eed" * (n // 2))
    store.add(db, spec.parse(store.source(db, "ladder"), "ladder.toml", db), replace=True)  # the demo's draft
    store.start(db, "ladder", real=False)
    for day in (NOW, "2026-12-02T10:00:00+08:00", "2026-12-16T10:00:00+08:00"):
        monkeypatch.setenv("WINBACK_NOW", day)
        runner.run(db, demo.config, "ladder")
    db.close()

    async def run_before(pilot):
        await _open_programs(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                       and pilot.app.screen.query_one("#program-steps", DataTable).row_count > 0,
                       what="the ladder's page with its steps")
        await settle(pilot)
        pilot.app.screen.on_screen_suspend()   # no live polling: the picture is of one moment

    assert snap_compare(make_app(demo), terminal_size=size, run_before=run_before)


async def test_the_person_page_shows_where_they_are_in_the_ladder(demo):
    db = demo.open()
    store.start(db, "ladder", real=False)
    runner.run(db, demo.config, "ladder")
    active, left = (db.execute(
        "SELECT u.external_id FROM program_entries e JOIN users u ON u.id = e.user_id WHERE e.control = 0 "
        f"AND e.state {op} 'active' ORDER BY e.id LIMIT 1").fetchone()[0] for op in ("=", "!="))
    outsider = db.execute("SELECT external_id FROM users WHERE id NOT IN (SELECT user_id FROM program_entries) "
                          "ORDER BY id LIMIT 1").fetchone()[0]
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        pilot.app.open_person(active)
        await wait_for(pilot, lambda: "ladder (dry run)" in text_of(pilot, "#person-programs"),
                       what="the person's programs")
        assert "next offer (step 2 of 3), due 2026-12-02" in text_of(pilot, "#person-programs")
        await pilot.press("escape")
        pilot.app.open_person(left)
        await wait_for(pilot, lambda: "ladder (dry run)" in text_of(pilot, "#person-programs"),
                       what="a person who left")
        assert "no usable channel" in text_of(pilot, "#person-programs")
        await pilot.press("escape")
        pilot.app.open_person(outsider)
        await wait_for(pilot, lambda: "loading" not in text_of(pilot, "#person-profile")
                       and not loading(pilot), what="the outsider's page")
        assert pilot.app.screen.query_one("#person-programs").display is False


async def test_the_palette_opens_a_program_and_writes_a_new_one(demo):
    from screens.dialogs import ChoiceDialog

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await run_command(pilot, "Open a program")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog), what="which program")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                       and "draft" in text_of(pilot, "#program-head"), what="the ladder's page")
        await pilot.press("escape")
        await run_command(pilot, "New program")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramEditorScreen)
                       and "✓ new-program" in text_of(pilot, "#program-check"), what="the editor, its skeleton checked")


def test_the_programs_keys_can_be_remapped_by_id():
    from screens.keys import known_ids

    assert {"goto.programs", "programs.open", "programs.start", "programs.start_real", "programs.pause",
            "programs.resume", "programs.stop", "programs.edit", "programs.new", "program_editor.save"} <= known_ids()


@pytest.mark.parametrize("size", SIZES)
async def test_the_page_shows_a_per_day_timeline_that_adds_up_to_the_funnel(demo, monkeypatch, size):
    db = demo.open()
    store.start(db, "ladder", real=False)
    for day in (NOW, "2026-12-02T10:00:00+08:00", "2026-12-16T10:00:00+08:00"):
        monkeypatch.setenv("WINBACK_NOW", day)
        runner.run(db, demo.config, "ladder")
    data = funnel.funnel(db, "ladder")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await _open_programs(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                       and pilot.app.screen.query_one("#program-steps", DataTable).row_count > 0, what="the page")
        await pilot.press("t")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#program-timeline", DataTable).row_count == 3,
                       what="three days in the timeline")
        rows = _cells(pilot, "#program-timeline")
        assert [r[0] for r in rows] == ["2026-11-25", "2026-12-02", "2026-12-16"]

        def total(column: int) -> int:
            return sum(int(r[column].replace(",", "")) for r in rows)

        assert total(1) == data["entered"]
        assert total(2) == sum(s["queued"] for s in data["steps"])
        assert total(3) == sum(s["holdout"] for s in data["steps"])
        assert total(5) == data["returned"]
        assert total(5) + total(6) == sum(data["exited"].values())
        await pilot.press("t")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#program-steps", DataTable).display,
                       what="the steps again")


def test_each_programs_screen_has_its_own_stylesheet_rooted_at_its_class():
    import re

    from screens.programs import ProgramPage
    for screen in (ProgramsScreen, ProgramPage, ProgramEditorScreen):
        path = Path(__import__(screen.__module__, fromlist=["_"]).__file__).with_name(screen.CSS_PATH)
        selectors = re.findall(r"(?:^|})\s*([^{}]+?)\s*{", path.read_text(encoding="utf-8"))
        assert selectors and all(s.startswith(screen.__name__) for s in selectors), path.name


async def test_leaving_the_editor_with_changes_asks_first(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_programs(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramEditorScreen)
                       and "✓ new-program" in text_of(pilot, "#program-check"), what="the new program's skeleton")
        await pilot.press("escape")   # nothing changed: leaves without asking
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramsScreen), what="the list")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramEditorScreen), what="the editor")
        area = pilot.app.screen.query_one("#program-text", TextArea)
        area.text = area.text.replace("new-program", "my-ladder")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="the question")
        await pilot.press("escape")   # stay
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramEditorScreen), what="still editing")
        assert "my-ladder" in pilot.app.screen.query_one("#program-text", TextArea).text
