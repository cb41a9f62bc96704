"""`winback why USER --campaign C` for a user the run has decided follows the run's own record (the ledger): one
who was sent (or would be, in a dry run) is not "not sent: the campaign's budget is spent" once that budget is
used up; the policies' "would it be sent now" is only for users the run has not decided. And a segment member who
joined after a one-off run took its audience is said to be outside that run, not "would be sent now"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Three users, a dry run of campaign 'c' (budget for exactly two messages at 1.00): u1 and u2 would be sent,
    u3 is skipped over_budget; then u4 joins the segment 'all' after the run."""
    from console.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 1.0}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(cfg), *args],
                                  catch_exceptions=False)

    assert invoke("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
                  "--holdout", "0", "--budget", "2").exit_code == 0
    launched = invoke("campaign", "launch", "c")
    assert launched.exit_code == 0, launched.output
    db = ws.open()
    add_users(db, 1, start=4)
    db.close()
    return invoke


def _said(run, user: str) -> str:  # type: ignore[no-untyped-def]
    return " ".join(run("why", user, "--campaign", "c").output.split())


def test_a_user_the_run_took_reads_as_the_ledger_says_not_budget_spent(run) -> None:  # type: ignore[no-untyped-def]
    said = _said(run, "u1")
    assert "budget is spent" not in said.split(" ok ")[0], said
    assert "would send" in said.split(" ok ")[0], said


def test_a_user_skipped_over_budget_says_so(run) -> None:  # type: ignore[no-untyped-def]
    said = _said(run, "u3")
    assert "recorded over_budget" in said, said


def test_the_json_decision_follows_the_ledger(run) -> None:  # type: ignore[no-untyped-def]
    import json

    data = json.loads(run("why", "u1", "--campaign", "c", "--json").output)
    # `decision` stays the policies' verdict now (budget spent); the summary and decided_by follow the run's row
    assert data["decided_by"] == "ledger" and data["ledger"][-1]["state"] == "would send"
    assert "budget is spent" not in data["summary"] and "would send" in data["summary"], data["summary"]


def test_a_member_who_joined_after_a_one_off_run_is_not_in_its_audience(run) -> None:  # type: ignore[no-untyped-def]
    said = _said(run, "u4")
    assert "would be sent now" not in said, said
    assert "not in run 1's audience" in said, said
