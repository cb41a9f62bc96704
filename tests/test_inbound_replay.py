"""Issue 19.8 (receipts half): a receipt posted twice is recorded once; a signed request carries its time inside
the signature, is refused when stale (401) and when replayed (409). Over real HTTP with `winback serve`'s app."""

from __future__ import annotations

import json

import httpx
import pytest

from console.clock import now_ts
from console.inbound.server import BackgroundServer
from tests.test_inbound_server import SECRET, post_json, signed_headers, ws  # noqa: F401 - the ws fixture


@pytest.fixture
def server(ws):  # noqa: F811 - ws is the imported fixture
    with BackgroundServer(ws) as url:
        yield url


def receipts_of(ws, user_id: int) -> list[tuple]:  # noqa: F811
    db = ws.open()
    try:
        return db.execute("SELECT kind, provider_status FROM receipts WHERE user_id = ? ORDER BY id",
                          [user_id]).fetchall()
    finally:
        db.close()


def test_the_same_receipt_twice_is_recorded_once(ws, server):  # noqa: F811
    receipt = {"biz_id": "m1", "report_status": "DELIVRD"}
    first = post_json(f"{server}/receipts/sms", receipt)
    again = post_json(f"{server}/receipts/sms", [receipt, receipt])   # a retried callback, then a doubled batch
    assert first.status_code == again.status_code == 200, again.text
    assert first.json()["duplicates"] == 0 and again.json()["duplicates"] == 2
    assert receipts_of(ws, 1) == [("delivered", "DELIVRD")]
    # A later, different receipt for the same message is a new one.
    post_json(f"{server}/receipts/sms", {"biz_id": "m1", "report_status": "HARDBOUNCE"})
    assert receipts_of(ws, 1) == [("delivered", "DELIVRD"), ("bounced", "HARDBOUNCE")]


def test_a_signed_request_is_good_once_and_only_while_fresh(ws, server):  # noqa: F811
    url = f"{server}/receipts/sms"
    raw = json.dumps({"biz_id": "m2", "report_status": "DELIVRD"}).encode()
    headers = {"Content-Type": "application/json", **signed_headers(raw)}
    assert httpx.post(url, content=raw, headers=headers).status_code == 200
    replay = httpx.post(url, content=raw, headers=headers)
    assert replay.status_code == 409, replay.text
    # Stale: signed six minutes ago (the window is five); from the future likewise.
    for skew in (-360, 360):
        raw2 = json.dumps({"biz_id": "m3", "report_status": "DELIVRD"}).encode()
        stale = httpx.post(url, content=raw2, headers={"Content-Type": "application/json",
                                                       **signed_headers(raw2, at=now_ts() + skew)})
        assert stale.status_code == 401 and "stale" in stale.json()["error"], stale.text
    # The body alone signed, without the time (the old scheme, replayable forever): refused.
    import hashlib
    import hmac

    bare = {"Content-Type": "application/json",
            "X-Winback-Signature": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()}
    refused = httpx.post(url, content=raw, headers=bare)
    assert refused.status_code == 401 and "x-winback-timestamp" in refused.json()["error"].lower()
    # Changing the time without re-signing breaks the signature.
    forged = {**headers, "X-Winback-Timestamp": str(now_ts() + 1)}
    assert httpx.post(url, content=raw, headers=forged).status_code == 401
    assert receipts_of(ws, 2) == [("delivered", "DELIVRD")] and receipts_of(ws, 3) == []
