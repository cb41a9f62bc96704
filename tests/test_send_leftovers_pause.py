"""Pause or cancel while a claimed batch is with the provider: what is not yet on the wire does not go.

The gateway answers two messages and holds the third unanswered (it is on the wire); the operator pauses (or
cancels) from another connection; then the gateway answers. The third is recorded as its answer says; the seven
claimed rows not yet handed over go back to `planned` (pause: resume sends them, once) or become `cancelled` —
never attempted, not spent. Every recipient ends in exactly one state, and the gateway's own log shows nobody
twice. Conditions are waited for, never time.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

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
PRICE = 0.04




def _workspace(tmp_path: Path, url: str):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_PAUSE_TOKEN", "price": PRICE, "concurrency": 1,
        "batch": 10, "timeout": HANG}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 12)
    add_template(db, ws.config, SMS_TEMPLATE)
    return ws, db


@pytest.fixture
def gw(tmp_path):
    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=2) as gateway:
        yield gateway


def _stop_mid_batch(tmp_path: Path, monkeypatch, gw: HttpGateway, stop) -> tuple:
    """Launch for real in a thread; once the third message is on the wire, `stop(db)` from this connection; then
    let the gateway answer. Returns (ws, db, summary, the numbers on the wire when stopped)."""
    from console.campaigns import model

    monkeypatch.setenv("WB_PAUSE_TOKEN", "t")
    ws, db = _workspace(tmp_path, gw.url)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    sender, outcome = launch_in_background(ws, "c")
    try:
        wait_until(lambda: len(gw.state.accepted) >= 3 or not sender.is_alive(), "the third message on the wire")
        on_the_wire = [m["to"] for m in gw.state.accepted]
        assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'claimed'").fetchone()[0] == 8
        stop(db)
    finally:
        gw.state.release.set()
        sender.join(HANG)
    assert "error" not in outcome, outcome.get("error")
    return ws, db, outcome["summary"], on_the_wire


def _states(db) -> Counter:
    return Counter(f"{s}/{r or ''}" for s, r in db.execute("SELECT status, reason FROM sends"))


def test_a_pause_mid_batch_sends_only_what_was_on_the_wire_and_resume_sends_the_rest_once(
        tmp_path, monkeypatch, gw):
    from console.campaigns import control, model, tallies

    ws, db, summary, on_the_wire = _stop_mid_batch(
        tmp_path, monkeypatch, gw, lambda db: control.pause(db, "c", reason="checking the copy"))
    received = [m["to"] for m in gw.state.accepted]
    assert received == on_the_wire and len(received) == 3, "nothing left after the pause but what was on the wire"
    assert _states(db) == Counter({"sent/": 3, "planned/": 9})
    # the unsent claimed rows are given back as if never claimed: no lease, no attempt, not spent
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'planned' AND (claimed_by IS NOT NULL "
                      "OR handed_at IS NOT NULL OR attempts != 0 OR lease_until IS NOT NULL)").fetchone()[0] == 0
    assert db.execute("SELECT spent FROM campaign_runs").fetchone()[0] == pytest.approx(3 * PRICE)
    assert summary.outcome == "paused" and summary.pause_reason == "checking the copy"
    assert (summary.sent, summary.claimed, dict(summary.skipped)) == (3, 3, {})
    assert model.get(db, "c").status == "paused"

    resumed = control.resume(db, ws.config, "c")
    assert resumed.outcome == "completed" and resumed.sent == 9
    everyone = Counter(m["to"] for m in gw.state.accepted)
    assert len(everyone) == 12 and set(everyone.values()) == {1}, "each recipient exactly once"
    t = tallies.tally(db, "c")
    assert (t["sent"], t["recipients"], t["cost"]) == (12, 12, pytest.approx(12 * PRICE))


def test_a_cancel_mid_batch_cancels_what_was_not_on_the_wire(tmp_path, monkeypatch, gw):
    from console.campaigns import control, tallies

    ws, db, summary, on_the_wire = _stop_mid_batch(
        tmp_path, monkeypatch, gw, lambda db: control.cancel(db, "c", reason="wrong segment"))
    assert [m["to"] for m in gw.state.accepted] == on_the_wire and len(on_the_wire) == 3
    assert _states(db) == Counter({"sent/": 3, "cancelled/cancelled": 9})
    assert db.execute("SELECT spent FROM campaign_runs").fetchone()[0] == pytest.approx(3 * PRICE)
    assert summary.outcome == "cancelled" and summary.sent == 3 and not summary.skipped
    t = tallies.tally(db, "c")
    assert (t["sent"], t["cancelled"], t["claimed"], t["status"]) == (3, 9, 0, "cancelled")


def test_the_messages_held_back_by_a_pause_do_not_wait_for_the_rate_limit(tmp_path, monkeypatch, gw):
    """Once the hand-off said the campaign is paused, the rest of the batch is given back without each taking a
    turn of the channel's rate limit first (at a low rate that alone would keep the dispatcher a batch's worth of
    turns; counted here, not timed)."""
    from console import ratelimit
    from console.campaigns import control

    turns = Counter()
    acquire = ratelimit.TokenBucket.acquire

    def counted(self, n: float = 1) -> None:
        turns["taken"] += 1
        acquire(self, n)

    monkeypatch.setattr(ratelimit.TokenBucket, "acquire", counted)
    _ws, db, summary, on_the_wire = _stop_mid_batch(tmp_path, monkeypatch, gw, lambda db: control.pause(db, "c"))
    assert summary.outcome == "paused" and len(on_the_wire) == 3
    # one turn per message handed over, and the turn of the one whose hand-off found the pause: none for the rest
    assert turns["taken"] == 3 + 1
    assert _states(db) == Counter({"sent/": 3, "planned/": 9})
