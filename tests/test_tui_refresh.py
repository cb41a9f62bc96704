"""`winback refresh` from the console (issue 18): R on the overview, or "Refresh profiles and layers" in the palette
from any screen, runs the CLI's service (console.workspace_refresh) in a thread worker, shows its steps and its
result, and the overview's funnel and heat map then show the new figures. After an import — the loop an operator
runs — nothing needs the CLI any more."""

from __future__ import annotations

import sqlite3

import pytest

from console.importing import import_events
from screens.overview import OverviewScreen
from screens.sources import overview_profiles
from tests.tui_helpers import (
    demo_workspace,
    error_dialog_shown,
    make_app,
    run_command,
    settle,
    text_of,
    wait_for,
)

NOW = "2026-11-25T11:00:00+08:00"


@pytest.fixture
def imported(tmp_path, monkeypatch):
    """The demo, then an import of today's orders from every dormant user (profiles not refreshed yet)."""
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = ws.open()
    before = overview_profiles(db, ws.config)
    dormant = [r[0] for r in db.execute("SELECT u.external_id FROM users u JOIN profiles p ON p.user_id = u.id "
                                        "WHERE p.dormancy = 'dormant' ORDER BY u.id").fetchall()]
    assert dormant
    lines = ["user_id,kind,at,amount"] + [f"{u},order,2026-11-25 10:00:00,99.00" for u in dormant]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_events(db, path, config=ws.config)
    assert overview_profiles(db, ws.config)["layers"] == before["layers"]  # an import alone moves nothing
    db.close()
    return ws, before


def _heat(app):
    return app.screen.query_one("#heat").matrix


def _after(ws) -> dict:
    db = ws.open()
    try:
        return overview_profiles(db, ws.config)
    finally:
        db.close()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_r_on_the_overview_refreshes_shows_its_steps_and_the_new_figures(imported, size):
    ws, before = imported
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: _heat(app) == tuple(before["layers"]), what="the heat map before")
        # Hold the write lock: the refresh reads (its first steps), then waits for the lock to write — so its
        # progress is on screen for as long as the test needs to read it.
        lock = sqlite3.connect(ws.db_path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("R")
            await wait_for(pilot, lambda: "Refreshing profiles" in text_of(pilot, "#refresh-status")
                           and "%" in text_of(pilot, "#refresh-status"), what="the refresh's steps")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        await wait_for(pilot, lambda: text_of(pilot, "#refresh-status").startswith("Refreshed (incremental)"),
                       what="the refresh's result")
        after = _after(ws)
        assert after["layers"] != before["layers"]
        line = text_of(pilot, "#refresh-status")
        assert "users recomputed" in line and "profiles" in line
        await wait_for(pilot, lambda: _heat(app) == tuple(after["layers"]), what="the heat map after the refresh")
        assert tuple(app.screen.query_one("#funnel").rows) == tuple(after["funnel"])
        assert any(n.title == "Refresh finished" for n in app._notifications)


async def test_the_palette_refreshes_from_any_screen(imported):
    ws, before = imported
    app = make_app(ws)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await run_command(pilot, "Refresh profiles")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen)
                       and text_of(pilot, "#refresh-status").startswith("Refreshed"), what="the refresh's result")
        await wait_for(pilot, lambda: _heat(app) == tuple(_after(ws)["layers"]), what="the new heat map")


async def test_a_refresh_that_cannot_get_the_lock_says_so_in_place(imported, monkeypatch):
    import storage.db

    ws, before = imported
    monkeypatch.setenv("WINBACK_WRITE_WAIT", "0")
    # SQLite's own busy timeout, then the refusal: 0.2 s, not 10 s (the refresh's worker connects in this process)
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 200)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lock = sqlite3.connect(ws.db_path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("R")
            await wait_for(pilot, lambda: "did not happen" in text_of(pilot, "#refresh-status"),
                           what="the refusal in place")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert "busy" in text_of(pilot, "#refresh-status") and not error_dialog_shown(app)
        assert _after(ws)["layers"] == before["layers"]
