"""The console reads winback.toml when it starts: a bad value it reports (a price, a channel's setting) stays until
the console is started again, fixed file or not. Its words say so — an operator fixed the file in another window,
came back, and met the same error, naming a line that no longer held the value."""

from __future__ import annotations

from console.config import ConfigError
from screens.failures import operator_message


def test_a_config_error_in_the_console_says_to_start_it_again_once_the_file_is_fixed():
    said = operator_message(ConfigError("winback.toml line 35: [channels.sms] price: '0.04元' is not a number"))
    assert said is not None
    assert said.startswith("winback.toml line 35: [channels.sms] price: '0.04元' is not a number"), said
    assert "start winback again" in said and "reads winback.toml when it starts" in said, said


def test_other_operator_errors_are_said_as_before():
    from console.errors import BadInput

    assert operator_message(BadInput("no such segment 'x'")) == "no such segment 'x'"
