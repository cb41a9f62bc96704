"""Quiet hours typed the wrong way round, and the way back from `quiet-hours set`.

`winback quiet-hours set 08:00-20:00` (the sending window typed as the quiet span) was accepted: marketing went out
only at night, said as "sending window 20:00-08:00" and nothing more. It is refused (exit 2, nothing changed) with
what was understood and what to type, unless --yes-at-night confirms it; winback.toml's [quiet_hours] that leaves a
night-time window is warned about on stderr (the file keeps working). `quiet-hours set off` had no way back to
winback.toml's window but typing it again: `quiet-hours reset` removes the override, audited, and `show` says so."""

from __future__ import annotations

import json

import pytest

from console.policy.quiet_hours_night import night_only
from tests.config_words_support import change, init_toml


def _clock(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


@pytest.mark.parametrize(("sending", "at_night"), [
    ("20:00-08:00", True), ("21:00-09:00", True), ("18:00-10:00", True), ("00:00-06:00", True),
    ("08:00-20:00", False), ("08:00-22:00", False), ("06:00-02:00", False), ("10:00-21:00", False),
])
def test_a_window_is_night_time_when_it_leaves_out_noon_or_lies_mostly_between_20_and_8(sending, at_night):
    start, end = sending.split("-")
    assert night_only(_clock(start), _clock(end)) is at_night


def test_a_quiet_span_that_leaves_sending_only_at_night_is_refused_with_what_to_type(cli):
    result = cli("quiet-hours", "set", "08:00-20:00")
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "sending window would be 20:00-08:00" in said and "only at night" in said, said
    assert "winback quiet-hours set 20:00-08:00" in said and "--yes-at-night" in said, said
    shown = json.loads(cli("quiet-hours", "show", "--json").stdout)
    assert shown["set_by"] == "default" and shown["sending_window"] == "08:00-20:00"   # nothing changed


def test_yes_at_night_confirms_it_and_the_audit_says_so(cli, workspace):
    result = cli("quiet-hours", "set", "08:00-20:00", "--yes-at-night")
    assert result.exit_code == 0, result.output
    assert json.loads(cli("quiet-hours", "show", "--json").stdout)["sending_window"] == "20:00-08:00"
    with workspace.open() as db:
        details = db.execute("SELECT details FROM audit WHERE action = 'quiet_hours.set'").fetchone()[0]
    assert json.loads(details)["at_night"] is True


def test_the_usual_spans_are_still_taken_without_the_flag(cli):
    for span in ("20:00-08:00", "22:00-07:00", "21:30-07:45", "off"):
        assert cli("quiet-hours", "set", span).exit_code == 0, span


def test_winback_toml_with_a_night_time_window_is_warned_about_and_still_used(cli):
    toml = init_toml()
    line = change(toml, 'start = "08:00"', 'start = "20:00"')
    change(toml, 'end = "20:00"', 'end = "08:00"')
    result = cli("quiet-hours", "show", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sending_window"] == "20:00-08:00"
    said = " ".join(result.stderr.split())
    assert said.startswith(f"warning: winback.toml line {line}: [quiet_hours] start = \"20:00\", end = \"08:00\""), said
    assert 'write start = "08:00", end = "20:00"' in said


def test_winback_toml_with_a_daytime_window_is_not_warned_about(cli):
    init_toml()
    result = cli("quiet-hours", "show")
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output


def test_reset_goes_back_to_winback_tomls_window_after_set_off_and_is_audited(cli, workspace):
    toml = init_toml()
    change(toml, 'start = "08:00"', 'start = "09:00"')
    assert cli("quiet-hours", "set", "off").exit_code == 0
    shown = cli("quiet-hours", "show")
    text = " ".join(shown.stdout.split())
    assert "set by: winback quiet-hours set (tester, 2026-11-25 10:00 UTC+8)" in text, text
    assert "`winback quiet-hours reset` goes back to winback.toml: sending 09:00-20:00" in text, text
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    result = cli("quiet-hours", "reset")
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("quiet-hours", "show", "--json").stdout)
    assert shown["set_by"] == "winback.toml" and shown["sending_window"] == "09:00-20:00"
    with workspace.open() as db:
        details = db.execute("SELECT details FROM audit WHERE action = 'quiet_hours.reset'").fetchone()[0]
    assert json.loads(details)["removed"] == "off"


def test_reset_without_an_override_changes_nothing_and_says_so(cli, workspace):
    result = cli("quiet-hours", "reset")
    assert result.exit_code == 0, result.output
    assert "nothing to reset" in result.stderr and "the default: sending 08:00-20:00" in result.stderr
    with workspace.open() as db:
        assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'quiet_hours.reset'").fetchone()[0] == 0


def test_campaign_plan_warns_about_winback_tomls_night_time_window_before_a_launch(cli, db, workspace):
    from tests.test_config_words_providers import _campaign

    _campaign(cli, db, workspace, "sms")
    toml = init_toml()
    change(toml, 'start = "08:00"', 'start = "20:00"')
    change(toml, 'end = "20:00"', 'end = "08:00"')
    result = cli("campaign", "plan", "c")
    assert result.exit_code == 0, result.output
    assert "[quiet_hours] start = \"20:00\", end = \"08:00\" is the sending window" in " ".join(result.stderr.split())
