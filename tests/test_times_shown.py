"""Times a person reads are in the workspace's zone, with the zone said; --json keeps ISO/epoch (issue #12 point 10).

Before, `campaign show` and `outcomes` printed UTC (`…T03:00:00Z`, `… UTC`) beside screens and tables in local time.
"""

from __future__ import annotations

import json

from console.timefmt import iso, local_date, local_time, zone_label
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users

# 2026-11-25 03:00 UTC = 11:00 in Shanghai.
TS = 1_764_039_600


def test_one_formatter_says_the_zone():
    assert local_time(TS, "Asia/Shanghai") == "2025-11-25 11:00 UTC+8"
    assert local_time(TS, "Asia/Shanghai", label=False) == "2025-11-25 11:00"
    assert local_time(TS, "Asia/Kolkata") == "2025-11-25 08:30 UTC+5:30"
    assert zone_label(TS, "America/New_York") == "UTC-5"            # winter
    assert zone_label(TS - 150 * 86_400, "America/New_York") == "UTC-4"  # summer time
    assert local_time(TS, "Mars/Olympus") == "2025-11-25 03:00 UTC"  # a bad zone never breaks a listing
    assert local_time(None, "Asia/Shanghai") == "—"
    assert local_date(TS - 4 * 3600, "Asia/Shanghai") == "2025-11-25"  # 23:00 UTC the day before
    assert iso(TS, "Asia/Shanghai") == "2025-11-25T11:00:00+08:00"
    assert iso(TS) == "2025-11-25T03:00:00Z"


def _campaign(workspace, cli):
    from console.campaigns import control, model

    db = workspace.open()
    add_users(db, 5)
    add_template(db, workspace.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    from console.policy import quiet_hours

    quiet_hours.set_quiet_hours(db, "off")
    control.launch(db, workspace.config, "c")
    db.close()


def test_cli_listings_show_local_time_with_the_zone(workspace, cli, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T03:00:00Z")
    _campaign(workspace, cli)
    shown = cli("campaign", "show", "c")
    assert "2026-11-25 11:00 UTC+8" in shown.output and "T03:00:00Z" not in shown.output
    assert json.loads(cli("campaign", "show", "c", "--json").stdout)["created_at"] == 1_795_575_600

    outcomes = cli("outcomes", "c")
    said = " ".join(outcomes.output.split())
    assert "2026-11-25 11:00 UTC+8" in said and "03:00 UTC" not in said and "T03:00" not in said

    audit = cli("audit")
    assert "times in Asia/Shanghai, UTC+8" in audit.output and "2026-11-25 11:00" in audit.output
    entry = json.loads(cli("audit", "--json").stdout)[0]
    assert entry["at"] == 1_795_575_600 and entry["at_iso"] == "2026-11-25T11:00:00+08:00"


async def test_the_console_header_says_the_zone(workspace, monkeypatch):
    from tests.tui_helpers import make_app

    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T03:00:00Z")
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        from screens.widgets import ConsoleHeader

        header = app.screen.query_one(ConsoleHeader)
        assert "as of 11-25 11:00 UTC+8" in header.render().plain  # 80 columns: the year makes room


def test_a_dry_run_in_quiet_hours_says_until_when_in_local_time(workspace, cli, monkeypatch):
    from console.campaigns import model
    from console.policy import quiet_hours

    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T22:00:00+08:00")  # quiet in Shanghai
    db = workspace.open()
    add_users(db, 3)
    add_template(db, workspace.config, SMS_TEMPLATE)
    quiet_hours.set_quiet_hours(db, "20:00-08:00")
    model.create(db, "night", segment="all", channel="sms", template="miss-you", holdout=0)
    db.close()
    said = " ".join(cli("campaign", "launch", "night").output.split())
    assert "from 2026-11-26 08:00 UTC+8" in said and "Z" not in said.split("from ", 1)[1][:25]


def test_why_says_times_in_the_same_form(workspace, cli, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T03:00:00Z")
    _campaign(workspace, cli)
    said = cli("why", "u1", "--campaign", "c").output
    assert "at 2026-11-25 11:00 UTC+8" in said and "CST" not in said
