"""A campaign cancelled while a request is with the provider, whose answer then gives the row back — a 429 with a
long Retry-After (deferred `provider_wait`), or a refusal of the whole request (planned again): the row ends
`cancelled`, like the batch's rows that were never handed over.

Before, the answer's write put it `deferred` (or `planned`) in a cancelled campaign: cancel had already swept the open
rows, nothing sends a cancelled campaign's rows, so it stayed open for ever — counted as waiting in the tally.
Real parts: a local HTTP gateway that holds the first request until the test has cancelled, the real dispatcher.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from console.campaigns import control, model
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

FIRST = "+8613800000001"
HANG = 60.0   # a bound against a hung test only


class HeldThenThrottled:
    """FIRST's request waits until `answer` is set, then is answered 429 with the gateway's Retry-After."""

    def __init__(self, gw: HttpGateway) -> None:
        self.decide = gw.state.decide
        self.arrived = threading.Event()
        self.answer = threading.Event()
        gw.state.decide = self

    def __call__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        if body.get("to") == FIRST:
            self.arrived.set()
            self.answer.wait(HANG)
            return 429, {"code": "THROTTLED"}
        return self.decide(body, headers)


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WB_CANCEL_TOKEN", "t")
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    with HttpGateway(tmp_path / "gateway.jsonl", retry_after="3600") as gw:
        yield gw


def test_a_row_whose_answer_comes_after_cancel_ends_cancelled_not_deferred(gateway, tmp_path):
    provider = HeldThenThrottled(gateway)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": gateway.url, "token_env": "WB_CANCEL_TOKEN", "price": 0.04, "concurrency": 1,
        "retries": 0, "max_backoff": 1,
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}',
        "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    sender, outcome = launch_in_background(ws, "c")
    try:
        wait_until(provider.arrived.is_set, "FIRST's request with the provider", hang=HANG)
        control.cancel(db, "c", "operator")   # as `winback campaign cancel c` from another process
    finally:
        provider.answer.set()
        sender.join(HANG)
    assert not sender.is_alive() and "error" not in outcome, outcome
    rows = dict(db.execute("SELECT u.phone, s.status FROM sends s JOIN users u ON u.id = s.user_id").fetchall())
    assert rows[FIRST] == "cancelled", rows
    assert set(rows.values()) == {"cancelled"}, rows   # the others were never handed over
    assert db.execute("SELECT COALESCE(SUM(spent), 0) FROM campaign_runs").fetchone()[0] == pytest.approx(0)
