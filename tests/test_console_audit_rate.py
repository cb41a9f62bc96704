"""A newcomer's audit: a campaign that never ran has no sending rate to report, in the CLI or on Deliveries."""

from __future__ import annotations

from console import templates
from screens.deliveries import DeliveriesScreen
from tests.tui_helpers import make_app, settle, text_of, wait_for


def _scheduled(cli, db) -> None:
    templates.save(db, templates.parse_toml('name = "miss-you"\nchannel = "sms"\nbody = "好久不见"\n'))
    made = cli("campaign", "create", "later", "--segment", "all", "--channel", "sms", "--template", "miss-you",
               "--at", "2026-12-08 09:00")
    assert made.exit_code == 0, made.output


def test_show_of_a_scheduled_campaign_that_never_ran_says_not_started_not_a_rate(cli, db):
    _scheduled(cli, db)
    shown = cli("campaign", "show", "later")
    assert shown.exit_code == 0, shown.output
    assert "msgs/s" not in shown.output and "over the last minute" not in shown.output
    assert "not started" in shown.output
    assert "run None" not in shown.output   # the tally's title names no run that does not exist
    tally = cli("campaign", "tally", "later")   # the same words where the tally is asked for on its own
    assert "msgs/s" not in tally.output and "not started" in tally.output


async def test_deliveries_of_a_campaign_that_never_ran_shows_no_rate(cli, db, workspace):
    _scheduled(cli, db)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_deliveries("later")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "later" in text_of(pilot, "#deliveries-title"), what="Deliveries of 'later'")
        await wait_for(pilot, lambda: text_of(pilot, "#rate-line").strip(), what="the rate line")
        line = text_of(pilot, "#rate-line")
        assert "/s" not in line and "rate" not in line, line
        assert "not started" in line, line
