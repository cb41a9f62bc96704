"""[dormancy] and [layers] in winback.toml: a bad threshold is said with the file, the line and the key (it named
the key alone: `winback refresh` said `[dormancy] at_risk_days = 'x'` without saying which file)."""

from __future__ import annotations

from tests.config_words_support import change, init_toml, one_error


def test_a_threshold_that_is_no_number_of_days_names_the_file_line_and_key(cli):
    toml = init_toml()
    line = change(toml, "at_risk_days = 30", 'at_risk_days = "x"')
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {line}: [dormancy] at_risk_days: 'x' is not a number of days"), said


def test_thresholds_that_do_not_grow_are_said_at_the_later_of_the_pair_with_the_other_ones_line(cli):
    # a pair out of order: said at the later key, naming the earlier one's value and line (newcomer audit 3)
    toml = init_toml()
    first = change(toml, "at_risk_days = 30", "at_risk_days = 120")
    said = one_error(cli("refresh"))
    assert f"[dormancy] dormant_days: 90 must be more than at_risk_days (120, line {first})" in said, said
    assert "the thresholds grow" in said


def test_an_unknown_metric_names_the_file_line_and_key(cli):
    toml = init_toml()
    line = change(toml, 'metric = "order"', 'metric = "orders"')
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {line}: [dormancy] metric: 'orders' is not a metric"), said


def test_a_layer_threshold_that_does_not_grow_names_the_file_line_and_key(cli):
    toml = init_toml()
    with toml.open("a", encoding="utf-8") as file:
        file.write("[layers]\nseen_days = [90, 30]\n")
    line = len(toml.read_text(encoding="utf-8").splitlines())
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {line}: [layers] seen_days: [90, 30]: give growing whole "
                           "numbers"), said
