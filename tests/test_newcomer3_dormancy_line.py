"""[dormancy] thresholds that do not grow: the error names the line of the value that is out of order (dormant_days
= 20 under at_risk_days = 30 is dormant_days' line, not at_risk_days'), and the other value of the pair with its
line — or the preset it comes from."""

from __future__ import annotations

from tests.config_words_support import change, init_toml, one_error


def test_a_dormant_days_below_at_risk_days_is_said_at_dormant_days_line_with_at_risk_days_line(cli):
    toml = init_toml()
    at_risk = change(toml, "at_risk_days =", "at_risk_days = 30")
    line = change(toml, "dormant_days =", "dormant_days = 20")
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {line}: [dormancy] dormant_days: 20 must be more than "
                           f"at_risk_days (30, line {at_risk})"), said


def test_a_lost_days_below_dormant_days_is_said_at_lost_days_line(cli):
    toml = init_toml()
    dormant = change(toml, "dormant_days =", "dormant_days = 90")
    line = change(toml, "lost_days =", "lost_days = 60")
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {line}: [dormancy] lost_days: 60 must be more than "
                           f"dormant_days (90, line {dormant})"), said


def test_a_threshold_written_against_a_preset_is_said_at_its_own_line_with_the_preset(cli):
    toml = init_toml()
    change(toml, "# preset =", 'preset = "high"')
    change(toml, "dormant_days =", "")
    change(toml, "lost_days =", "")
    line = change(toml, "at_risk_days =", "at_risk_days = 120")
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {line}: [dormancy] at_risk_days: 120 must be less than "
                           "dormant_days (90, preset 'high')"), said


def test_layer_names_that_do_not_match_the_edges_name_the_edges_line_too(cli):
    toml = init_toml()
    with toml.open("a", encoding="utf-8") as out:
        out.write('\n[layers]\nseen_days = [30, 90, 180]\ntemperature_names = ["warm", "cool", "cold"]\n')
    lines = toml.read_text(encoding="utf-8").splitlines()
    edges = lines.index("seen_days = [30, 90, 180]") + 1
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {edges + 1}: [layers] temperature_names: "), said
    assert f"give 4 names, one per bucket of seen_days ([30, 90, 180], line {edges})" in said, said


def test_new_edges_against_the_default_names_name_the_edges_line(cli):
    toml = init_toml()
    with toml.open("a", encoding="utf-8") as out:
        out.write('\n[layers]\nseen_days = [30, 90, 180]\n')
    edges = toml.read_text(encoding="utf-8").splitlines().index("seen_days = [30, 90, 180]") + 1
    said = one_error(cli("refresh"))
    assert said.startswith(f"error: winback.toml line {edges - 1}: [layers] temperature_names: ['warm', 'cool', "
                           "'cold'] (the default): give 4 names"), said
    assert f"one per bucket of seen_days ([30, 90, 180], line {edges})" in said, said
