"""`winback campaign create --at WHEN` (issue 16): one-off scheduling from the CLI, through the same path as the
console's schedule field (console.campaigns.schedule → model.create(at=…)); `campaign run-due` launches it when due.
Time is frozen with WINBACK_NOW; the workspace's zone is Asia/Shanghai (UTC+8)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

NOW = "2026-12-07T10:00:00+08:00"
AT_LOCAL = "2026-12-08 09:00"
AT_TS = int(datetime.fromisoformat("2026-12-08T09:00:00+08:00").timestamp())


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", NOW)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 12)
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()
    return ws


def _winback(ws, *args: str):
    return CliRunner().invoke(app, ["--config", str(ws.config.path), *args])


def _create(ws, *extra: str):
    return _winback(ws, "campaign", "create", "later", "--segment", "all", "--channel", "sms",
                    "--template", "miss-you", "--holdout", "0", *extra)


def test_create_at_schedules_a_one_off_that_run_due_launches_when_due(ws, monkeypatch):
    created = _create(ws, "--at", AT_LOCAL, "--json")
    assert created.exit_code == 0, created.output
    data = json.loads(created.stdout)
    assert (data["status"], data["scheduled_at"], data["next_run_at"]) == ("scheduled", AT_TS, AT_TS)

    listed = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (listed[0]["status"], listed[0]["next_run_at"]) == ("scheduled", AT_TS)
    table = _winback(ws, "campaign", "list")
    # in the workspace's zone, under the table, with how it will be launched (a real one: test_schedule_real_cli)
    assert "later: scheduled dry run at 2026-12-08 09:00 UTC+8" in table.stderr

    assert json.loads(_winback(ws, "campaign", "run-due", "--json").stdout) == []   # not yet
    monkeypatch.setenv("WINBACK_NOW", "2026-12-08T08:59:59+08:00")
    assert json.loads(_winback(ws, "campaign", "run-due", "--json").stdout) == []
    monkeypatch.setenv("WINBACK_NOW", "2026-12-08T09:10:00+08:00")
    due = _winback(ws, "campaign", "run-due", "--json")
    assert due.exit_code == 0, due.output
    [run] = json.loads(due.stdout)
    assert (run["campaign"], run["run"], run["outcome"], run["sent"]) == ("later", 1, "completed", 12)
    # as the console's scheduled campaigns: launched as a dry run (a campaign is created dry_run; run-due never
    # turns a dry run into a real send by itself)
    assert run["dry_run"] is True
    assert json.loads(_winback(ws, "campaign", "run-due", "--json").stdout) == []   # launched once only


def test_at_with_an_offset_is_read_as_written(ws):
    created = _create(ws, "--at", "2026-12-08T01:00:00+00:00", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["next_run_at"] == AT_TS


@pytest.mark.parametrize("when, words", [
    ("2026-12-07 09:59", "in the past"),            # a minute before WINBACK_NOW, in the workspace's zone
    ("2025-01-01 00:00", "in the past"),
    ("tomorrow 9am", "give a date and time like 2026-12-08 09:00"),
    ("2026-12-08", "give a date and time like"),    # which hour of the day would be a guess
    ("2026-13-01 09:00", "give a date and time like"),
])
def test_a_malformed_or_past_time_is_refused_naming_the_option_and_nothing_is_created(ws, when, words):
    result = _create(ws, "--at", when)
    assert result.exit_code == 2, result.output
    assert "--at" in result.output and words in result.output
    assert "Traceback" not in result.output
    assert json.loads(_winback(ws, "campaign", "list", "--json").stdout) == []


def test_at_and_every_together_are_refused(ws):
    result = _create(ws, "--at", AT_LOCAL, "--every", "7d")
    assert result.exit_code == 2 and "--at" in result.output and "--every" in result.output
    assert json.loads(_winback(ws, "campaign", "list", "--json").stdout) == []


def test_the_console_schedule_field_reads_times_the_same_way():
    """The creation flow's field and --at are one function: the same text gives the same time, and a past
    time is refused in the console too (it was accepted, and run-due then launched it at once)."""
    from console.campaigns.schedule import parse_at, parse_schedule
    from console.errors import BadInput

    # the autouse WINBACK_NOW (tests/conftest.py) is 2026-11-25, before AT_LOCAL
    assert parse_schedule(AT_LOCAL, "Asia/Shanghai") == {"at": parse_at(AT_LOCAL, "Asia/Shanghai")} == {"at": AT_TS}
    assert parse_schedule("every 7d", "Asia/Shanghai") == {"every": "7d"}
    assert parse_schedule("", "Asia/Shanghai") == {}
    with pytest.raises(BadInput, match="schedule '2020-01-01 09:00' is in the past"):
        parse_schedule("2020-01-01 09:00", "Asia/Shanghai")
