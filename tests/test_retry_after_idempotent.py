"""An idempotent retry (the same request again, same Idempotency-Key, after a 5xx: the first may have arrived) that
the provider answers 429 with a long Retry-After waits as asked — not max_backoff — while the batch stays ours.

Before, the retry loop capped the provider's wait at max_backoff: a 429 "Retry-After: 120" to a retry was followed
by `retries` more requests within a second or so (max_backoff 0.05 here), then `unknown`.

Now: a wait the batch's lease can cover is waited (the hand-off writer keeps the leases and the run's heartbeat
fresh meanwhile), then the same request goes again. A longer one ends the message `unknown` at once — the first
request may have arrived, so it is never given back to be sent again — and, as for any long Retry-After, the rest
of the batch is given back unsent (deferred `provider_wait`) and nobody calls the provider before the time it
named.

Real parts: a local HTTP gateway that deduplicates on the key, a real SQLite ledger, the real dispatcher. The one
stand-in is the channel's sleep: it records the wait and moves the business clock (WINBACK_NOW) on by as much,
instead of spending minutes.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.campaigns.pacing import provider_wait
from console.clock import now_ts
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

SECOND = "+8613800000002"
START = "2026-11-25T10:00:00+08:00"
LEASE = 300


def _workspace(tmp_path: Path, url: str):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_RETRY_TOKEN", "price": 0.04, "concurrency": 1,
        "idempotency_header": "Idempotency-Key", "retries": 3, "backoff": 0.01, "max_backoff": 0.05,
        "lease_seconds": LEASE,
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}',
        "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 4)
    add_template(db, ws.config, SMS_TEMPLATE)
    return ws, db


def _wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


class Story:
    """What the provider and the channel did, in order: ('request', n) for SECOND's n-th request, ('sleep', s)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.events: list[tuple[str, float]] = []
        self.renewed_while_waiting = False

    def sleep(self, seconds: float) -> None:
        self.events.append(("sleep", seconds))
        if seconds < 1:
            return
        # the wait, on the business clock; the hand-off writer (which wakes every second) must keep the batch ours
        later = now_ts() + int(seconds)
        os.environ["WINBACK_NOW"] = datetime.fromtimestamp(later, UTC).isoformat()
        conn = self.ws.open()
        try:
            def renewed() -> bool:
                lease, beat = conn.execute(
                    "SELECT MIN(s.lease_until), r.heartbeat_at FROM sends s JOIN campaign_runs r "
                    "ON r.campaign_id = s.campaign_id AND r.run = s.run WHERE s.status = 'claimed'").fetchone()
                return lease is not None and lease >= later + LEASE and beat >= later

            _wait_until(renewed, "the leases and the heartbeat renewed while the retry waits")
            self.renewed_while_waiting = True
        finally:
            conn.close()


def _launch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retry_after: str) -> tuple[object, Story, object]:
    from console.campaigns import control, model

    monkeypatch.setenv("WB_RETRY_TOKEN", "t")
    monkeypatch.setenv("WINBACK_NOW", START)
    gw = HttpGateway(tmp_path / "gateway.jsonl", answer_after_accept={SECOND: 502},
                     idempotency_header="Idempotency-Key", retry_after=retry_after)
    with gw:
        ws, db = _workspace(tmp_path, gw.url)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        story = Story(ws)
        decide, seen = gw.state.decide, Counter()

        def provider(body, headers=None):
            if body.get("to") != SECOND:
                return decide(body, headers)
            seen[SECOND] += 1
            story.events.append(("request", seen[SECOND]))
            if seen[SECOND] == 2:
                return 429, {"code": "THROTTLED"}   # the retry: "not now, come back in Retry-After seconds"
            return decide(body, headers)   # the first: taken, answered 502; a later one: deduplicated

        gw.state.decide = provider
        opened = control.open_channel

        def open_channel(*args, **kwargs):
            channel = opened(*args, **kwargs)
            channel._sleep = story.sleep
            return channel

        monkeypatch.setattr(control, "open_channel", open_channel)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
    return db, story, (gw, summary)


def test_a_retry_after_the_lease_can_cover_is_waited_then_the_same_request_goes_again(tmp_path, monkeypatch):
    db, story, (gw, _summary) = _launch(tmp_path, monkeypatch, "120")
    requests = [e for e in story.events if e[0] == "request"]
    assert requests == [("request", 1), ("request", 2), ("request", 3)], story.events
    after_429 = story.events[story.events.index(("request", 2)) + 1:story.events.index(("request", 3))]
    assert [e for e in after_429 if e[0] == "sleep"] and all(s >= 120 for _, s in after_429), after_429
    assert story.renewed_while_waiting
    assert gw.state.deduplicated == 1   # the retry after the wait was answered from the provider's records
    rows = dict(db.execute("SELECT u.phone, s.status FROM sends s JOIN users u ON u.id = s.user_id").fetchall())
    assert set(rows.values()) == {"sent"} and rows[SECOND] == "sent"
    assert len(gw.state.accepted) == 4   # each message taken once


def test_a_retry_after_longer_than_the_lease_ends_it_unknown_and_gives_the_rest_back(tmp_path, monkeypatch):
    db, story, (gw, summary) = _launch(tmp_path, monkeypatch, str(LEASE + 300))
    # no request after the 429: neither the retry nor the rest of the batch knocks again
    assert [e for e in story.events if e[0] == "request"] == [("request", 1), ("request", 2)], story.events
    assert story.events[-1] == ("request", 2) or all(s < 1 for k, s in story.events
                                                     [story.events.index(("request", 2)):] if k == "sleep")
    rows = {phone: (status, reason) for phone, status, reason in db.execute(
        "SELECT u.phone, s.status, s.reason FROM sends s JOIN users u ON u.id = s.user_id")}
    assert rows[SECOND][0] == "unknown"                       # it may have arrived: never sent again
    assert rows["+8613800000001"] == ("sent", None)
    assert rows["+8613800000003"] == rows["+8613800000004"] == ("deferred", "provider_wait")
    assert len(gw.state.accepted) == 2
    wait = provider_wait(db, "sms")                            # nobody calls the provider before its time
    assert wait is not None and wait[0] >= now_ts() + LEASE + 300 - 1
    assert summary.unknown == 1


@pytest.mark.parametrize("retry_after", ["inf", "1e300"])
def test_a_retry_after_past_any_time_is_read_as_a_week_not_a_crash(tmp_path, monkeypatch, retry_after):
    """'Retry-After: inf' (or 1e300) from a broken proxy crashed the dispatcher with an OverflowError (int(inf), or a
    not_before SQLite cannot store): the hand-off writer's transaction with the unknown row was rolled back, rows
    stayed claimed and the channel was not held. Now the wait is read as a week (retry_after.MAX_RETRY_AFTER)."""
    from console.channels.retry_after import MAX_RETRY_AFTER

    db, story, (gw, summary) = _launch(tmp_path, monkeypatch, retry_after)
    rows = {phone: (status, reason) for phone, status, reason in db.execute(
        "SELECT u.phone, s.status, s.reason FROM sends s JOIN users u ON u.id = s.user_id")}
    assert rows[SECOND][0] == "unknown"
    assert rows["+8613800000003"] == rows["+8613800000004"] == ("deferred", "provider_wait")
    wait = provider_wait(db, "sms")
    assert wait is not None and now_ts() + MAX_RETRY_AFTER - 1 <= wait[0] <= now_ts() + MAX_RETRY_AFTER + 1
    assert summary.unknown == 1
