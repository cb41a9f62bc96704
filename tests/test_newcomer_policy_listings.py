"""Policy listings as a newcomer reads them: times in the workspace's zone with the zone said (README), and the
same facts in --json."""

from __future__ import annotations

import json


def test_quiet_hours_show_says_when_it_was_set_in_the_workspace_zone_and_json_has_who_and_when(cli):
    assert cli("quiet-hours", "set", "20:00-08:00").exit_code == 0
    text = " ".join(cli("quiet-hours", "show").stdout.split())
    # the frozen clock is 2026-11-25T10:00:00+08:00 and the workspace zone Asia/Shanghai: not '02:00 UTC'
    assert "set by: winback quiet-hours set (tester, 2026-11-25 10:00 UTC+8)" in text, text
    shown = json.loads(cli("quiet-hours", "show", "--json").stdout)
    assert shown["set_by_operator"] == "tester"
    assert shown["set_at"] == 1795572000
