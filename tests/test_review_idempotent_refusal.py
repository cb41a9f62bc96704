"""Review: a refusal in answer to an idempotent retry does not prove the first request was refused.

The provider takes number 2 and answers 502 (it may have arrived); the retry with the same Idempotency-Key is
answered 409 ("a request with this key is still being processed", as providers that honour keys answer a
concurrent duplicate). The first request is with the provider — the gateway's log shows it — so the row may not
be recorded `failed` (refunded, not counted for caps, never reconciled): it is `unknown`, still spent. Before the
fix http._send_one let the retry's PermanentFailure through as the message's fate.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

SECOND = "+8613800000002"


def test_a_refused_idempotent_retry_of_a_message_that_may_have_arrived_is_unknown(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    from console.campaigns import control, model

    monkeypatch.setenv("WB_REVIEW_TOKEN", "t")
    log = tmp_path / "gateway.jsonl"
    with HttpGateway(log, answer_after_accept={SECOND: 502}) as gw:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_REVIEW_TOKEN", "price": 0.04, "concurrency": 1,
            "idempotency_header": "Idempotency-Key", "retries": 3, "backoff": 0.01, "max_backoff": 0.05,
            "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}',
            "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id"}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 3)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        decide, seen = gw.state.decide, Counter()

        def provider(body, headers=None):
            seen[body.get("to")] += 1
            if body.get("to") == SECOND and seen[SECOND] > 1:
                return 409, {"code": "IDEMPOTENCY_KEY_IN_USE"}
            return decide(body, headers)

        gw.state.decide = provider
        control.launch(db, ws.config, "c", real=True, max_wait=0)

    arrived = Counter(json.loads(line)["to"] for line in log.read_text().splitlines())
    assert arrived[SECOND] == 1 and seen[SECOND] == 2
    status, cost = db.execute("SELECT status, cost FROM sends WHERE user_id = 2").fetchone()
    assert status == "unknown", "the first request may have been delivered: not a refusal"
    spent = db.execute("SELECT spent FROM campaign_runs").fetchone()[0]
    assert spent == pytest.approx(3 * 0.04), "what may have arrived stays spent"
    assert cost == pytest.approx(0.04)
