"""The hand-off hook (`before_each`: is the row still ours, has the person opted out, is the campaign still running;
then stamp handed_at) runs once per message *before it may have reached the provider* — not again on an
idempotent retry.

An idempotent retry repeats a request that may already have arrived (a 5xx or a cut connection after it left),
with the same Idempotency-Key, so the provider cannot deliver it twice. The hook must not run again there: the
message may already be with the person, so an opt-out or a pause committed meanwhile cannot un-send it — a
`skipped/suppressed` or `planned` row would be a ledger that lies (and a refund of money spent). The hook only
adds per-message facts (handed_at is kept from the first stamp; attempts are counted per claim; the channel's
credentials do not change per request), so nothing is lost by not repeating it.

Here the provider takes number 2 and answers 502; while it does, the person opts out (or the operator pauses).
The retry with the same key is answered from the provider's records (deduplicated) — or first 429, "not now",
which must not turn the retry into a fresh, re-checked attempt either.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

SECOND = "+8613800000002"


def _workspace(tmp_path: Path, url: str):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_RETRY_TOKEN", "price": 0.04, "concurrency": 1,
        "idempotency_header": "Idempotency-Key", "retries": 3, "backoff": 0.01, "max_backoff": 0.05,
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}',
        "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 4)
    add_template(db, ws.config, SMS_TEMPLATE)
    return ws, db


def _opt_out(ws) -> None:
    from console.policy.suppression import add_suppression

    conn = ws.open()   # the gateway's thread: its own connection, as an inbound STOP would have
    try:
        add_suppression(conn, ws.config, user="u2", channel="sms", reason="opt_out", source="inbound:sms")
    finally:
        conn.close()


def _pause(ws) -> None:
    from console.campaigns import control

    conn = ws.open()
    try:
        control.pause(conn, "c", reason="operator")
    finally:
        conn.close()


@pytest.mark.parametrize("throttle_the_retry", [False, True], ids=["deduplicated", "429-then-deduplicated"])
@pytest.mark.parametrize("meanwhile", [_opt_out, _pause], ids=["opt-out", "pause"])
def test_an_idempotent_retry_is_not_checked_again_so_what_may_have_arrived_is_recorded_sent(
        tmp_path, monkeypatch, meanwhile, throttle_the_retry):
    from console.campaigns import control, model

    monkeypatch.setenv("WB_RETRY_TOKEN", "t")
    log = tmp_path / "gateway.jsonl"
    with HttpGateway(log, answer_after_accept={SECOND: 502}, idempotency_header="Idempotency-Key") as gw:
        ws, db = _workspace(tmp_path, gw.url)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        decide, seen = gw.state.decide, Counter()

        def provider(body, headers=None):
            if body.get("to") != SECOND:
                return decide(body, headers)
            seen[SECOND] += 1
            if seen[SECOND] == 1:
                answer = decide(body, headers)   # taken and logged; the answer is 502
                meanwhile(ws)                    # committed while the message is with the provider
                return answer
            if seen[SECOND] == 2 and throttle_the_retry:
                return 429, {"code": "THROTTLED"}   # this retry was not processed; the first may have been
            return decide(body, headers)         # the key is known: answered from the provider's records

        gw.state.decide = provider
        control.launch(db, ws.config, "c", real=True, max_wait=0)

    arrived = Counter(json.loads(line)["to"] for line in log.read_text().splitlines())
    assert arrived[SECOND] == 1 and gw.state.deduplicated == 1
    status, reason, handed, cost = db.execute(
        "SELECT status, reason, handed_at IS NOT NULL, cost FROM sends WHERE user_id = 2").fetchone()
    assert (status, reason, handed) == ("sent", None, 1), "it reached the provider: recorded sent, not held back"
    assert cost == pytest.approx(0.04)
    assert seen[SECOND] == (3 if throttle_the_retry else 2)


def test_a_retry_after_a_429_is_a_new_hand_off_and_is_checked_again(tmp_path, monkeypatch):
    """The other side of the rule: a 429 says the request was not processed, so the message is certainly still
    ours to stop — the channel's retry goes through before_each again and an opt-out committed meanwhile holds it."""
    from console.campaigns import control, model

    monkeypatch.setenv("WB_RETRY_TOKEN", "t")
    with HttpGateway(tmp_path / "gateway.jsonl") as gw:
        ws, db = _workspace(tmp_path, gw.url)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        decide, seen = gw.state.decide, Counter()

        def provider(body, headers=None):
            if body.get("to") == SECOND:
                seen[SECOND] += 1
                _opt_out(ws)
                return 429, {"code": "THROTTLED"}
            return decide(body, headers)

        gw.state.decide = provider
        control.launch(db, ws.config, "c", real=True, max_wait=0)
    assert seen[SECOND] == 1 and SECOND not in {m["to"] for m in gw.state.accepted}
    assert tuple(db.execute("SELECT status, reason FROM sends WHERE user_id = 2").fetchone()) == \
        ("skipped", "suppressed")
