"""A one-off scheduled as a REAL send (issue 16): `winback campaign create --at WHEN --real` confirms it now (the
pre-launch check, the real plan, the typed count), `campaign run-due` sends it for real at its time through a real
HTTP gateway on 127.0.0.1 — or holds it, sending nothing, when the check fails then, the audience grew past the
margin, or the confirmation was voided by a changed template or segment.

Time is frozen and moved with WINBACK_NOW; the workspace's zone is Asia/Shanghai (UTC+8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

NOW = "2026-12-07T10:00:00+08:00"
AT = "2026-12-08 09:00"
AT_TS = int(datetime.fromisoformat("2026-12-08T09:00:00+08:00").timestamp())
DUE = "2026-12-08T09:10:00+08:00"
TOKEN = "WB_SCHEDULE_TOKEN"
ROOT = Path(__file__).resolve().parents[1]
WINBACK = str(Path(sys.executable).parent / "winback")


@pytest.fixture
def gateway():
    with HttpGateway() as gw:
        yield gw


@pytest.fixture
def ws(tmp_path, monkeypatch, gateway):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", NOW)
    monkeypatch.setenv(TOKEN, "secret")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "http", "url": gateway.url,
                                                          "token_env": TOKEN, "price": 0.04}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 12)
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()
    return ws


def _winback(ws, *args: str, input: str | None = None):
    return CliRunner().invoke(app, ["--config", str(ws.config.path), *args], input=input)


def _create(ws, *extra: str, input: str | None = None, segment: str = "all"):
    return _winback(ws, "campaign", "create", "later", "--segment", segment, "--channel", "sms",
                    "--template", "miss-you", "--holdout", "0", "--accept-warnings", *extra, input=input)


def _run_due(ws, monkeypatch, when: str = DUE):
    monkeypatch.setenv("WINBACK_NOW", when)
    return _winback(ws, "campaign", "run-due", "--json")


def _said(text: str) -> str:
    """The text as one line: rich wraps stderr at the terminal's width."""
    return " ".join(text.split())


def _audit(ws, action: str) -> list[dict]:
    db = ws.open()
    try:
        return [{"actor": actor, **json.loads(details)} for actor, details in
                db.execute("SELECT actor, details FROM audit WHERE action = ? ORDER BY id", [action])]
    finally:
        db.close()


def test_create_at_real_asks_the_count_and_run_due_sends_it_for_real_once(ws, gateway, monkeypatch):
    created = _create(ws, "--at", AT, "--real", input="12\n")
    assert created.exit_code == 0, created.output
    assert "Type the number of messages to send at 2026-12-08 09:00 UTC+8 (12)" in _said(created.stderr)
    assert "later: scheduled real at 2026-12-08 09:00 UTC+8 (12 messages confirmed by tester" in _said(created.stderr)

    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (row["status"], row["mode"], row["next_run_at"]) == ("scheduled", "real", AT_TS)
    assert row["schedule"].startswith("scheduled real at 2026-12-08 09:00 UTC+8")
    shown = json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)
    assert (shown["schedule"]["mode"], shown["schedule"]["held"], shown["schedule"]["void"]) == ("real", None, [])
    confirmed = shown["schedule"]["confirmation"]
    assert (confirmed["to_send"], confirmed["how"], confirmed["confirmed_by"]) == (12, "typed", "tester")
    assert "scheduled real at 2026-12-08 09:00 UTC+8" in _said(_winback(ws, "campaign", "show", "later").stdout)
    [record] = _audit(ws, "campaign.schedule_real")
    assert (record["actor"], record["to_send"], record["at"], record["how"]) == ("tester", 12, AT_TS, "typed")

    assert json.loads(_run_due(ws, monkeypatch, "2026-12-08T08:59:59+08:00").stdout) == []   # not yet
    assert gateway.state.accepted == []
    due = _run_due(ws, monkeypatch)
    assert due.exit_code == 0, due.output
    [run] = json.loads(due.stdout)
    assert (run["campaign"], run["run"], run["dry_run"], run["sent"]) == ("later", 1, False, 12)
    assert Counter(m["to"] for m in gateway.state.accepted) == Counter(f"+86138{i:08d}" for i in range(1, 13))
    assert json.loads(_run_due(ws, monkeypatch).stdout) == []   # launched once only
    assert len(gateway.state.accepted) == 12
    shown = json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)
    assert (shown["status"], shown["mode"], shown["schedule"]) == ("completed", "real", None)


def test_a_wrong_count_leaves_a_draft_that_schedule_confirms_later(ws, gateway, monkeypatch):
    created = _create(ws, "--at", AT, "--real", input="11\n")
    assert created.exit_code == 1, created.output
    assert "created 'later' as a draft, NOT scheduled: confirmation '11' does not match 12" in _said(created.output)
    assert "Traceback" not in _said(created.output)
    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (row["status"], row["schedule"]) == ("draft", None)
    assert json.loads(_run_due(ws, monkeypatch).stdout) == [] and gateway.state.accepted == []

    monkeypatch.setenv("WINBACK_NOW", NOW)
    scheduled = _winback(ws, "campaign", "schedule", "later", "--at", AT, "--real", "--yes", "--accept-warnings")
    assert scheduled.exit_code == 0, scheduled.output
    assert _audit(ws, "campaign.schedule_real")[-1]["how"] == "yes"
    [run] = json.loads(_run_due(ws, monkeypatch).stdout)
    assert (run["dry_run"], run["sent"]) == (False, 12)


def test_real_without_at_is_refused_and_nothing_is_created(ws):
    result = _create(ws, "--real", "--yes")
    assert result.exit_code == 2 and "--real" in _said(result.output) and "--at" in _said(result.output)
    assert json.loads(_winback(ws, "campaign", "list", "--json").stdout) == []


def test_a_dry_run_schedule_says_so_and_stays_a_dry_run(ws, gateway, monkeypatch):
    assert _create(ws, "--at", AT).exit_code == 0
    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (row["mode"], row["schedule"]) == ("dry run", "scheduled dry run at 2026-12-08 09:00 UTC+8")
    assert "later: scheduled dry run at 2026-12-08 09:00 UTC+8" in _said(_winback(ws, "campaign", "list").stderr)
    [run] = json.loads(_run_due(ws, monkeypatch).stdout)
    assert run["dry_run"] is True and gateway.state.accepted == []


def test_a_missing_secret_at_run_time_holds_the_send_and_cron_hears_it_once(ws, gateway, monkeypatch):
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    monkeypatch.delenv(TOKEN)                        # cron's environment lacks the secret
    monkeypatch.setenv("WINBACK_NOW", DUE)
    held = _winback(ws, "campaign", "run-due")
    assert held.exit_code == 1, held.output
    assert "later: HELD, nothing sent — the pre-launch check failed:" in _said(held.stderr) and TOKEN in _said(held.stderr)
    assert "Traceback" not in _said(held.output)
    assert gateway.state.accepted == []

    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert row["status"] == "scheduled" and row["hold_reason"].startswith("the pre-launch check failed")
    assert row["schedule"].startswith("HELD, not sent — scheduled real at 2026-12-08 09:00 UTC+8")
    shown = json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)
    assert shown["schedule"]["held"] == row["hold_reason"]
    [record] = _audit(ws, "campaign.hold")
    assert TOKEN in record["reason"]

    again = _winback(ws, "campaign", "run-due")      # not retried by itself: the operator decides
    assert again.exit_code == 0 and "nothing due" in _said(again.stderr)

    monkeypatch.setenv(TOKEN, "secret")              # fixed: confirmed again for a later time
    assert _winback(ws, "campaign", "schedule", "later", "--at", "2026-12-08 11:00", "--real", "--yes",
                    "--accept-warnings").exit_code == 0
    assert json.loads(_run_due(ws, monkeypatch, "2026-12-08T10:59:00+08:00").stdout) == []
    [run] = json.loads(_run_due(ws, monkeypatch, "2026-12-08T11:00:00+08:00").stdout)
    assert (run["dry_run"], run["sent"]) == (False, 12) and len(gateway.state.accepted) == 12


@pytest.mark.parametrize("newcomers, sent", [(1, 11), (2, None)])
def test_an_audience_grown_past_the_ten_percent_margin_is_held(ws, gateway, monkeypatch, newcomers, sent):
    """10 confirmed: 11 (+10%) goes out; 12 (+20%) is held."""
    db = ws.open()
    db.execute("DELETE FROM consents WHERE user_id IN (SELECT id FROM users WHERE external_id IN ('u11', 'u12'))")
    db.conn.commit()
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    shown = json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)
    assert shown["schedule"]["confirmation"]["to_send"] == 10
    add_users(db, newcomers, start=100)
    db.conn.commit()
    db.close()
    due = _run_due(ws, monkeypatch)
    [result] = json.loads(due.stdout)
    if sent is not None:
        assert due.exit_code == 0 and (result["dry_run"], result["sent"]) == (False, sent)
        assert len(gateway.state.accepted) == sent
    else:
        assert due.exit_code == 1 and result["outcome"] == "held"
        assert result["reason"] == ("the audience grew: 12 messages to send, 10 confirmed (the 10% margin "
                                    "allows 11)")
        assert gateway.state.accepted == []


def test_a_template_saved_again_voids_the_confirmation(ws, gateway, monkeypatch):
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    db = ws.open()
    add_template(db, ws.config, SMS_TEMPLATE.replace("好久不见", "好久没见"))   # version 2
    db.close()
    shown = json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)["schedule"]
    assert shown["void"] == ["template 'miss-you' was saved again (version 1 → 2)"]
    assert "confirmation VOID: template 'miss-you' was saved again (version 1 → 2)" in shown["text"]
    due = _run_due(ws, monkeypatch)
    assert due.exit_code == 1
    [held] = json.loads(due.stdout)
    assert held["outcome"] == "held" and held["reason"].startswith(
        "the confirmation is void — template 'miss-you' was saved again (version 1 → 2)")
    assert gateway.state.accepted == []
    # confirmed again, on what would now go out
    assert _winback(ws, "campaign", "schedule", "later", "--at", "2026-12-08 10:00", "--real", "--yes",
                    "--accept-warnings").exit_code == 0
    [run] = json.loads(_run_due(ws, monkeypatch, "2026-12-08T10:00:00+08:00").stdout)
    assert (run["dry_run"], run["sent"]) == (False, 12)
    assert all("好久没见" in m["text"] for m in gateway.state.accepted)


def test_a_segment_rule_changed_voids_the_confirmation(ws, gateway, monkeypatch):
    assert _winback(ws, "segments", "create", "some", "--rule", "orders >= 0").exit_code == 0
    assert _create(ws, "--at", AT, "--real", "--yes", segment="some").exit_code == 0
    assert _winback(ws, "segments", "create", "some", "--rule", "orders >= 1", "--replace").exit_code == 0
    [held] = json.loads(_run_due(ws, monkeypatch).stdout)
    assert held["outcome"] == "held"
    assert "segment 'some' now reads 'orders >= 1' (was 'orders >= 0')" in held["reason"]
    assert gateway.state.accepted == []


def test_unschedule_and_cancel_take_a_scheduled_real_send_back(ws, gateway, monkeypatch):
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    undone = _winback(ws, "campaign", "unschedule", "later", "--json")
    assert undone.exit_code == 0, undone.output
    assert (json.loads(undone.stdout)["status"], json.loads(undone.stdout)["scheduled_real"]) == ("draft", False)
    assert json.loads(_run_due(ws, monkeypatch).stdout) == []
    monkeypatch.setenv("WINBACK_NOW", NOW)
    assert _winback(ws, "campaign", "schedule", "later", "--at", AT, "--real", "--yes",
                    "--accept-warnings").exit_code == 0
    assert _winback(ws, "campaign", "cancel", "later").exit_code == 0
    assert json.loads(_run_due(ws, monkeypatch).stdout) == []
    assert gateway.state.accepted == []
    again = _winback(ws, "campaign", "unschedule", "later")
    assert again.exit_code == 2 and "cancelled" in _said(again.output)


def test_two_run_due_processes_send_a_scheduled_real_launch_exactly_once(ws, gateway, monkeypatch):
    """Two cron jobs at the same minute: each message reaches the gateway once; one runs it, the other has nothing
    to do (it found it running or done) and exits 0."""
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    env = {**os.environ, "WINBACK_NOW": DUE, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([WINBACK, "--config", str(ws.config.path), "campaign", "run-due"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert Counter(m["to"] for m in gateway.state.accepted) == Counter(f"+86138{i:08d}" for i in range(1, 13))
    assert sum("later run 1: completed, sent 12" in o for o in outputs) == 1, outputs
    assert sum(("nothing due" in o or "skipped" in o) for o in outputs) == 1, outputs
    assert "HELD" not in "".join(outputs)


def test_a_run_due_that_listed_it_before_another_one_sent_it_does_not_send_or_hold_it(ws, gateway, monkeypatch):
    """The race above, made certain: the loser listed the campaign as due before the winner sent it."""
    from console.campaigns import control

    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    monkeypatch.setenv("WINBACK_NOW", DUE)
    db = ws.open()
    listed = control.due_campaigns(db)
    assert [r["name"] for r in listed] == ["later"]
    [won] = control.run_due(db, ws.config)
    assert (won["outcome"], won["sent"]) == ("completed", 12)
    monkeypatch.setattr(control, "due_campaigns", lambda db, now=None: listed)
    [lost] = control.run_due(db, ws.config)
    assert lost["outcome"] == "skipped", lost
    assert len(gateway.state.accepted) == 12
    assert db.execute("SELECT hold_reason FROM campaigns").fetchone()[0] is None
    db.close()


def test_a_price_raised_past_the_margin_holds_the_send(ws, gateway, monkeypatch):
    """The same 12 messages, but the configured price went from 0.04 to 0.05 (+25%) since the confirmation."""
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    write_config(ws.config.path, {"sms": {"transport": "http", "url": gateway.url, "token_env": TOKEN, "price": 0.05}})
    due = _run_due(ws, monkeypatch)
    assert due.exit_code == 1
    [held] = json.loads(due.stdout)
    assert held["outcome"] == "held" and held["reason"].startswith("the estimated cost grew: 0.60 CNY, 0.48 confirmed")
    assert gateway.state.accepted == []


def test_a_finished_dry_run_can_be_scheduled_for_real(ws, gateway, monkeypatch):
    """Dry run first, look at it, then schedule the real send: run-due sends it, measured on its own run."""
    assert _create(ws).exit_code == 0
    assert _winback(ws, "campaign", "launch", "later").exit_code == 0          # a dry run: completed
    scheduled = _winback(ws, "campaign", "schedule", "later", "--at", AT, "--real", "--accept-warnings", input="12\n")
    assert scheduled.exit_code == 0, scheduled.output
    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (row["status"], row["mode"]) == ("scheduled", "real")
    [run] = json.loads(_run_due(ws, monkeypatch).stdout)
    assert (run["run"], run["dry_run"], run["sent"]) == (2, False, 12)
    assert len(gateway.state.accepted) == 12
    undo = _winback(ws, "campaign", "unschedule", "later")                      # sent: nothing to take back
    assert undo.exit_code == 2 and "completed" in _said(undo.output)



def test_a_send_run_due_finds_more_than_an_hour_late_is_held(ws, gateway, monkeypatch):
    """Cron did not run at 09:00 (the machine was down, winback.toml was broken): at 10:01 the confirmed send is
    not sent late by itself — held, saying so; within the hour it still goes out (test above: 09:10)."""
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    due = _run_due(ws, monkeypatch, "2026-12-08T10:01:00+08:00")
    assert due.exit_code == 1
    [held] = json.loads(due.stdout)
    assert held["outcome"] == "held" and held["reason"] == (
        "it was due at 2026-12-08 09:00 UTC+8 and it is now 2026-12-08 10:01 UTC+8: more than 1 hour late")
    assert gateway.state.accepted == []
    assert json.loads(_run_due(ws, monkeypatch, "2026-12-08T10:11:00+08:00").stdout) == []   # not retried


def test_a_dry_run_launch_does_not_silently_end_a_confirmed_real_schedule(ws, gateway, monkeypatch):
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    dry = _winback(ws, "campaign", "launch", "later")
    assert dry.exit_code == 2 and "scheduled for a real send" in _said(dry.output) and "unschedule" in _said(dry.output)
    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (row["status"], row["mode"], row["recipients"]) == ("scheduled", "real", 0)


def test_a_content_warning_that_appeared_since_the_confirmation_holds_the_send(ws, gateway, monkeypatch):
    """Confirmed with no warning (the http gateway is not ruled); then winback.toml turns the providers' content
    rules on for the channel — the template itself is unchanged, so the confirmation is not void — and its 好久不见
    is user-recall wording: at run time that warning was never accepted, so nothing is sent."""
    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    shown = json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)
    assert shown["schedule"]["confirmation"]["warnings"] == []
    write_config(ws.config.path, {"sms": {"transport": "http", "url": gateway.url, "token_env": TOKEN, "price": 0.04,
                                          "content_rules": True}})
    due = _run_due(ws, monkeypatch)
    assert due.exit_code == 1, due.output
    [held] = json.loads(due.stdout)
    assert held["outcome"] == "held" and held["reason"].startswith(
        "content warnings not accepted with the confirmation: template 'miss-you':")
    assert "user recall" in held["reason"]
    assert gateway.state.accepted == []
    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (row["status"], row["hold_reason"]) == ("scheduled", held["reason"])


def test_a_plan_that_cannot_be_made_at_run_time_holds_the_send(ws, gateway, monkeypatch):
    """The pre-launch check cannot even make the plan when run-due reaches the send: it is held (not launched, not
    an unhandled error), saying why. Through the CLI a broken winback.toml is refused when the workspace loads
    (exit 2, nothing sent), so the run-time case is made here on run-due's service with the loaded settings
    changed after loading — the price the plan reads then is not a number."""
    from console.campaigns import control

    assert _create(ws, "--at", AT, "--real", "--yes").exit_code == 0
    monkeypatch.setenv("WINBACK_NOW", DUE)
    ws.config.channels["sms"]["price"] = "four cents"
    db = ws.open()
    try:
        [held] = control.run_due(db, ws.config)
    finally:
        db.close()
    assert held["outcome"] == "held", held
    assert held["reason"].startswith("the pre-launch check failed: ")
    assert "[channels.sms] price: 'four cents' is not a number" in held["reason"]
    assert gateway.state.accepted == []
    [record] = _audit(ws, "campaign.hold")
    assert record["reason"] == held["reason"]
    [row] = json.loads(_winback(ws, "campaign", "list", "--json").stdout)
    assert (row["status"], row["hold_reason"]) == ("scheduled", record["reason"])
