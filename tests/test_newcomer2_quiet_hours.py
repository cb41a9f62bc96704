"""Quiet hours typed with a Chinese input method: '09：00' (a full-width colon), '２０:００' (full-width digits) and
'20:00～08:00' (a full-width tilde) are the same times an operator means, in winback.toml and in
`winback quiet-hours set` alike — they were refused as 'not a time of day', though the two colons look alike."""

from __future__ import annotations

import json

from tests.config_words_support import change, init_toml


def test_a_full_width_colon_in_winback_toml_is_read_as_the_time_it_shows(cli):
    toml = init_toml()
    change(toml, 'start = "08:00"', 'start = "09：00"')
    result = cli("quiet-hours", "show", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sending_window"] == "09:00-20:00"


def test_quiet_hours_set_takes_full_width_colons_digits_and_a_tilde(cli):
    for typed in ("20：00-08：00", "２０:００-０８:００", "20:00～08:00", "20:00~08:00"):
        result = cli("quiet-hours", "set", typed)
        assert result.exit_code == 0, (typed, result.output)
        shown = json.loads(cli("quiet-hours", "show", "--json").stdout)
        assert shown["quiet"] == "20:00-08:00", typed


def test_a_time_that_is_still_no_time_of_day_is_refused(cli):
    result = cli("quiet-hours", "set", "20点-8点")
    assert result.exit_code == 2
