"""console.config.ConfigError — a bad winback.toml — is one of the operator's errors (console.errors.WinbackError),
exit code 2: the CLI says it on one line naming the file and the line or the field, never a traceback, and whoever
catches "an operator's error, in words" catches it without a special case."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from console.config import ConfigError
from console.errors import BadInput, WinbackError
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config


@pytest.fixture
def deep(tmp_path: Path, monkeypatch) -> Path:
    """A folder whose path alone is longer than an 80-column line (as a server's workspace path often is)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T10:00:00+08:00")
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.delenv("WINBACK_DEBUG", raising=False)
    folder = tmp_path / "srv" / "marketing-workspaces" / "winback-production-east" / "configuration"
    folder.mkdir(parents=True)
    return folder


def _winback(config: Path, *args: str):
    return CliRunner().invoke(app, ["--config", str(config), "--db", str(config.parent / "winback.db"), *args])


def test_a_config_error_is_an_operators_error_with_exit_code_2_and_not_bad_input():
    error = ConfigError("winback.toml: [channels.sms] price = 'x' is not a number")
    assert isinstance(error, WinbackError) and error.exit_code == 2
    # not BadInput: the `except BadInput` around a person's or a row's input must not swallow a bad file
    assert not isinstance(error, BadInput)


@pytest.mark.parametrize(("text", "said"), [
    ('[workspace]\nname = "t"\nbrand = \n', ": Invalid value (at line 3, column 9)"),
    ('[workspace]\ntimezone = "Mars/Base"\n', " line 2: [workspace] timezone: 'Mars/Base' is not an IANA time zone (e.g. \"Asia/Shanghai\")"),
], ids=["line", "field"])
def test_a_bad_winback_toml_is_one_line_naming_the_file_and_the_line_or_field_with_exit_2(deep, text, said):
    config = deep / "winback.toml"
    config.write_text(text, encoding="utf-8")
    result = _winback(config, "campaign", "list")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [f"error: {config}{said}"]   # one line, however long the path


def test_a_real_schedule_refused_by_a_bad_setting_says_the_draft_is_left_unscheduled(deep):
    good = write_config(deep / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(good)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    bad = write_config(deep / "bad.toml", {"sms": {"transport": "csv", "price": "cheap"}})
    result = _winback(bad, "campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template",
                      "miss-you", "--holdout", "0", "--at", "2026-12-08 09:00", "--real", "--yes")
    # the draft was made (something changed: exit 1, not 2) and the operator is told so, with the file's fault
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"error: created 'c' as a draft, NOT scheduled: {bad} line "), line
    assert ": [channels.sms] price: 'cheap' is not a number" in line, line
    assert db.execute("SELECT status, scheduled_at FROM campaigns WHERE name = 'c'").fetchone() == ("draft", None)
