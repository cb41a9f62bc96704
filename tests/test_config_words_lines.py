"""console.config_lines.find_line: the line of `[table] key` in winback.toml's text (tomllib gives values no
positions), and the words without a line when it cannot be found."""

from __future__ import annotations

import pytest

from console.config_lines import find_line
from tests.config_words_support import init_toml, one_error

TEXT = '''# a comment [quiet_hours]
quiet_hours.start = "07:00"   # 2: a dotted key at the top

[channels]
sms.rate = "x"                # 5: dotted under its parent
email = { transport = "smtp", retries = "y" }
note = """
[dormancy]
at_risk_days = 1
"""
bands = [
  [1, 2],
]
[ channels . "push" ]         # 14: spaces and quotes in a header
rate = "z"
[[programs]]
name = "p"
[import.mappings.shop.columns]
"Customer No" = "user_id"
'''


@pytest.mark.parametrize(("table", "key", "line"), [
    ("quiet_hours", "start", 2),
    ("channels.sms", "rate", 5),
    ("channels.email", "retries", 6),
    ("channels.push", "rate", 15),
    ("channels.push", None, 14),
    ("import.mappings.shop.columns", "Customer No", 19),
    ("import.mappings.shop", None, 18),
    ("channels", "bands", 11),
    ("dormancy", "at_risk_days", None),   # inside a multi-line string: not a setting
    ("channels.email", "price", None),    # not written at all
])
def test_the_line_of_a_setting_is_found_in_the_shapes_toml_allows(table, key, line):
    assert find_line(TEXT, table, key) == line


def test_a_setting_whose_line_cannot_be_found_is_said_with_the_file_and_field_alone(cli):
    toml = init_toml()
    text = toml.read_text(encoding="utf-8")
    # an escaped key is the same key to TOML but not to the finder
    toml.write_text(text.replace('start = "08:00"', '"st\\u0061rt" = "25:00"'), encoding="utf-8")
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith("error: winback.toml: [quiet_hours] start: '25:00' is not a time of day"), said
