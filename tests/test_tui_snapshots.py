"""Snapshots of the console on the demo workspace, at 80×24 and 120×40, with a frozen clock and no blinking.

The app is built by the same factory the CLI uses (WinbackApp(workspace)); only the cursor blink is turned off.
Update after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`, and look at the
SVGs before committing them.
"""

from __future__ import annotations

import shutil

import pytest

from console.policy import quiet_hours
from fixtures.demo import build_demo
from tests.tui_helpers import loading, make_app, settle, text_of, wait_for

FROZEN = "2026-11-25T11:00:00+08:00"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """One 2,000-user demo database for the module (copied per test, so tests cannot disturb each other)."""
    from console.workspace import Workspace

    mp = pytest.MonkeyPatch()
    mp.setenv("WINBACK_NOW", FROZEN)
    mp.setenv("WINBACK_OPERATOR", "ops")
    folder = tmp_path_factory.mktemp("snapdemo")
    ws = Workspace.load(db=folder / "winback.db")
    build_demo(ws, users=2000, seed=7)
    db = ws.open()
    quiet_hours.set_quiet_hours(db, "off")  # every dry-run recipient is decided at once: a stable tally
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, so a plain copy is whole
    db.close()
    mp.undo()
    return folder / "winback.db"


@pytest.fixture
def demo(demo_db, tmp_path, monkeypatch):
    from console.workspace import Workspace

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    monkeypatch.setenv("WINBACK_NOW", FROZEN)
    monkeypatch.setenv("WINBACK_OPERATOR", "ops")
    # A campaign's salt (which fixes holdout and variants) is random by design; fixed here for stable pictures.
    from console.campaigns import model

    monkeypatch.setattr(model.secrets, "token_hex", lambda n=8: "5eed" * (n // 2))
    shutil.copy(demo_db, tmp_path / "winback.db")
    return Workspace.load(db=tmp_path / "winback.db")


async def _settled(pilot) -> None:
    await settle(pilot)
    await wait_for(pilot, lambda: not loading(pilot), what="every load to finish")
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_overview(snap_compare, demo, size):
    assert snap_compare(make_app(demo), terminal_size=size, run_before=_settled)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_help_on_the_overview(snap_compare, demo, size):
    async def run_before(pilot):
        await _settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(demo), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_creation_flow_with_its_plan(snap_compare, demo, size):
    async def run_before(pilot):
        await pilot.press("c")
        await _settled(pilot)
        await pilot.press("n")
        await _settled(pilot)
        await pilot.press(*"nov-sms", "ctrl+s")
        await _settled(pilot)

    assert snap_compare(make_app(demo), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_deliveries_of_a_completed_dry_run(snap_compare, demo, size):
    from console.campaigns import control, model

    db = demo.open()
    model.create(db, "nov-sms", segment="all", channel="sms", template="nostalgic-sms-zh")
    control.launch(db, demo.config, "nov-sms")
    db.close()

    async def run_before(pilot):
        await pilot.press("d")
        await _settled(pilot)
        await pilot.press("f")  # recipients: deferred → skipped shows reasons
        await pilot.press("f", "f")
        await _settled(pilot)
        pilot.app.screen.on_screen_suspend()  # stop live polling: the picture is of one moment
        # The rate chart comes from the ledger and the frozen clock: it is part of the picture.
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(make_app(demo), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_messages_preview(snap_compare, demo, size):
    async def run_before(pilot):
        await pilot.press("m")
        await _settled(pilot)
        # The first template is opened, checked and rendered for member 1: three loads, one after the other.
        await wait_for(pilot, lambda: "member 1/" in text_of(pilot, "#preview")
                       and "checks pass" in text_of(pilot, "#problems"), what="the first template's preview")
        await _settled(pilot)

    assert snap_compare(make_app(demo), terminal_size=size, run_before=run_before)
