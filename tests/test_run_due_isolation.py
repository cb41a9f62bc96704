"""`winback campaign run-due` / `program run-due` (cron): one campaign's or program's failure — of any kind — is
reported in words and does not stop the others; the run exits 1. Time is frozen with WINBACK_NOW."""

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
DUE = "2026-12-08T09:10:00+08:00"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", NOW)
    monkeypatch.delenv("WINBACK_DEBUG", raising=False)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 6)
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()
    for name in ("first", "second"):   # two dry-run one-offs due at the same time: "first" comes first (by id)
        created = _winback(ws, "campaign", "create", name, "--segment", "all", "--channel", "sms",
                           "--template", "miss-you", "--holdout", "0", "--at", AT_LOCAL)
        assert created.exit_code == 0, created.output
    monkeypatch.setenv("WINBACK_NOW", DUE)
    return ws


def _winback(ws, *args: str):
    return CliRunner().invoke(app, ["--config", str(ws.config.path), *args])


def _break_first_at_plan_time(monkeypatch, ws, error: Exception) -> None:
    """The audience freeze of "first" raises `error` inside its transaction (after its run row is written)."""
    from console.campaigns import freeze

    db = ws.open()
    first_id = db.execute("SELECT id FROM campaigns WHERE name = 'first'").fetchone()[0]
    db.close()
    real = freeze.record_features

    def record_features(db, campaign_id, run, now):
        if campaign_id == first_id:
            raise error
        return real(db, campaign_id, run, now)

    monkeypatch.setattr(freeze, "record_features", record_features)


def _untouched(ws) -> None:
    """"first" is exactly as scheduled: no run, no ledger rows, no launch audited — nothing half-done."""
    db = ws.open()
    row = db.execute("SELECT status, next_run_at FROM campaigns WHERE name = 'first'").fetchone()
    assert tuple(row) == ("scheduled", AT_TS)
    assert db.execute("SELECT COUNT(*) FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id "
                      "WHERE c.name = 'first'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                      "WHERE c.name = 'first'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'campaign.launch' "
                      "AND details LIKE '%\"first\"%'").fetchone()[0] == 0
    db.close()


def test_run_due_goes_on_after_a_campaign_whose_plan_raises_a_config_error(ws, monkeypatch):
    from console.config import ConfigError

    _break_first_at_plan_time(monkeypatch, ws, ConfigError("winback.toml line 3: [sms] price must be a number"))
    result = _winback(ws, "campaign", "run-due")
    assert result.exit_code == 1, result.output
    assert "first: winback.toml line 3: [sms] price must be a number" in result.output
    assert "second run 1: completed" in result.output
    assert "Traceback" not in result.output
    _untouched(ws)


def test_run_due_names_an_unexpected_error_and_still_launches_the_next_campaign(ws, monkeypatch):
    _break_first_at_plan_time(monkeypatch, ws, KeyError("rank"))
    result = _winback(ws, "campaign", "run-due", "--json")
    assert result.exit_code == 1, result.output
    by_name = {r["campaign"]: r for r in json.loads(result.stdout)}
    assert by_name["first"]["outcome"] == "error"
    assert by_name["first"]["error"] == "unexpected error (a bug in winback): KeyError: 'rank'"
    assert "traceback" not in by_name["first"]
    assert by_name["second"]["outcome"] == "completed" and by_name["second"]["sent"] == 6
    _untouched(ws)


def test_run_due_prints_the_traceback_of_an_unexpected_error_under_winback_debug(ws, monkeypatch):
    _break_first_at_plan_time(monkeypatch, ws, KeyError("rank"))
    monkeypatch.setenv("WINBACK_DEBUG", "1")
    result = _winback(ws, "campaign", "run-due")
    assert result.exit_code == 1, result.output
    assert "first: unexpected error (a bug in winback): KeyError: 'rank'" in result.output
    assert "Traceback (most recent call last)" in result.output and "record_features" in result.output
    assert "second run 1: completed" in result.output
