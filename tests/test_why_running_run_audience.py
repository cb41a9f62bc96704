"""`winback why USER --campaign C` for a one-off run that is still running or paused: its audience was frozen at
launch, so a segment member who joined afterwards is not in it and is never messaged by that run — said as for a
finished run ("not in run N's audience"), not left to today's policies ("would be sent now"). The console's person
page (console.people.why) gives the same answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config


@pytest.fixture
def stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Campaign 'c' (segment 'all', three users) launched as a dry run and stopped before its first batch, so it is
    still running with everyone planned; then u4 joins the segment."""
    from console.campaigns import control
    from console.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 1.0}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(cfg), *args],
                                  catch_exceptions=False)

    assert invoke("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
                  "--holdout", "0").exit_code == 0
    # the console's cancelled worker: the run is frozen, nothing claimed yet, the campaign still running
    summary = control.launch(db, ws.config, "c", should_stop=lambda: True)
    assert summary.outcome == "interrupted"
    add_users(db, 1, start=4)
    db.close()
    return ws, invoke


def _said(invoke, user: str) -> str:  # type: ignore[no-untyped-def]
    return " ".join(invoke("why", user, "--campaign", "c").output.split())


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_a_member_who_joined_after_launch_is_not_in_the_running_runs_audience(stopped, paused) -> None:  # type: ignore[no-untyped-def]
    import json

    from console import people

    ws, invoke = stopped
    if paused:
        assert invoke("campaign", "pause", "c").exit_code == 0
    status = json.loads(invoke("campaign", "show", "c", "--json").output)["status"]
    assert status == ("paused" if paused else "running")
    said = _said(invoke, "u4")
    assert "not in run 1's audience" in said and "would be sent now" not in said, said
    data = json.loads(invoke("why", "u4", "--campaign", "c", "--json").output)
    assert data["decision"] == "not_in_run" and data["summary"].startswith("not in run 1's audience"), data
    # the person page asks the same question and gets the same answer
    db = ws.open()
    lines = " ".join(" ".join(people.why(db, ws.config, "u4", "c")).split())
    db.close()
    assert "not in run 1's audience" in lines, lines
    # a member the run froze is still judged by the policies: the run has not decided them yet
    assert "not in run 1's audience" not in _said(invoke, "u1")
