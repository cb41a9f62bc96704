"""A launch time typed with a Chinese input method — '2026-12-09 09：00' (a full-width colon, a full-width space) —
is the time it shows, as quiet hours' times are; it was refused as not a date and time."""

from __future__ import annotations

import pytest

from console.errors import BadInput
from console.timefmt import parse_time


def test_a_time_with_a_full_width_colon_or_space_is_the_time_it_shows():
    ascii_ = parse_time("2026-12-09 09:00", "Asia/Shanghai", "--at")
    assert parse_time("2026-12-09 09：00", "Asia/Shanghai", "--at") == ascii_
    assert parse_time("２０２６-１２-０９\u300009:00", "Asia/Shanghai", "--at") == ascii_


def test_a_date_in_words_is_still_refused_in_the_words_typed():
    with pytest.raises(BadInput, match="'12月9日 9：00': give a date and time like 2026-12-08 09:00"):
        parse_time("12月9日 9：00", "Asia/Shanghai", "--at")


def test_campaign_create_at_takes_it(cli, workspace, monkeypatch):
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users

    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T20:00:00+08:00")
    db = workspace.open()
    add_users(db, 2)
    add_template(db, workspace.config, SMS_TEMPLATE)
    db.close()
    result = cli("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
                 "--at", "2026-12-09 09：00")
    assert result.exit_code == 0, result.output
    assert "2026-12-09 09:00" in result.output, result.output
