"""A dry plan of an aliyun campaign in the console says what a real launch would refuse (a coupon code no parameter
of the approved template carries) or not reach (numbers outside +86), as `winback campaign plan` prints it — in
the Campaigns screen's plan pane and in the creation flow's, before "real send" is ticked."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from console import offers
from console.campaigns import model
from screens.new_campaign import NewCampaignScreen
from tests.test_send_leftovers_cli import _workspace
from tests.tui_helpers import make_app, settle, text_of, wait_for

REFUSED = "a real launch would be refused: offer back20 gives each recipient a coupon code"
NOT_REACHED = "a real launch would not reach everyone: 2 recipients have numbers outside mainland China"


@pytest.fixture
def aliyun(tmp_path, monkeypatch):
    """The Aliyun setup of tests/test_send_leftovers_cli.py (nothing is connected to: a plan sends nothing), two
    numbers outside +86 and a coupon offer the approved template has no parameter for."""
    ws, db = _workspace(tmp_path, monkeypatch, "http://127.0.0.1:9/")
    db.execute("UPDATE users SET phone = '+1415555010' || id WHERE external_id IN ('u3', 'u4')")
    db.conn.commit()
    offers.add(db, offers.Offer(name="back20", kind="coupon", threshold=100, amount=20, currency="CNY",
                                validity_days=7))
    return ws, db


def _words(pilot, selector: str) -> str:
    return " ".join(text_of(pilot, selector).split())


async def test_the_campaigns_plan_pane_shows_what_a_real_launch_would_refuse_and_not_reach(aliyun):
    ws, db = aliyun
    model.create(db, "c", segment="all", channel="sms", template="care-ali", offer="back20", holdout=0)
    app = make_app(ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: "to send" in text_of(pilot, "#campaign-plan-text"), what="c's dry plan")
        shown = _words(pilot, "#campaign-plan-text")
    assert f"⚠ {REFUSED}" in shown and f"⚠ {NOT_REACHED}" in shown, shown


async def test_the_creation_flows_dry_plan_shows_them_too(aliyun):
    ws, _ = aliyun
    app = make_app(ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and "back20" in [str(v) for _, v in app.screen.query_one("#f-offer", Select)._options]
                       and "care-ali" in [str(v) for _, v in app.screen.query_one("#f-template", Select)._options],
                       what="the creation flow with its choices")
        app.screen.query_one("#f-name", Input).value = "c2"
        app.screen.query_one("#f-segment", Select).value = "all"
        app.screen.query_one("#f-template", Select).value = "care-ali"
        app.screen.query_one("#f-offer", Select).value = "back20"
        app.screen.query_one("#f-holdout", Input).value = "0"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "to send" in text_of(pilot, "#plan"), what="c2's dry plan")
        shown = _words(pilot, "#plan")
        assert not app.screen.plan["real"]
    assert f"⚠ {REFUSED}" in shown and f"⚠ {NOT_REACHED}" in shown, shown
