"""Small parts of the send path: the token bucket, the JSON body template, address checks, backoff."""

from __future__ import annotations

import json

import pytest

from console.channels.base import Channel, Message, TemporaryFailure, validate_address
from console.channels.http import dig, fill_template
from console.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_allows_the_burst_then_paces_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.now == 0           # the burst is free
    for _ in range(20):
        bucket.acquire()
    assert clock.now == pytest.approx(2.0)   # then 10 per second
    assert TokenBucket(0).try_acquire() == 0   # 0 = unlimited


def test_json_body_template_escapes_values_and_keeps_types():
    template = json.loads('{"to": "{{ to }}", "msg": {"text": "Hi {{ name }}!"}, "n": "{{ parts }}", "k": 1}')
    body = fill_template(template, {"to": "+8613800000001", "name": 'Li "the" \n Lei', "parts": 2})
    assert body == {"to": "+8613800000001", "msg": {"text": 'Hi Li "the" \n Lei!'}, "n": 2, "k": 1}
    assert json.loads(json.dumps(body)) == body
    assert dig({"data": {"ids": ["a", "b"]}}, "data.ids.1") == "b" and dig({}, "x.y") is None


@pytest.mark.parametrize("kind,address,ok", [
    ("sms", "+8613800000001", True), ("sms", "13800000001", False), ("sms", None, False),
    ("email", "a@b.example", True), ("email", "a@b", False), ("email", "a b@c.example", False),
    ("push", "tok", True), ("push", "", False),
])
def test_address_validation(kind, address, ok):
    assert (validate_address(kind, address) is None) is ok


def test_throttled_message_is_retried_with_backoff_then_deferred(monkeypatch):
    import time

    class Flaky(Channel):
        calls = 0

        def send_one(self, message):
            self.calls += 1
            raise TemporaryFailure("HTTP 429", retry_after=3)

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)   # the channel waits with time.sleep: counted, not waited
    ch = Flaky("sms", {"retries": 2, "backoff": 0.1, "concurrency": 1})
    [result] = ch.send([Message(1, 1, "+8613800000001", "hi", "c", "<id>")])
    assert ch.calls == 3 and result.status == "deferred" and result.retry_after >= 3
    assert len(slept) == 2 and all(s >= 3 for s in slept)   # Retry-After honoured between the 3 attempts


def test_dispatcher_processes_do_not_load_scipy(tmp_path):
    """A dry run's dispatcher processes stay small: reading a campaign must not pull in scipy (via outcomes and
    stats), which costs ~65 MB in each process and broke the 300 MB budget of a million-recipient run."""
    import subprocess
    import sys

    code = f"""
import sys
from storage.db import open_database
from console.campaigns import control, dispatch, freeze, model, tallies, worker
db = open_database({str(tmp_path / "w.db")!r})
db.execute("INSERT INTO campaigns (name, segment, channel, salt, created_at, created_by) "
           "VALUES ('c', 'all', 'sms', 's', 0, 't')")
assert model.get(db, "c").conversion_kinds == ["order"]
print('scipy' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
