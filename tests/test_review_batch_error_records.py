"""Review: when one message of a batch raises something the channel does not expect (a transport's bug; the csv
transport's ChannelError on a full disk), the messages the other workers already handed over are recorded as the
provider answered them before the dispatcher leaves — not dropped and left `claimed` (then `unknown` after
recovery) although the provider accepted them.

The channel sends with 2 workers; the first message's transport call raises (standing in for the bug: the one
patched part, everything else real — gateway, SQLite, hand-off writer). Before the fix Channel.send raised at once
from its pool's map while the other worker's request was still out: the hand-off writer was closed before that
worker's answer was queued, so a number the gateway accepted stayed `claimed` with no answer recorded.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

HANG = 300.0
FIRST = "+8613800000001"


def test_an_unexpected_error_in_one_message_does_not_drop_the_answers_of_the_others(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    from console.campaigns import control, model
    from console.channels import http

    monkeypatch.setenv("WB_REVIEW_TOKEN", "t")
    # hold every answer until the first message fails: the other worker's request is surely out by then
    failed = threading.Event()
    with HttpGateway(tmp_path / "gateway.jsonl", hold_until=lambda s: failed.is_set(), hold_timeout=HANG) as gw:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_REVIEW_TOKEN", "price": 0.04, "concurrency": 2,
            "batch": 6, "timeout": HANG}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 6)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        real = http.HttpChannel.send_one

        def send_one(self, message):
            if message.to == FIRST:
                # wait until the other worker's request is with the gateway, then fail like a transport's bug
                give_up = time.monotonic() + 60   # a bound: a broken send fails this test instead of hanging it
                while not gw.state.accepted and time.monotonic() < give_up:
                    time.sleep(0.01)
                failed.set()
                gw.state.release.set()   # its answer comes now, while this worker's error leaves the pool
                raise RuntimeError("a bug in the transport")
            return real(self, message)

        monkeypatch.setattr(http.HttpChannel, "send_one", send_one)
        with pytest.raises(RuntimeError, match="a bug in the transport"):
            control.launch(db, ws.config, "c", real=True)
        accepted = {m["to"] for m in gw.state.accepted}

    assert accepted, "the other worker's message reached the gateway"
    sent = {r[0] for r in db.execute("SELECT address FROM sends WHERE status = 'sent'")}
    assert sent == accepted, "what the gateway accepted is recorded sent before the dispatcher leaves"
    # nothing else of the batch left the machine: only the message whose call raised is handed and unanswered
    assert [tuple(r) for r in db.execute("SELECT address FROM sends WHERE status = 'claimed' AND handed_at IS NOT "
                                         "NULL")] == [(FIRST,)]
