"""[quiet_hours] in winback.toml: a bad start/end/enabled is said with the file, the line and the key — and with
what start and end mean (the *sending* window), since `winback quiet-hours set` takes the opposite, the quiet span."""

from __future__ import annotations

import tomllib

from console.config import config_from_dict, default_config_text
from tests.config_words_support import add_after, change, init_toml, one_error


def test_a_start_that_is_no_time_of_day_names_the_file_line_and_key_and_what_start_means(cli):
    toml = init_toml()
    line = change(toml, 'start = "08:00"', 'start = "25:00"')
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith(f"error: winback.toml line {line}: [quiet_hours] start: '25:00' is not a time of day"), said
    assert "when sending may start" in said


def test_a_sending_window_of_no_length_names_the_key_and_says_how_to_turn_quiet_hours_off(cli):
    toml = init_toml()
    line = change(toml, 'end = "20:00"', 'end = "08:00"')
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith(f"error: winback.toml line {line}: [quiet_hours] end: start and end are both 08:00"), said
    assert "enabled = false" in said


def test_an_enabled_that_is_neither_true_nor_false_is_refused_not_read_as_on(cli):
    toml = init_toml()
    line = add_after(toml, "[quiet_hours]", 'enabled = "no"')   # was read as on: marketing kept its window
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith(f"error: winback.toml line {line}: [quiet_hours] enabled: 'no': write true or false"), said


def test_the_written_file_says_start_and_end_are_the_sending_window_and_keeps_its_meaning():
    from console.policy.quiet_hours import config_window, format_clock

    text = default_config_text("t")
    block = text[text.index("[quiet_hours]"):text.index("# Channels")]
    start = next(line for line in block.splitlines() if line.startswith("start ="))
    end = next(line for line in block.splitlines() if line.startswith("end ="))
    assert "when sending may START" in start and "not when quiet hours start" in start
    assert "when sending must STOP" in end
    assert "SENDING window, not the quiet span" in block and "quiet-hours set 20:00-08:00" in block
    # the same keys and values as before: an existing file means what it meant (send 08:00-20:00)
    window = config_window(config_from_dict(tomllib.loads(text)))
    assert window is not None and (format_clock(window.start), format_clock(window.end)) == ("08:00", "20:00")


def test_show_says_what_the_files_start_and_end_mean_when_the_file_sets_the_window(cli):
    init_toml()
    shown = cli("quiet-hours", "show").stdout
    assert "quiet hours: 20:00-08:00" in shown and "sending window 08:00-20:00" in shown
    assert "set by: winback.toml [quiet_hours] (its start is when sending may start, its end when it must stop)" in shown
