"""Issue 17/18: import from the console (`i`, or "Import users/events…" in the palette) with a saved mapping of
winback.toml, both phases shown live (staging, swapping in), then what the import did; a refused file changes
nothing and the screen says why, as FILE:LINE: column: reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Select

from console.workspace import Workspace
from screens.import_screen import ImportScreen
from tests.tui_helpers import demo_workspace, make_app, run_command, settle, text_of, type_text, wait_for

MAPPINGS = """
[import.mappings.shop]
kind = "order"
date_format = "%d/%m/%Y %H:%M"
where = "状态 != 'refunded'"

[import.mappings.shop.columns]
"会员号" = "user_id"
"付款时间" = "at"
"金额" = "amount"

[import.mappings.crm.columns]
"Member" = "external_id"
"""

ORDERS = [
    "会员号,付款时间,金额,状态",
    "U0000001,20/11/2026 09:00,129.00,paid",
    "U0000002,21/11/2026 10:30,58.50,Refunded",     # left out by the mapping's where
    "U0000003,22/11/2026 11:00,99.00,paid",
]


@pytest.fixture
def demo(tmp_path, monkeypatch) -> Workspace:
    demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    (tmp_path / "winback.toml").write_text(MAPPINGS, encoding="utf-8")
    return Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")


def _orders(demo: Workspace) -> int:
    db = demo.open()
    try:
        return db.execute("SELECT count(*) FROM events WHERE kind = 'order'").fetchone()[0]
    finally:
        db.close()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _fill(pilot, file: Path, mapping: str) -> None:
    """Type the path, pick the saved mapping with the keys (Enter opens the list, arrows, Enter)."""
    screen = pilot.app.screen
    await type_text(pilot, str(file))
    assert screen.query_one("#import-file", Input).value == str(file)
    select = screen.query_one("#import-mapping", Select)
    select.focus()
    await pilot.press("enter")
    names = ["(none)", "crm", "shop"]
    await pilot.press(*["down"] * names.index(mapping), "enter")
    await wait_for(pilot, lambda: select.value == mapping, what=f"the mapping {mapping} chosen")


async def test_importing_events_with_a_saved_mapping_shows_both_phases_then_the_counts(demo, tmp_path, monkeypatch):
    orders = _write(tmp_path / "shop.csv", ORDERS)
    before = _orders(demo)
    staged, swapping = tmp_path / "paused-load", tmp_path / "paused-swap"
    monkeypatch.setenv("WINBACK_TEST_PAUSE_AT", "load")
    monkeypatch.setenv("WINBACK_TEST_PAUSE_FILE", str(staged))
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen")
        assert "crm, shop" in text_of(pilot, "#mapping-hint")          # the saved mappings, from winback.toml
        await _fill(pilot, orders, "shop")
        assert "kind order" in text_of(pilot, "#mapping-hint")
        await pilot.press("ctrl+s")
        # Staging: the file is read, checked and staged; the screen says so while it happens.
        await wait_for(pilot, staged.exists, what="the import to pause after staging")
        await wait_for(pilot, lambda: text_of(pilot, "#import-phase") == "staging shop.csv …",
                       what="the staging phase shown")
        assert _orders(demo) == before
        monkeypatch.setenv("WINBACK_TEST_PAUSE_AT", "swap")
        monkeypatch.setenv("WINBACK_TEST_PAUSE_FILE", str(swapping))
        Path(f"{staged}.go").write_text("")
        # Swapping in: the one short transaction.
        await wait_for(pilot, swapping.exists, what="the import to pause inside the swap")
        await wait_for(pilot, lambda: text_of(pilot, "#import-phase") == "swapping in shop.csv …",
                       what="the swapping-in phase shown")
        Path(f"{swapping}.go").write_text("")
        await wait_for(pilot, lambda: "events added" in text_of(pilot, "#import-result"), what="the result")
        result = text_of(pilot, "#import-result")
        assert "shop.csv: 2 events added, 0 already present" in result, result
        assert "1 filtered out by the mapping's where · 0 invalid" in result, result
        assert text_of(pilot, "#import-phase") == "done: imported"
    assert _orders(demo) == before + 2


async def test_a_refused_file_changes_nothing_and_says_which_line_and_column(demo, tmp_path):
    bad = _write(tmp_path / "bad.csv", [*ORDERS, "U0000004,32/13/2026 25:00,10.00,paid", "U0000005,,x,paid"])
    before = _orders(demo)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await run_command(pilot, "import users/events")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen (palette)")
        await _fill(pilot, bad, "shop")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Refused" in text_of(pilot, "#import-result"), what="the refusal")
        result = text_of(pilot, "#import-result")
        assert "nothing was imported, the workspace is unchanged" in result, result
        assert "bad.csv: 2 invalid of 4 rows (1 filtered out" in result, result
        assert "bad.csv:5: 付款时间 (at): '32/13/2026 25:00' does not match" in result, result  # FILE:LINE: column: reason
        assert "bad.csv:6:" in result, result
        assert isinstance(app.screen, ImportScreen)           # said in place, no error dialog over it
    assert _orders(demo) == before


async def test_a_missing_file_is_refused_in_place(demo, tmp_path):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen")
        await type_text(pilot, str(tmp_path / "nope.csv"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Refused" in text_of(pilot, "#import-result"), what="the refusal")
        assert "nope.csv" in text_of(pilot, "#import-result")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), what="back where we were")


async def test_leaving_the_screen_while_importing_lets_the_import_finish_and_says_so(demo, tmp_path, monkeypatch):
    orders = _write(tmp_path / "shop.csv", ORDERS)
    before = _orders(demo)
    paused = tmp_path / "paused-load"
    monkeypatch.setenv("WINBACK_TEST_PAUSE_AT", "load")
    monkeypatch.setenv("WINBACK_TEST_PAUSE_FILE", str(paused))
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen")
        await _fill(pilot, orders, "shop")
        await pilot.press("ctrl+s")
        await wait_for(pilot, paused.exists, what="the import to pause after staging")
        await pilot.press("escape")                       # leave while it runs
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), what="back on the overview")
        Path(f"{paused}.go").write_text("")
        await wait_for(pilot, lambda: any("2 events added" in n.message for n in app._notifications),
                       what="a notification with the import's result")
    assert _orders(demo) == before + 2


# ---- a newcomer's audit (issue 17): what an operator at the console tripped on ---------------------------------

async def _open_import(pilot) -> None:
    await settle(pilot)
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ImportScreen), what="the import screen")


async def test_a_path_from_the_home_folder_is_read_and_a_missing_one_says_where_it_was_looked_for(
        demo, tmp_path, monkeypatch):
    # A shell reads ~ as the home folder, and so must the console's path field; a relative path is read from the
    # folder winback was started in, which the operator of a console may not know: the refusal says it.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    _write(home / "shop.csv", ORDERS)
    before = _orders(demo)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_import(pilot)
        await _fill(pilot, Path("~/shop.csv"), "shop")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "events added" in text_of(pilot, "#import-result")
                       or "Refused" in text_of(pilot, "#import-result"), what="the result")
        assert "shop.csv: 2 events added" in text_of(pilot, "#import-result"), text_of(pilot, "#import-result")
        file = app.screen.query_one("#import-file", Input)
        file.focus()
        file.value = ""
        await type_text(pilot, "nope.csv")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Refused" in text_of(pilot, "#import-result"), what="the refusal")
        said = " ".join(text_of(pilot, "#import-result").split())
        assert f"nope.csv: no such file in {tmp_path} (the folder winback was started in)" in said, said
    assert _orders(demo) == before + 2


async def test_the_mapping_line_says_its_formats_and_a_result_without_one_speaks_of_no_where(demo, tmp_path):
    plain = _write(tmp_path / "visits.csv", ["user_id,kind,at", "U0000001,visit,2026-11-20 09:00"])
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_import(pilot)
        await _fill(pilot, plain, "shop")
        hint = " ".join(text_of(pilot, "#mapping-hint").split())
        assert "date format %d/%m/%Y %H:%M" in hint, hint
        select = app.screen.query_one("#import-mapping", Select)
        select.focus()
        await pilot.press("enter", "up", "up", "enter")
        await wait_for(pilot, lambda: select.value == "(none)", what="no mapping chosen")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "events added" in text_of(pilot, "#import-result"), what="the result")
        result = text_of(pilot, "#import-result")
        assert "visits.csv: 1 events added" in result and "where" not in result, result


async def test_skip_invalid_rows_imports_the_valid_ones_and_writes_the_rejects_beside_the_file(demo, tmp_path):
    bad = _write(tmp_path / "bad.csv", [*ORDERS, "U0000004,32/13/2026 25:00,10.00,paid"])
    before = _orders(demo)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_import(pilot)
        await _fill(pilot, bad, "shop")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Refused" in text_of(pilot, "#import-result"), what="the refusal")
        said = " ".join(text_of(pilot, "#import-result").split())
        assert "tick Skip invalid rows" in said, said                 # the refusal says the way on
        await pilot.click("#import-skip")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "events added" in text_of(pilot, "#import-result"), what="the result")
        said = " ".join(text_of(pilot, "#import-result").split())
        assert "bad.csv: 2 events added" in said, said
        assert f"1 invalid row skipped; written with reasons to {tmp_path / 'bad.csv.rejects.csv'}" in said, said
    assert (tmp_path / "bad.csv.rejects.csv").exists()
    assert _orders(demo) == before + 2


async def test_a_missing_column_says_how_to_rename_it_from_the_console_which_has_no_map_option(demo, tmp_path):
    # The importer's words say `rename with --map user_id=YOUR_COLUMN`: the console has no --map, a saved
    # mapping is its way to rename a column.
    orders = _write(tmp_path / "shop.csv", ORDERS)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_import(pilot)
        await type_text(pilot, str(orders))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Refused" in text_of(pilot, "#import-result"), what="the refusal")
        said = " ".join(text_of(pilot, "#import-result").split())
        assert "missing required column 'user_id'" in said, said
        assert ("In the console, rename columns with a saved mapping: [import.mappings.NAME.columns] in "
                "winback.toml, e.g. \"YOUR_COLUMN\" = \"user_id\", then choose it under Mapping") in said, said


async def test_a_file_without_a_kind_column_is_told_to_fill_in_event_kind(demo, tmp_path):
    visits = _write(tmp_path / "visits.csv", ["user_id,at", "U0000001,2026-11-20 09:00"])
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_import(pilot)
        await type_text(pilot, str(visits))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Refused" in text_of(pilot, "#import-result"), what="the refusal")
        said = " ".join(text_of(pilot, "#import-result").split())
        assert "In the console, type the kind of every row under Event kind (e.g. order)." in said, said


async def test_choosing_a_users_mapping_switches_what_to_users(demo, tmp_path):
    # The crm mapping renames a column to external_id: it is for users; left on "events" the import was refused.
    members = _write(tmp_path / "crm.csv", ["Member,name", "M900,新会员"])
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_import(pilot)
        await _fill(pilot, members, "crm")
        await wait_for(pilot, lambda: app.screen.query_one("#import-what", Select).value == "users",
                       what="What switched to users")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "users added" in text_of(pilot, "#import-result"), what="the result")
        assert "crm.csv: 1 users added" in text_of(pilot, "#import-result")


async def test_the_staging_line_says_how_much_of_the_file_is_read(demo):
    # A bar alone says nothing of the file's size: "staging orders.csv … 412.0 of 512.0 MB" tells how long to
    # wait. Driven through the screen's own callbacks (as the import's thread calls them): a small file's import
    # gives no moment between two batches to look at.
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_import(pilot)
        screen = app.screen
        screen._set_phase("staging orders.csv …")
        screen._moved(412_000_000, 512_000_000)
        await pilot.pause()
        assert text_of(pilot, "#import-phase") == "staging orders.csv … 412.0 of 512.0 MB"
        screen._set_phase("swapping in orders.csv …")
        screen._moved(1_024_000_000, 1_024_000_000)
        await pilot.pause()
        assert text_of(pilot, "#import-phase") == "swapping in orders.csv …"      # the swap reads no more of it
