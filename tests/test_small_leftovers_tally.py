"""`campaign show` / `campaign tally` of a campaign that never ran: the not-started line alone, no table of zeros
under a title (there is nothing counted yet); --json keeps the whole tally."""

from __future__ import annotations

import json

import pytest

from console import templates


@pytest.fixture
def draft(cli, db) -> str:
    templates.save(db, templates.parse_toml('name = "miss-you"\nchannel = "sms"\nbody = "好久不见"\n'))
    made = cli("campaign", "create", "never-ran", "--segment", "all", "--channel", "sms", "--template", "miss-you")
    assert made.exit_code == 0, made.output
    return "never-ran"


def _tally_table(output: str) -> bool:
    """Whether the output draws the tally's table (its variant 'all' row or its column heads)."""
    return any(line.split()[:1] == ["all"] or {"planned", "skipped"} <= set(line.replace("│", " ").replace("┃", " ").split())
               for line in output.splitlines())


def test_tally_of_a_campaign_that_never_ran_is_one_line_not_a_table_of_zeros(cli, draft):
    result = cli("campaign", "tally", draft)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert not _tally_table(result.output), result.output
    assert len(lines) == 1, result.output
    assert draft in lines[0] and "draft" in lines[0] and "not started: no run yet" in lines[0], result.output


def test_show_of_a_campaign_that_never_ran_prints_its_settings_and_the_not_started_line(cli, draft):
    result = cli("campaign", "show", draft)
    assert result.exit_code == 0, result.output
    assert "segment" in result.output and "miss-you" in result.output   # the settings and the variants
    assert not _tally_table(result.output), result.output
    assert "not started: no run yet" in result.output


def test_tally_json_of_a_campaign_that_never_ran_keeps_its_counts(cli, draft):
    data = json.loads(cli("campaign", "tally", draft, "--json").output)
    assert data["run"] is None and data["planned"] == 0 and data["sent"] == 0 and "variants" in data
    shown = json.loads(cli("campaign", "show", draft, "--json").output)
    assert shown["tally"]["run"] is None and shown["tally"]["planned"] == 0
