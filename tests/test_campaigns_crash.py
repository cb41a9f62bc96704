"""Crash safety and cross-process caps, proved from the receiving server's own log.

- A real send runs in a subprocess (`winback campaign launch … --real --yes`), is killed with SIGKILL mid-send,
  then resumed: nobody receives two messages, every recipient ends in exactly one recorded state, and the
  tallies match what the gateway logged.
- Two processes launch overlapping campaigns at once under `any 1/7d`: no user receives two.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

pytestmark = pytest.mark.slow

WINBACK = [str(Path(sys.executable).parent / "winback")]
ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"sent", "failed", "skipped", "unknown", "cancelled", "holdout"}


def _env(tmp_path: Path) -> dict[str, str]:
    # Keep the test's frozen business clock (WINBACK_NOW, see conftest): at the machine's own hour the users'
    # quiet hours could hold every message back. Pacing and leases of dead dispatchers do not need it to move.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_") or k == "WINBACK_NOW"}
    env.update({"WB_TEST_SMS_TOKEN": "t0ken", "WINBACK_OPERATOR": "cron", "PYTHONPATH": str(ROOT)})
    return env


def _workspace(tmp_path: Path, url: str, users: int, **sms):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_TEST_SMS_TOKEN", "price": 0.04,
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}', **sms}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, users)
    add_template(db, ws.config, SMS_TEMPLATE)
    return cfg, ws, db


def _log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# Generous limits that only stop a hung test; nothing below asserts how long anything takes. The waits are on
# conditions (the gateway's log, a process's exit), so a slow, loaded machine only makes the test slower.
HANG = 600.0


def _wait_for(predicate, what: str, timeout: float = HANG) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what} (waited {timeout:.0f} s)")
        time.sleep(0.02)


@pytest.mark.parametrize("kill_after", [45, 0], ids=["mid-send", "at-start"])
def test_sigkill_mid_send_then_resume_sends_nobody_twice(tmp_path, kill_after):
    """kill_after: messages the gateway has answered when the SIGKILL lands (0: as soon as the process runs —
    during start-up or the freeze)."""
    from console.campaigns import model, tallies

    log = tmp_path / "gateway.jsonl"
    batch, concurrency = 10, 2
    # mid-send: the gateway answers 45 messages, then logs the next ones without answering until released, so
    # the kill lands with a batch in flight (`concurrency` requests with the gateway, unanswered, the rest of the
    # batch claimed but not yet handed over) however slow the machine
    with HttpGateway(log, hold_after=kill_after or None) as gw:
        cfg, ws, db = _workspace(tmp_path, gw.url, 200, rate=60, concurrency=concurrency, batch=batch,
                                 timeout=HANG)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=10)
        proc = subprocess.Popen([*WINBACK, "--config", str(cfg), "campaign", "launch", "c", "--real", "--yes"],
                                cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            if kill_after:
                _wait_for(lambda: proc.poll() is not None or len(_log(log)) > kill_after,
                          what=f"the gateway to log more than {kill_after} messages (or the send to end)")
            assert proc.poll() is None, proc.communicate()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
            gw.state.release.set()
        before_resume = len(_log(log))
        assert before_resume < 180, "the send was killed mid-way"
        # Killed before the freeze committed, the campaign is still a draft: launch it again; else resume.
        again = "launch" if model.get(db, "c").status == "draft" else "resume"
        extra = ["--real", "--yes"] if again == "launch" else []
        resumed = subprocess.run([*WINBACK, "--config", str(cfg), "campaign", again, "c", *extra, "--json"],
                                 cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=HANG)
        # exit 1 when the run left recipients unknown (the dispatcher killed mid-request): cron must see them
        ran = json.loads(resumed.stdout)
        assert resumed.returncode == (1 if ran["unknown"] or ran["failed"] else 0), resumed.stderr
        assert ran["outcome"] == "completed"

    arrived = _log(log)
    per_number = Counter(r["to"] for r in arrived)
    assert per_number and max(per_number.values()) == 1, "somebody received two messages"
    rows = list(db.query("SELECT user_id, address, arm, status, message_id FROM sends"))
    assert len(rows) == 200 and {r["status"] for r in rows} <= TERMINAL
    sent = {r["message_id"] for r in rows if r["status"] == "sent"}
    unknown = {r["message_id"] for r in rows if r["status"] == "unknown"}
    got = {r["id"] for r in arrived}
    assert sent <= got, "every message recorded sent reached the gateway"
    assert got - sent <= unknown, "whatever arrived without being recorded is marked unknown, not resent"
    # Results are recorded as they return and a row is stamped just before its request leaves: only requests
    # really in flight can be unknown, not the whole claimed batch (issue #19 point 6). One kill here.
    assert len(unknown - got) <= concurrency, "unknown recipients the gateway never received ≤ concurrency per kill"
    assert len(unknown) <= concurrency, "unknown is bounded by the requests in flight"
    if kill_after:
        assert unknown, "the kill landed with a batch in flight"
    tally = tallies.tally(db, "c")
    assert tally["sent"] == len(sent) and tally["unknown"] == len(unknown)
    assert tally["sent"] + len(got & unknown) == len(arrived)
    assert tally["recipients"] == 200
    assert sum(tally[s] for s in ("sent", "failed", "skipped", "unknown", "cancelled", "holdout")) == 200
    assert tally["holdout"] == sum(1 for r in rows if r["arm"] == "holdout") > 0
    assert not any(r["address"] in per_number for r in rows if r["arm"] == "holdout")
    actions = [r["action"] for r in db.query("SELECT action FROM audit WHERE action LIKE 'campaign.%' ORDER BY id")]
    assert actions[0] == "campaign.create" and actions[-1] == f"campaign.{again}"


def test_three_sigkills_with_the_default_batch_strand_at_most_concurrency_each(tmp_path):
    """Issue #19 point 6: three kills with batch 200 used to leave 365 never-sent recipients `unknown`. Each kill
    lands wherever it lands (after the gateway logged some more messages); whatever the timing, the recipients left
    unknown that the gateway never received are at most `concurrency` per kill, and nobody gets two messages."""
    from console.campaigns import model

    log = tmp_path / "gateway.jsonl"
    concurrency, kills = 4, 3
    with HttpGateway(log) as gw:
        cfg, ws, db = _workspace(tmp_path, gw.url, 600, rate=150, concurrency=concurrency, batch=200, timeout=HANG)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        command = ["launch", "c", "--real", "--yes"]
        for kill in range(kills):
            before = len(_log(log))
            proc = subprocess.Popen([*WINBACK, "--config", str(cfg), "campaign", *command], cwd=tmp_path,
                                    env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                _wait_for(lambda p=proc, b=before: p.poll() is not None or len(_log(log)) > b + 60,
                          f"kill {kill + 1}: 60 more messages")
                assert proc.poll() is None, proc.communicate()
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            finally:
                if proc.poll() is None:
                    proc.kill()
            command = ["resume", "c"]
        done = subprocess.run([*WINBACK, "--config", str(cfg), "campaign", "resume", "c", "--json"], cwd=tmp_path,
                              env=_env(tmp_path), capture_output=True, text=True, timeout=HANG)
        ran = json.loads(done.stdout)   # exit 1 when recipients were left unknown by the kills: cron must see them
        assert done.returncode == (1 if ran["unknown"] or ran["failed"] else 0), done.stderr
        assert ran["outcome"] == "completed"
    arrived = _log(log)
    per_number = Counter(r["to"] for r in arrived)
    assert max(per_number.values()) == 1, "somebody received two messages"
    rows = list(db.query("SELECT status, message_id FROM sends"))
    assert {r["status"] for r in rows} <= {"sent", "unknown"}
    unknown = {r["message_id"] for r in rows if r["status"] == "unknown"}
    never_received = unknown - {r["id"] for r in arrived}
    assert len(never_received) <= concurrency * kills, (len(never_received), len(unknown))
    assert len(unknown) <= concurrency * kills
    assert len(per_number) + len(never_received) == 600


def test_two_processes_overlapping_campaigns_under_any_1_per_7d_never_message_a_user_twice(tmp_path):
    from console.campaigns import model
    from console.policy import caps

    log = tmp_path / "gateway.jsonl"
    # The gateway answers nobody until messages of both campaigns have reached it: the two launches overlap for
    # sure, however late the second process starts on a loaded machine (no reliance on pacing or timing).
    with HttpGateway(log, hold_until=lambda gateway: len(gateway.campaigns) >= 2) as gw:
        cfg, ws, db = _workspace(tmp_path, gw.url, 300, concurrency=2, batch=5, rate=150, timeout=HANG)
        caps.set_rule(db, caps.parse_rule("any", "1/7d"))
        for name in ("spring", "autumn"):
            model.create(db, name, segment="all", channel="sms", template="miss-you", holdout=0)
        procs = [subprocess.Popen([*WINBACK, "--config", str(cfg), "campaign", "launch", name, "--real", "--yes",
                                   "--json"], cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for name in ("spring", "autumn")]
        try:
            outputs = [p.communicate(timeout=HANG) for p in procs]
        finally:
            gw.state.release.set()
            for p in procs:
                if p.poll() is None:
                    p.kill()
        assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outputs]

    arrived = _log(log)
    per_number = Counter(r["to"] for r in arrived)
    assert len(per_number) == 300 and set(per_number.values()) == {1}
    summaries = [json.loads(o[0]) for o in outputs]
    assert sum(s["sent"] for s in summaries) == 300
    assert all(s["sent"] > 0 for s in summaries), "both processes really competed"
    # Each user: one campaign sent, the other recorded the cap.
    states = Counter((r["user_id"], r["status"], r["reason"]) for r in db.query("SELECT user_id, status, reason FROM sends"))
    per_user = {}
    for (user, status, reason), _n in states.items():
        per_user.setdefault(user, []).append((status, reason))
    assert all(sorted(v) == [("sent", None), ("skipped", "capped")] for v in per_user.values())


def test_a_channels_rate_holds_across_two_processes(tmp_path):
    """Two campaigns on one channel, launched at once by two processes: each claimed batch books the channel's
    next sending window, so together they never go faster than the configured rate."""
    from console.campaigns import model

    log = tmp_path / "gateway.jsonl"
    rate, batch, users = 40, 20, 60
    with HttpGateway(log) as gw:
        cfg, ws, db = _workspace(tmp_path, gw.url, users, rate=rate, batch=batch, concurrency=2)
        for name in ("a", "b"):
            model.create(db, name, segment="all", channel="sms", template="miss-you", holdout=0, exempt_caps=True)
        procs = [subprocess.Popen([*WINBACK, "--config", str(cfg), "campaign", "launch", name, "--real", "--yes"],
                                  cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for name in ("a", "b")]
        for p in procs:
            p.communicate(timeout=HANG)
    arrived = sorted(r["at"] for r in _log(log))
    assert len(arrived) == 2 * users
    # The last batch cannot start before every earlier batch's window has passed: (N - batch) / rate seconds.
    assert arrived[-1] - arrived[0] >= (2 * users - batch) / rate * 0.95
