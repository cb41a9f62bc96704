"""A provider's Retry-After to an idempotent retry, waited in the channel: a pause or Ctrl-C cuts the wait short, and
the hold is written for everyone the moment the Retry-After comes.

The story (real parts: a local HTTP gateway that deduplicates on the Idempotency-Key, a real SQLite ledger, the real
dispatcher): the second recipient's first request is taken and answered 502 — it may have arrived — so the channel
tries the same request again with the same key; the gateway answers that retry 429 "Retry-After: 100". The lease
covers 100 s, so the channel waits (a real wait, which every test here cuts short).

Before:
- (a) the wait could not be interrupted: `winback campaign pause` (any process) and Ctrl-C waited the Retry-After
  out, then the retry went anyway;
- (b) the cross-process hold (channel_pacing.wait_until) was written only when the message ended, and the batch's
  other workers were not told either: during the wait they, another campaign's dispatcher (a cron run-due) … kept
  calling the provider that had asked to be left alone.

Now the recipient whose retry was waiting ends `unknown` (its first request may have arrived: never resent), what
was not handed over goes back to `planned`, and resume — once the provider's time has come — sends exactly those.
The last two tests: a plain backoff after a 429 (nothing taken: back to `planned`) is cut short the same way, and
Ctrl-C mid-batch gives back what was not handed over instead of sending the whole batch first.
"""

from __future__ import annotations

import _thread
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.campaigns import control, model
from console.campaigns.pacing import provider_wait
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

FIRST, SECOND, THIRD, FOURTH = (f"+86138{i:08d}" for i in range(1, 5))
START = "2026-11-25T10:00:00+08:00"
WAIT = 100   # the provider's Retry-After, in seconds: within the lease (120 s), so the channel waits for it
HANG = WAIT / 2   # a bound against a hung test: what is cut short ends in moments, what is not takes WAIT


class Provider:
    """The gateway's decisions for this story, and who asked what: SECOND's first request taken then 502, its retry
    429 + Retry-After; with `hold_first`, FIRST's request gets no answer until `release` is set (one worker busy)."""

    def __init__(self, gw: HttpGateway, *, hold_first: bool = False) -> None:
        self.decide = gw.state.decide
        self.asked: Counter[str] = Counter()
        self.campaigns: Counter[str] = Counter()
        self.hold_first = hold_first
        self.release = threading.Event()
        gw.state.decide = self

    def __call__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        to = str(body.get("to"))
        self.asked[to] += 1
        self.campaigns[str(body.get("id")).split(".")[1]] += 1
        if to == FIRST and self.hold_first:
            self.release.wait(60)
        if to == SECOND and self.asked[to] == 2:
            # the retry: "not now, come back in Retry-After seconds" — quoting our headers back, token and all
            return 429, {"code": "THROTTLED", "authorization": (headers or {}).get("Authorization")}
        return self.decide(body, headers)


def _workspace(tmp_path: Path, url: str, *, concurrency: int):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_WAIT_TOKEN", "price": 0.04, "concurrency": concurrency,
        "idempotency_header": "Idempotency-Key", "retries": 3, "backoff": 0.01, "max_backoff": 0.05,
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}',
        "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 4)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    return ws, db


TOKEN = "wb-secret-token-7f3a"   # the provider quotes it back in its 429 (Provider): never kept


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WB_WAIT_TOKEN", TOKEN)
    monkeypatch.setenv("WINBACK_NOW", START)
    gw = HttpGateway(tmp_path / "gateway.jsonl", answer_after_accept={SECOND: 502},
                     idempotency_header="Idempotency-Key", retry_after=str(WAIT))
    with gw:
        yield gw


def _rows(db, campaign: str = "c") -> dict[str, tuple[str, str | None, str | None]]:
    return {phone: (status, reason, error) for phone, status, reason, error in db.execute(
        "SELECT u.phone, s.status, s.reason, s.error FROM sends s JOIN users u ON u.id = s.user_id "
        "JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = ?", [campaign])}


def _waiting(ws) -> bool:
    """The hold the provider asked for is in the ledger — written when the Retry-After came, before the wait."""
    conn = ws.open()
    try:
        return provider_wait(conn, "sms") is not None
    finally:
        conn.close()


def _after_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    later = datetime.fromisoformat(START) + timedelta(seconds=WAIT + 1)
    monkeypatch.setenv("WINBACK_NOW", later.astimezone(UTC).isoformat())


def _resume_sends_exactly_what_was_not_sent(ws, db, provider: Provider, gw: HttpGateway,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _after_the_wait(monkeypatch)
    summary = control.resume(db, ws.config, "c", max_wait=0)
    assert summary.sent == 2, summary
    rows = _rows(db)
    assert {p: r[0] for p, r in rows.items()} == {FIRST: "sent", SECOND: "unknown", THIRD: "sent", FOURTH: "sent"}
    assert provider.asked[SECOND] == 2                     # its request never went a third time
    assert sorted(b["to"] for b in gw.state.accepted) == [FIRST, SECOND, THIRD, FOURTH]   # each taken once


def _launch_with_ctrl_c(db, ws, press_ctrl_c) -> None:
    """A real launch of `c` while `press_ctrl_c` runs in a thread beside it: the launch ends in KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)   # a shell's background job ignores it
    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    try:
        presser.start()
        with pytest.raises(KeyboardInterrupt):
            control.launch(db, ws.config, "c", real=True, max_wait=0)
    finally:
        presser.join()
        signal.signal(signal.SIGINT, previous)


def test_a_pause_during_the_wait_ends_it_at_once_unknown_and_resume_sends_the_rest(gateway, tmp_path, monkeypatch):
    provider = Provider(gateway)
    ws, db = _workspace(tmp_path, gateway.url, concurrency=1)
    outcome = _stopped_while_waiting(ws, db, control.pause)   # as `winback campaign pause c` from another process
    assert outcome.outcome == "paused"
    rows = _rows(db)
    status, reason, error = rows[SECOND]
    # the first request may have arrived: unknown, never given back to be sent again — and it says why
    assert (status, reason) == ("unknown", "no_reply")
    assert "paused" in error and "may have been accepted" in error and f"{WAIT}s" in error, error
    assert rows[FIRST][0] == "sent"
    assert rows[THIRD][:2] == rows[FOURTH][:2] == ("planned", None)   # never handed over: not spent, sent on resume
    assert provider.asked[SECOND] == 2
    _resume_sends_exactly_what_was_not_sent(ws, db, provider, gateway, monkeypatch)


def test_a_cancel_during_the_wait_ends_it_at_once_unknown_and_cancels_the_rest(gateway, tmp_path):
    provider = Provider(gateway)
    ws, db = _workspace(tmp_path, gateway.url, concurrency=1)
    outcome = _stopped_while_waiting(ws, db, lambda db, name: control.cancel(db, name, "operator"))
    assert outcome.outcome == "cancelled"
    rows = _rows(db)
    assert rows[SECOND][0] == "unknown" and "cancelled" in rows[SECOND][2], rows[SECOND]
    assert rows[FIRST][0] == "sent"
    assert rows[THIRD][:2] == rows[FOURTH][:2] == ("cancelled", "cancelled")
    assert provider.asked[SECOND] == 2 and len(gateway.state.accepted) == 2


def _stopped_while_waiting(ws, db, stop) -> Any:
    """Launch c in a thread; once the channel waits for the provider's Retry-After, `stop(db, "c")`; the summary."""
    sender, outcome = launch_in_background(ws, "c")
    try:
        wait_until(lambda: _waiting(ws), "the hold written when the Retry-After came", hang=HANG)
        stop(db, "c")
    finally:
        sender.join(HANG)
    assert not sender.is_alive(), "the provider's wait was not cut short"
    assert "error" not in outcome, outcome
    return outcome["summary"]


def test_ctrl_c_during_the_wait_ends_it_at_once_unknown_and_gives_the_rest_back(gateway, tmp_path, monkeypatch):
    provider = Provider(gateway)
    ws, db = _workspace(tmp_path, gateway.url, concurrency=1)

    cut_short: list[bool] = []

    def press_ctrl_c() -> None:
        try:
            wait_until(lambda: _waiting(ws), "the hold written when the Retry-After came", hang=HANG)
        except AssertionError:
            return   # never interrupt a launch that is not waiting: the test fails on its own
        _thread.interrupt_main()   # what the terminal's Ctrl-C does to the CLI's main thread
        conn = ws.open()
        try:
            wait_until(lambda: _rows(conn)[SECOND][0] != "claimed", "the waiting message recorded", hang=HANG)
            cut_short.append(True)
        except AssertionError:
            cut_short.append(False)
        finally:
            conn.close()

    _launch_with_ctrl_c(db, ws, press_ctrl_c)
    assert cut_short == [True], "Ctrl-C did not cut the provider's wait short"
    rows = _rows(db)
    status, _reason, error = rows[SECOND]
    assert status == "unknown" and "interrupted" in error and "may have been accepted" in error, rows[SECOND]
    assert rows[FIRST][0] == "sent"
    assert rows[THIRD][:2] == rows[FOURTH][:2] == ("planned", None)
    assert provider.asked[SECOND] == 2
    assert model.get(db, "c").status == "running"   # Ctrl-C stops this process, not the campaign
    _resume_sends_exactly_what_was_not_sent(ws, db, provider, gateway, monkeypatch)


def test_the_hold_is_written_when_the_retry_after_comes_so_nobody_calls_the_provider_meanwhile(
        gateway, tmp_path, monkeypatch):
    provider = Provider(gateway, hold_first=True)   # one worker busy with FIRST while the other's retry waits
    ws, db = _workspace(tmp_path, gateway.url, concurrency=2)
    model.create(db, "other", segment="all", channel="sms", template="miss-you", holdout=0)
    sender, outcome = launch_in_background(ws, "c")
    try:
        wait_until(lambda: _waiting(ws), "the hold written when the Retry-After came", hang=HANG)
        # another dispatcher on the same provider (another campaign; a cron run-due): it does not call it
        other = control.launch(db, ws.config, "other", real=True, max_wait=0)
        assert other.outcome == "waiting" and other.sent == 0, other
        assert {s for s, *_ in _rows(db, "other").values()} == {"planned"}
        # the batch's other worker, free again, does not call it either: the rest of the batch is deferred
        provider.release.set()
        wait_until(lambda: {_rows(db)[p][0] for p in (THIRD, FOURTH)} == {"deferred"},
                   "the rest of the batch deferred while the retry waits", hang=HANG)
        control.pause(db, "c", "operator")
    finally:
        provider.release.set()
        sender.join(HANG)
    assert not sender.is_alive(), "the pause did not cut the provider's wait short"
    assert "error" not in outcome, outcome
    rows = _rows(db)
    assert rows[THIRD][:2] == rows[FOURTH][:2] == ("deferred", "provider_wait")
    assert rows[SECOND][0] == "unknown" and rows[FIRST][0] == "sent"
    assert provider.asked == Counter({FIRST: 1, SECOND: 2})   # nobody knocked during the wait
    assert set(provider.campaigns) == {str(model.get(db, "c").id)}
    # the hold says what the provider said, without the token it quoted back; so do the rows
    reason = provider_wait(db, "sms")[1]
    assert "asked to wait 100s" in reason and "THROTTLED" in reason and TOKEN not in reason, reason
    assert not [e for *_, e in _rows(db).values() if e and TOKEN in e]
    _after_the_wait(monkeypatch)
    assert provider_wait(db, "sms") is None   # the hold ends when the provider said, not a wait later


def test_a_pause_during_a_backoff_ends_it_at_once_and_the_throttled_message_goes_back_to_planned(
        tmp_path, monkeypatch):
    """A first request answered 429 "Retry-After: 100" under a max_backoff that allows it is retried after a backoff
    of that length: nothing was taken, so a pause meanwhile ends the backoff and the message is planned again."""
    monkeypatch.setenv("WB_WAIT_TOKEN", "t")
    monkeypatch.setenv("WINBACK_NOW", START)
    with HttpGateway(tmp_path / "gateway.jsonl", retry_after=str(WAIT)) as gw:
        decide, asked = gw.state.decide, Counter()

        def provider(body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
            asked[body.get("to")] += 1
            return (429, {"code": "THROTTLED"}) if body.get("to") == SECOND else decide(body, headers)

        gw.state.decide = provider
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_WAIT_TOKEN", "price": 0.04, "concurrency": 1,
            "retries": 3, "backoff": 0.01, "max_backoff": WAIT * 2}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 4)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        sender, outcome = launch_in_background(ws, "c")
        try:
            wait_until(lambda: asked[SECOND] == 1, "the 429", hang=HANG)
            control.pause(db, "c", "operator")
        finally:
            sender.join(HANG)
        assert not sender.is_alive(), "the pause did not cut the backoff short"
    assert "error" not in outcome and outcome["summary"].outcome == "paused", outcome
    rows = _rows(db)
    assert rows[FIRST][0] == "sent"
    assert rows[SECOND][:2] == rows[THIRD][:2] == rows[FOURTH][:2] == ("planned", None)
    assert asked[SECOND] == 1 and db.execute("SELECT attempts FROM sends s JOIN users u ON u.id = s.user_id "
                                             "WHERE u.phone = ?", [SECOND]).fetchone()[0] == 0


def test_ctrl_c_mid_batch_lets_what_is_on_the_wire_finish_and_gives_the_rest_back(tmp_path, monkeypatch):
    """Ctrl-C stops the launch's batch like a pause does: the message on the wire is recorded as its answer says,
    the ones not handed over go back to planned (before, the whole batch was sent first)."""
    from console.campaigns import handoff

    monkeypatch.setenv("WB_WAIT_TOKEN", "t")
    monkeypatch.setenv("WINBACK_NOW", START)
    stops: list[Any] = []
    hooks = handoff.Handoff.hooks

    def keep_stop(self, recheck):
        given = hooks(self, recheck)
        stops.append(given["stop"])
        return given

    monkeypatch.setattr(handoff.Handoff, "hooks", keep_stop)
    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=1) as gw:   # the 2nd message's answer is held
        ws, db = _workspace(tmp_path, gw.url, concurrency=1)

        def press_ctrl_c() -> None:
            try:
                wait_until(lambda: len(gw.state.accepted) == 2, "the 2nd message on the wire", hang=HANG)
                _thread.interrupt_main()
                wait_until(lambda: stops and stops[-1].is_set(), "the batch stopped", hang=HANG)
            finally:
                gw.state.release.set()   # the 2nd message's answer comes back

        _launch_with_ctrl_c(db, ws, press_ctrl_c)
        rows = _rows(db)
        assert {p: r[0] for p, r in rows.items()} == {FIRST: "sent", SECOND: "sent", THIRD: "planned",
                                                      FOURTH: "planned"}
        assert control.resume(db, ws.config, "c", max_wait=0).sent == 2
    assert sorted(b["to"] for b in gw.state.accepted) == [FIRST, SECOND, THIRD, FOURTH]


def test_a_stop_during_a_signed_providers_backoff_ends_it_and_gives_the_numbers_back(tmp_path, monkeypatch):
    """Aliyun (one request for many numbers) answers a throttling Code: retried after a backoff, which the batch's
    Stop (what the dispatcher sets on a pause, cancel or Ctrl-C) ends at once — nothing was taken, so the numbers
    are given back never attempted (planned again by the hand-off), and no second request goes."""
    from console.channels import open_channel
    from console.channels.base import HOLD_BATCH, SKIPPED, Message, Stop
    from tests.provider_servers import AliyunServer

    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    approved = "尊敬的会员${name}，您的积分将于月底到期，详情见会员中心。拒收请回复R"
    with AliyunServer(key_id="LTAI-test", secret="ali-s3cret", sign_name="品牌", templates={"SMS_100001": approved},
                      code_for={"13800000001": ("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控")}) as srv:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
            "sign_name": "品牌", "endpoint": srv.url, "backoff": WAIT, "max_backoff": WAIT * 2, "retries": 3,
            "content_rules": False}})
        channel = open_channel("sms", load_workspace(cfg).config, dry_run=False)
        batch = [Message(i, i, f"+86138000000{i:02d}", "t", "c", f"<wb.1.1.{i}.x@winback.invalid>",
                         fields={"provider": "aliyun", "provider_template": "SMS_100001",
                                 "template_params": {"name": f"n{i}"}}) for i in (1, 2)]
        stop, results = Stop(), []
        sender = threading.Thread(target=lambda: results.extend(channel.send(batch, stop=stop)))
        sender.start()
        try:
            wait_until(lambda: srv.state.refused, "the throttling answer", hang=HANG)
            stop.set("the campaign was paused")
        finally:
            sender.join(HANG)
            channel.close()
        assert not sender.is_alive(), "the stop did not cut the backoff short"
    assert [(r.status, r.reason, r.attempted) for r in results] == [(SKIPPED, HOLD_BATCH, False)] * 2
    assert len(srv.state.refused) == 1 and srv.state.taken == []


def test_another_campaigns_batch_already_out_stops_calling_the_provider_once_it_asks_to_wait(
        gateway, tmp_path, monkeypatch):
    """Another campaign on the same provider, its batch claimed and with the provider before the Retry-After came
    (a cron run-due mid-send): its next messages are not handed over while the hold is on — deferred
    `provider_wait` until the provider's time, never attempted — instead of calling the provider for the rest of the
    batch. Before, the hold was read only when a dispatcher claimed its next batch."""
    provider = Provider(gateway)
    ws, db = _workspace(tmp_path, gateway.url, concurrency=1)
    model.create(db, "other", segment="all", channel="sms", template="miss-you", holdout=0)
    other_id = str(model.get(db, "other").id)
    go_other = threading.Event()
    decide = provider.decide

    def other_first(body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        if str(body.get("id")).split(".")[1] == other_id:
            go_other.wait(HANG)   # the other batch is out: its first message waits for its answer
            return decide(body, headers)
        return decide(body, headers)

    provider.decide = other_first
    other, other_outcome = launch_in_background(ws, "other")
    sender = outcome = None
    try:
        wait_until(lambda: provider.campaigns[other_id] == 1, "the other campaign's first message out", hang=HANG)
        sender, outcome = launch_in_background(ws, "c")
        wait_until(lambda: _waiting(ws), "the hold written when the Retry-After came", hang=HANG)
        go_other.set()
        other.join(HANG)
        assert not other.is_alive() and "error" not in other_outcome, other_outcome
        control.pause(db, "c", "operator")
    finally:
        go_other.set()
        other.join(HANG)
        if sender is not None:
            sender.join(HANG)
    assert provider.campaigns[other_id] == 1, provider.campaigns   # nothing more from it during the hold
    rows = _rows(db, "other")
    assert rows[FIRST][0] == "sent"
    assert {rows[p][:2] for p in (SECOND, THIRD, FOURTH)} == {("deferred", "provider_wait")}, rows
    assert other_outcome["summary"].outcome == "waiting" and other_outcome["summary"].deferred == 3
    hold = provider_wait(db, "sms")
    assert hold is not None and db.execute(
        "SELECT MIN(s.not_before) FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = 'other' "
        "AND s.status = 'deferred'").fetchone()[0] == hold[0]   # until the provider's time, not a second later
