"""Send safety (issue #19 points 2, 6, 8; issue #12 point 9): the send loop against real HTTP servers on 127.0.0.1.

- An opt-out committed while a claimed batch is with the provider stops every message of it not yet handed over.
- A provider's Retry-After longer than max_backoff is honoured: one call, then nobody calls it until then.
- A dry run in quiet hours renders, costs and records everyone and says who would wait until when.
- `campaign requeue --not-sent FILE` puts unknowns the provider's records show were never sent back to planned.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from console.inbound.server import ThreadedServer
from tests.campaign_support import (
    SMS_TEMPLATE,
    add_template,
    add_users,
    launch_in_background,
    load_workspace,
    wait_until,
    write_config,
)
from tests.servers import HttpGateway

HANG = 300.0   # only stops a hung test; nothing asserts how long anything takes




def _cli(ws):
    from typer.testing import CliRunner

    from console.cli import app

    def run(*args: str):
        return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args])

    return run


def _sms_workspace(tmp_path: Path, url: str, users: int, **sms):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_SAFETY_TOKEN", "price": 0.04, **sms}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, users)
    add_template(db, ws.config, SMS_TEMPLATE)
    return ws, db


# -- point 2: an opt-out after the claim -----------------------------------------------------------------------------
def test_an_opt_out_committed_while_the_batch_is_with_the_provider_stops_every_message_not_yet_handed_over(
        tmp_path, monkeypatch):
    from console.campaigns import model, tallies
    from console.policy.consent import change_consent
    from console.policy.suppression import add_suppression

    monkeypatch.setenv("WB_SAFETY_TOKEN", "t")
    log = tmp_path / "gateway.jsonl"
    # The gateway answers the first message, then holds the second unanswered until released: the batch of 10 is
    # claimed and with the channel (one worker) while the opt-outs below are committed.
    with HttpGateway(log, hold_after=1) as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, 12, concurrency=1, batch=10, timeout=HANG)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        sender, outcome = launch_in_background(ws, "c")
        try:
            wait_until(lambda: len(gw.state.accepted) >= 2 or not sender.is_alive(), "the second message")
            arrived = {m["to"] for m in gw.state.accepted}
            waiting = db.execute("SELECT u.external_id, s.address FROM sends s JOIN users u ON u.id = s.user_id "
                                 "WHERE s.status = 'claimed' ORDER BY s.id").fetchall()
            waiting = [(ext, address) for ext, address in waiting if address not in arrived]
            assert len(waiting) == 8, "eight claimed messages not yet handed over"
            # STOP replies and unsubscribes, committed after the claim: by user, by number, and withdrawn consent
            for ext, _address in waiting[:3]:
                add_suppression(db, ws.config, user=ext, channel="sms", reason="opt_out", source="inbound:sms")
            for _ext, address in waiting[3:6]:
                add_suppression(db, ws.config, address=address, channel="all", reason="opt_out", source="inbound:sms")
            for ext, _address in waiting[6:]:
                change_consent(db, ext, "sms", "withdrawn", source="inbound:sms")
        finally:
            gw.state.release.set()
            sender.join(HANG)
    assert "error" not in outcome, outcome.get("error")
    stopped = {address for _ext, address in waiting}
    received = [m["to"] for m in gw.state.accepted]
    assert not stopped & set(received), "nobody is messaged after their opt-out was committed"
    assert len(received) == 12 - 8 and len(set(received)) == len(received)
    states = dict(db.execute("SELECT address, status || '/' || COALESCE(reason, '') FROM sends").fetchall())
    assert [states[a] for _e, a in waiting] == ["skipped/suppressed"] * 6 + ["skipped/no_consent"] * 2
    summary = outcome["summary"]
    assert summary.outcome == "completed" and summary.sent == 4
    assert summary.skipped == {"suppressed": 6, "no_consent": 2}
    t = tallies.tally(db, "c")
    assert t["sent"] == 4 and t["skipped"] == 8 and t["cost"] == pytest.approx(4 * 0.04)
    # not sent, so not spent: the budget booked at the claim is given back
    spent = db.execute("SELECT spent FROM campaign_runs").fetchone()[0]
    assert spent == pytest.approx(4 * 0.04)


def test_an_opt_out_journaled_while_the_database_is_busy_stops_a_claimed_message_too(tmp_path, monkeypatch):
    """An import holds the write lock: `suppress add` can only journal the opt-out (console/policy/journal.py). The
    last look before hand-off reads the journal too, so the claimed message to that user does not leave."""
    import sqlite3

    from console.campaigns import model
    from console.policy.suppression import add_suppression

    monkeypatch.setenv("WB_SAFETY_TOKEN", "t")
    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=1) as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, 4, concurrency=1, batch=4, timeout=HANG)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        sender, outcome = launch_in_background(ws, "c")
        importer = sqlite3.connect(str(ws.db_path), isolation_level=None)
        try:
            wait_until(lambda: len(gw.state.accepted) >= 2 or not sender.is_alive(), "the second message")
            importer.execute("BEGIN IMMEDIATE")   # a long import holds the write lock
            stopper = db.execute("SELECT u.external_id, s.address FROM sends s JOIN users u ON u.id = s.user_id "
                                 "WHERE s.status = 'claimed' ORDER BY s.id DESC LIMIT 1").fetchone()
            result = add_suppression(db, ws.config, user=stopper[0], channel="sms", reason="opt_out",
                                     source="inbound:sms", wait_ms=0)
            assert result["journaled"], "recorded in the journal only: the database is busy"
            gw.state.release.set()
            importer.execute("COMMIT")            # the import ends; the journal entry is still not folded
        finally:
            gw.state.release.set()
            if importer.in_transaction:
                importer.execute("ROLLBACK")
            importer.close()
            sender.join(HANG)
    received = [m["to"] for m in gw.state.accepted]
    assert stopper[1] not in received and len(received) == 3
    assert db.execute("SELECT status, reason FROM sends WHERE address = ?", [stopper[1]]).fetchone() == (
        "skipped", "suppressed")
    assert outcome["summary"].outcome == "completed"


# -- point 8: Retry-After beyond max_backoff --------------------------------------------------------------------------
class SlowDownGateway:
    """An SMS gateway that answers 429 with `Retry-After: 3600` until told to accept."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.accepted: list[str] = []
        self.accepting = False
        self.lock = threading.Lock()

        async def send(request: Request) -> JSONResponse:
            body = await request.json()
            with self.lock:
                self.requests.append(body["to"])
                if not self.accepting:
                    return JSONResponse({"code": "SLOW_DOWN"}, status_code=429, headers={"Retry-After": "3600"})
                self.accepted.append(body["to"])
                return JSONResponse({"code": "OK"})

        self.app = Starlette(routes=[Route("/send", send, methods=["POST"])])


def test_a_provider_asking_to_wait_an_hour_is_called_once_and_not_again_until_then(tmp_path, monkeypatch):
    from console.campaigns import control, model
    from console.clock import now_ts, parse_iso

    monkeypatch.setenv("WB_SAFETY_TOKEN", "t")
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    gateway = SlowDownGateway()
    with ThreadedServer(uvicorn.Config(gateway.app, host="127.0.0.1", port=0, log_level="warning")) as url:
        # max_backoff is tiny so the old behaviour (retry within the batch, capped at max_backoff) shows at once
        ws, db = _sms_workspace(tmp_path, f"{url}/send", 5, concurrency=1, batch=3, backoff=0.001,
                                max_backoff=0.01, retries=4)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        start = now_ts()
        summary = control.launch(db, ws.config, "c", real=True)
        assert gateway.requests and len(gateway.requests) == 1, "one call, then the provider is left alone"
        assert summary.outcome == "waiting" and summary.next_at == start + 3600
        assert "Retry-After" in (summary.wait_reason or "")
        rows = db.execute("SELECT status, reason, not_before, attempts FROM sends ORDER BY id").fetchall()
        assert [tuple(r) for r in rows[:3]] == [("deferred", "provider_wait", start + 3600, 1),
                                               ("deferred", "provider_wait", start + 3600, 0),
                                               ("deferred", "provider_wait", start + 3600, 0)]
        assert [r[0] for r in rows[3:]] == ["planned", "planned"]   # the next batch was never claimed
        # cron half an hour later: still nobody calls the provider
        monkeypatch.setenv("WINBACK_NOW", "2026-11-25T10:30:00+08:00")
        [later] = control.run_due(db, ws.config)
        assert later["outcome"] == "waiting" and len(gateway.requests) == 1
        resumed = _cli(ws)("campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
        said = " ".join(resumed.output.split())
        assert "waiting: sms provider asked to wait 3600s (Retry-After)" in said and len(gateway.requests) == 1
        # an hour later the provider takes everything, once each
        gateway.accepting = True
        monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:01+08:00")
        [done] = control.run_due(db, ws.config)
    assert done["outcome"] == "completed" and done["sent"] == 5
    assert sorted(gateway.accepted) == sorted(r[0] for r in db.execute("SELECT address FROM sends"))
    assert int(parse_iso("2026-11-25T11:00:00+08:00").timestamp()) == start + 3600


# -- issue 12 point 9: a dry run in quiet hours -----------------------------------------------------------------------
def test_a_dry_run_in_quiet_hours_renders_costs_and_records_everyone_and_says_until_when(tmp_path, monkeypatch):
    from console.campaigns import control, model, tallies
    from console.clock import parse_iso

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T23:00:00+08:00")    # quiet hours in Shanghai
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 0.04,
                                                            "quiet_hours": True}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 6)
    add_users(db, 4, start=7, timezone="Europe/Berlin")   # 16:00 there: inside the sending window
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    summary = control.launch(db, ws.config, "c")
    morning = int(parse_iso("2026-11-26T08:00:00+08:00").timestamp())
    assert summary.outcome == "completed" and summary.sent == 10 and summary.deferred == 0
    assert (summary.would_wait, summary.next_at, summary.wait_last_at) == (6, morning, morning)
    rows = db.execute("SELECT u.timezone, s.status, s.reason, s.not_before, s.cost, s.payload_hash IS NOT NULL, "
                      "s.message_id IS NOT NULL FROM sends s JOIN users u ON u.id = s.user_id ORDER BY s.id").fetchall()
    assert [tuple(r) for r in rows] == [("Asia/Shanghai", "sent", "quiet_hours", morning, 0.04, 1, 1)] * 6 + \
        [("Europe/Berlin", "sent", None, None, 0.04, 1, 1)] * 4
    t = tallies.tally(db, "c")
    assert t["sent"] == 10 and t["cost"] == pytest.approx(0.4)


def test_the_dry_run_report_says_who_would_wait_and_until_when(tmp_path, monkeypatch):
    from console.campaigns import model

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T23:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 0.04,
                                                            "quiet_hours": True}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    result = _cli(ws)("campaign", "launch", "c")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "3 would wait for quiet hours" in out and "2026-11-26" in out


# -- point 6: the operator's way back for unknowns that never arrived -------------------------------------------------
def _strand(db, ws, users: list[int]) -> None:
    """Rows of a dispatcher that handed these users' messages over and died (its process is gone)."""
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    marks = ",".join("?" * len(users))
    db.execute(f"UPDATE sends SET status = 'claimed', claimed_by = ?, lease_until = 4102444800, attempts = 1, "
               f"claimed_at = 1, handed_at = 1, cost = 0.04, message_id = '<m' || user_id || '>' "
               f"WHERE user_id IN ({marks})", [f"{socket.gethostname()}:{dead}", *users])
    db.execute("UPDATE campaign_runs SET spent = spent + ?", [0.04 * len(users)])   # booked at their claim


def test_requeue_puts_unknowns_the_provider_never_got_back_to_planned_and_resume_sends_them(tmp_path, monkeypatch):
    from console.campaigns import control, model, tallies
    from console.campaigns.freeze import freeze

    monkeypatch.setenv("WB_SAFETY_TOKEN", "t")
    with HttpGateway() as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, 6)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        freeze(db, model.get(db, "c"), dry_run=False, config=ws.config)
        _strand(db, ws, [1, 2, 3])
        summary = control.resume(db, ws.config, "c")
        assert summary.outcome == "completed" and summary.recovered == 3 and len(gw.state.accepted) == 3
        # The provider's report: message <m1> and the number of user 2 never arrived; user 3's did.
        report = tmp_path / "not-sent.txt"
        report.write_text("# from the provider's delivery report\n<m1>\n\n+8613800000002\n", encoding="utf-8")
        cli = _cli(ws)
        result = cli("campaign", "requeue", "c", "--not-sent", str(report))
        assert result.exit_code == 0, result.output
        out = " ".join(result.output.split())
        assert "2 unknown recipients back to planned" in out and "winback campaign resume c" in out
        states = dict(db.execute("SELECT user_id, status FROM sends WHERE user_id <= 3").fetchall())
        assert states == {1: "planned", 2: "planned", 3: "unknown"}
        [entry] = db.execute("SELECT action, details FROM audit WHERE action = 'campaign.requeue'").fetchall()
        assert '"requeued": 2' in entry[1] and "not-sent.txt" in entry[1]
        resumed = cli("campaign", "resume", "c", "--json")
        assert resumed.exit_code == 0, resumed.output
    got = [m["to"] for m in gw.state.accepted]
    assert sorted(got) == sorted(f"+86138{i:08d}" for i in (1, 2, 4, 5, 6))   # each once; user 3 never again
    t = tallies.tally(db, "c")
    assert (t["sent"], t["unknown"]) == (5, 1)
    assert db.execute("SELECT spent FROM campaign_runs").fetchone()[0] == pytest.approx(6 * 0.04)


def test_requeue_refuses_a_file_naming_nobody_of_the_campaign_and_changes_nothing(tmp_path, monkeypatch):
    from console.campaigns import control, model
    from console.campaigns.freeze import freeze

    monkeypatch.setenv("WB_SAFETY_TOKEN", "t")
    with HttpGateway() as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, 3)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        freeze(db, model.get(db, "c"), dry_run=False, config=ws.config)
        _strand(db, ws, [1])
        control.resume(db, ws.config, "c")
    report = tmp_path / "not-sent.txt"
    report.write_text("<m1>\n<nobody>\n", encoding="utf-8")
    result = _cli(ws)("campaign", "requeue", "c", "--not-sent", str(report))
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "not-sent.txt, line 2" in out and "<nobody>" in out and "nothing was changed" in out
    assert db.execute("SELECT status FROM sends WHERE user_id = 1").fetchone()[0] == "unknown"
