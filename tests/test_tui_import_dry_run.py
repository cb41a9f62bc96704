"""The import screen's dry run (the CLI's `winback import … --dry-run`): tick "Dry run" and ctrl+s
reads and checks the file in a worker thread, writes nothing, and says what the CLI says."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Checkbox, Input
from typer.testing import CliRunner

from console.workspace import Workspace
from screens.import_screen import ImportScreen
from tests.test_tui_import import MAPPINGS, ORDERS, _fill, _orders, _write
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for


@pytest.fixture
def shop(tmp_path, monkeypatch) -> Workspace:
    demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    (tmp_path / "winback.toml").write_text(MAPPINGS, encoding="utf-8")
    return Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")


def _cli_says(ws: Workspace, path, *extra: str) -> str:
    from console.cli import app

    result = CliRunner().invoke(app, ["--config", str(ws.config.path), "--db", str(ws.db_path), "import", "events",
                                      str(path), "--mapping", "shop", "--dry-run", *extra])
    return result.output


def _words(text: str) -> str:
    """The text without its timing and run on one line: the part of a summary that is the same every time."""
    return re.sub(r" in \d+\.\ds", "", " ".join(text.split()))


async def _check(pilot, path) -> str:
    app = pilot.app
    if not isinstance(app.screen, ImportScreen):
        await settle(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen")
        await _fill(pilot, path, "shop")
        await pilot.click("#import-dry")
        await wait_for(pilot, lambda: app.screen.query_one("#import-dry", Checkbox).value, what="Dry run ticked")
        assert "ctrl+s: check" in str(app.screen.query_one("#import-form").border_subtitle)
    else:
        app.screen.query_one("#import-file", Input).value = str(path)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: text_of(pilot, "#import-phase").startswith(("done", "refused")),
                   what="the check's end")
    return _words(text_of(pilot, "#import-result"))


async def test_a_dry_run_checks_the_file_writes_nothing_and_says_what_the_cli_says(shop, tmp_path):
    orders = _write(tmp_path / "shop.csv", ORDERS)
    bad = _write(tmp_path / "bad.csv", [*ORDERS, "U0000004,32/13/2026 25:00,10.00,paid"])
    before = _orders(shop)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        good_said = await _check(pilot, orders)
        assert text_of(pilot, "#import-phase") == "done: checked, nothing written"
        bad_said = await _check(pilot, bad)     # the same screen, another file: refused, as the CLI refuses it
        assert text_of(pilot, "#import-phase") == "refused"
    assert _orders(shop) == before
    assert not (tmp_path / "bad.csv.rejects.csv").exists()

    cli = _words(_cli_says(shop, orders))
    summary = "shop.csv: 2 of 2 rows valid; nothing written (--dry-run)"
    assert summary in cli, cli
    assert summary in good_said and "1 row left out by the mapping's where" in good_said, good_said
    assert "events added" not in good_said, good_said

    cli = _words(_cli_says(shop, bad))
    error = "bad.csv:5: 付款时间 (at): '32/13/2026 25:00' does not match"
    assert error in cli and error in bad_said, (cli, bad_said)
    assert "Checked (dry run): the file would be refused; nothing was written" in bad_said, bad_said
    assert "bad.csv: 1 invalid of 3 rows (1 filtered out by the mapping's where)" in bad_said, bad_said
