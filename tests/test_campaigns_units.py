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


def test_the_hooks_stop_a_message_before_it_leaves_and_report_each_result_as_it_comes(tmp_path):
    """The channel contract's hooks, on a send_one transport and on the CSV file transport (which overrides send):
    a message before_each refuses is never attempted (skipped, with the reason); on_result sees every result."""
    from console.channels.base import SKIPPED
    from console.channels.csvfile import CsvChannel

    class Recording(Channel):
        def __init__(self, name, settings):
            super().__init__(name, settings)
            self.sent: list[str] = []

        def send_one(self, message):
            self.sent.append(message.to)
            return f"p-{message.send_id}"

    batch = [Message(i, i, f"+86138000000{i:02d}", "hi", "c", f"<m{i}>") for i in range(1, 5)]
    for channel in (Recording("sms", {"concurrency": 2}), CsvChannel("call", {"path": str(tmp_path / "l.csv")})):
        seen: list[tuple[int, str]] = []
        results = channel.send(batch, before_each=lambda m: "suppressed" if m.send_id == 3 else None,
                               on_result=lambda r, seen=seen: seen.append((r.send_id, r.status)))
        channel.close()
        assert [(r.send_id, r.status, r.reason, r.attempted) for r in results] == [
            (1, "sent", None, True), (2, "sent", None, True), (3, SKIPPED, "suppressed", False), (4, "sent", None, True)]
        assert sorted(seen) == [(1, "sent"), (2, "sent"), (3, SKIPPED), (4, "sent")]
        if isinstance(channel, Recording):
            assert sorted(channel.sent) == ["+8613800000001", "+8613800000002", "+8613800000004"]
    listed = (tmp_path / "l.csv").read_text(encoding="utf-8-sig")
    assert "<m1>" in listed and "<m4>" in listed and "<m3>" not in listed   # the refused row is not in the file


def test_a_retry_after_beyond_max_backoff_is_not_retried_and_stops_the_rest_of_the_batch(monkeypatch):
    import time

    class SlowDown(Channel):
        calls = 0

        def send_one(self, message):
            self.calls += 1
            raise TemporaryFailure("HTTP 429", retry_after=3600)

    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail(f"slept {s}s instead of deferring"))
    ch = SlowDown("sms", {"retries": 4, "max_backoff": 10, "concurrency": 1})
    results = ch.send([Message(i, i, "+8613800000001", "hi", "c", f"<{i}>") for i in range(1, 4)])
    assert ch.calls == 1, "one call, no retry, no other message of the batch calls the provider"
    assert [(r.status, r.provider_wait, r.attempted, r.retry_after) for r in results] == [
        ("deferred", True, True, 3600), ("deferred", True, False, 3600), ("deferred", True, False, 3600)]
