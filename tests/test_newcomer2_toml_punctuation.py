"""winback.toml written with a Chinese input method: a full-width comma, equals sign or curly quotes outside a
string (`[503，504]`) break the TOML itself. The refusal (exit 2) says which character it is and what to write instead — tomllib
said only 'Unclosed array (at line 35, column 22)'."""

from __future__ import annotations

import pytest

from tests.config_words_support import change, init_toml, one_error


@pytest.mark.parametrize(("old", "new", "named"), [
    ("price = 0.04", "retry_statuses = [503，504]", "'，' (FULLWIDTH COMMA): write ','"),
    ('start = "08:00"', "start = “08:00”", "'“' (LEFT DOUBLE QUOTATION MARK): write '\"'"),
    ("rate = 50", "rate ＝ 50", "'＝' (FULLWIDTH EQUALS SIGN): write '='"),
])
def test_a_full_width_character_that_breaks_the_file_is_named_with_what_to_write(cli, old, new, named):
    toml = init_toml()
    line = change(toml, old, new)
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith("error: winback.toml: ") and f"(at line {line}, column" in said, said
    assert named in said and "ASCII" in said, said


def test_a_syntax_error_without_one_is_said_as_before(cli):
    toml = init_toml()
    change(toml, "price = 0.04", "price = 0.04 0.05")
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith("error: winback.toml: ") and "column" in said, said
    assert "ASCII" not in said, said
