"""A newcomer's audit of the console (app level): a dry run's notification never says "sent", and a window
smaller than 80×24 says so instead of drawing cut cells."""

from __future__ import annotations

import pytest

from console import templates
from console.campaigns import model
from console.policy import quiet_hours
from screens.overview import OverviewScreen
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """400 demo users and a draft dry-run SMS campaign `nov-sms` (quiet hours off: everyone can be sent to)."""
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml(
        'name = "miss-you"\nchannel = "sms"\nbody = "{{ user.name | default(\'您\') }}，好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    model.create(db, "nov-sms", segment="all", channel="sms", template="miss-you", holdout=0)
    db.close()
    return workspace


async def test_a_dry_runs_notification_says_would_send_never_sent(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_dispatch("launch", "nov-sms")   # what ctrl+l in the creation flow starts (a dry run)

        def finished() -> list[str]:
            return [f"{n.title}: {n.message}" for n in app._notifications if "nov-sms" in n.message]

        await wait_for(pilot, finished, what="the send's notification")
        said = finished()[0]
        assert "would send" in said, said
        assert " sent " not in f"{said} ".replace("would send", ""), said   # nothing was sent
        assert "dry run" in said, said


async def test_a_window_smaller_than_80x24_says_so_and_the_screen_comes_back_when_it_grows(demo):
    from screens.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen

    app = make_app(demo)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen), what="the too-small notice")
        notice = " ".join(text_of(pilot, "#too-small").split())
        assert f"winback needs at least {MIN_WIDTH}×{MIN_HEIGHT}" in notice and "this window is 60×20" in notice
        await pilot.resize_terminal(79, 30)   # wide enough in one direction is not enough
        await wait_for(pilot, lambda: "this window is 79×30" in " ".join(text_of(pilot, "#too-small").split()),
                       what="the notice following the new size")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen), what="the overview again at 80×24")
        await settle(pilot)
        await pilot.press("c")   # the console works as ever
        await wait_for(pilot, lambda: app.current_mode == "campaigns", what="Campaigns")
        await pilot.resize_terminal(70, 24)   # shrunk on another area: the notice there too
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen), what="the notice on Campaigns")
        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: not isinstance(app.screen, TooSmallScreen) and app.current_mode == "campaigns",
                       what="Campaigns again")


async def test_the_too_small_notice_takes_the_keys_but_ctrl_q_still_quits(demo):
    from screens.too_small import TooSmallScreen

    app = make_app(demo)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen), what="the too-small notice")
        assert "ctrl+q quits" in " ".join(text_of(pilot, "#too-small").split())
        # nothing opens behind the notice (q quits from it as on the overview under it, as
        # tests/test_small_leftovers_too_small.py shows)
        await pilot.press("c", "w")
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen) and app.current_mode == "overview" and app.return_code is None
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_code == 0, what="ctrl+q to quit from the notice")
