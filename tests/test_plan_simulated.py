"""The demo's simulated campaign in `winback campaign plan` and the console's Plan pane: it says the campaign is
simulated, nothing was sent and it cannot be launched — not "has finished", as if it had gone out (the tmux tour)."""

from __future__ import annotations

import pytest

from screens.campaigns import CampaignsScreen
from tests.cli_demo import copy_cli_demo
from tests.tui_helpers import demo_workspace, make_app, text_of, wait_for

FROZEN = "2026-11-25T09:00:00+08:00"
SAYS = ("is simulated", "nothing was sent", "cannot be launched")


def test_the_cli_plan_of_the_simulated_campaign_says_it_is_simulated(monkeypatch, cli):
    monkeypatch.setenv("WINBACK_NOW", FROZEN)
    copy_cli_demo(cli.db_path, users=300, now=FROZEN)   # `winback demo --users 300 --no-tui`, built once a session
    r = cli("campaign", "plan", "simulated")
    said = " ".join(r.output.split())
    assert r.exit_code == 0, r.output
    assert all(words in said for words in SAYS), said
    assert "has finished" not in said and "to send" not in said, said


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_plan_pane_of_the_simulated_campaign_says_it_is_simulated(tmp_path, monkeypatch, size):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=FROZEN)
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen)
                       and str(app.screen.query_one("#campaign-plan").border_title) == "Plan · simulated"
                       and "holdout" in text_of(pilot, "#campaign-plan-text"),
                       what="the simulated campaign's plan")
        said = " ".join(text_of(pilot, "#campaign-plan-text").split())
        assert all(words in said for words in SAYS), said
        assert "has finished" not in said and "to send" not in said, said
