"""The inbound server over real HTTP on 127.0.0.1: receipts, replies, one-click unsubscribe, refusals, brakes."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from console.clock import now_ts
from console.inbound import unsubscribe_token
from console.inbound.server import BackgroundServer
from console.workspace import Workspace
from tests.outcomes_ledger import add_campaign, add_sends, add_users

SECRET = "s3cret-for-tests"
LAUNCH = 1_780_000_000

CONFIG = """
[inbound]
secret_env = "WINBACK_TEST_INBOUND_SECRET"
max_body_bytes = 4096

[inbound.receipts.sms]          # an Aliyun-like report
message_id = "biz_id"
provider_id = "sid"
status = "report_status"
error = "err_code"

[inbound.receipts.sms.statuses]
DELIVRD = "delivered"
UNDELIV = "failed"
HARDBOUNCE = "bounced"
SPAM = "complaint"

[inbound.replies.sms]
from = "phone_number"
text = "content"

[brakes]
window = 100
min_sends = 20
complaint_rate = 0.05
"""


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_TEST_INBOUND_SECRET", SECRET)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    (tmp_path / "winback.toml").write_text(CONFIG, encoding="utf-8")
    workspace = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = workspace.open()
    add_users(db, 60)
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 50, "A", sent_at=LAUNCH + 60)
    add_sends(db, cid, 51, 60, "holdout", sent_at=LAUNCH)
    db.close()
    return workspace


@pytest.fixture
def server(ws):
    with BackgroundServer(ws) as url:
        yield url


def state(ws: Workspace) -> dict:
    """Everything a refused request must leave alone."""
    db = ws.open()
    try:
        return {
            "sends": db.execute("SELECT group_concat(status || ':' || COALESCE(error, ''), ',') FROM "
                                "(SELECT status, error FROM sends ORDER BY id)").fetchone()[0],
            "receipts": db.execute("SELECT COUNT(*) FROM receipts").fetchone()[0],
            "suppressions": db.execute("SELECT COUNT(*) FROM suppressions").fetchone()[0],
            "consents": db.execute("SELECT COUNT(*) FROM consents").fetchone()[0],
            "campaign": db.execute("SELECT status, pause_reason FROM campaigns").fetchone(),
        }
    finally:
        db.close()


def tally(ws: Workspace) -> dict[str, int]:
    db = ws.open()
    try:
        return dict(db.execute("SELECT status, COUNT(*) FROM sends WHERE arm != 'holdout' GROUP BY status"))
    finally:
        db.close()


def signed_headers(raw: bytes, *, at: int | None = None) -> dict[str, str]:
    """A timestamped signature: HMAC-SHA256 of `{timestamp}.{body}` (docs/inbound.md)."""
    stamp = str(now_ts() if at is None else at)
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"X-Winback-Timestamp": stamp, "X-Winback-Signature": "sha256=" + mac}


def post_json(url: str, body, *, secret: str | None = SECRET, sign: bool = False) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if sign:
        headers.update(signed_headers(raw))
    elif secret is not None:
        headers["X-Winback-Secret"] = secret
    return httpx.post(url, content=raw, headers=headers)


def test_receipts_update_the_tallies(ws, server):
    batch = [
        {"biz_id": "m1", "report_status": "DELIVRD"},
        {"biz_id": "m2", "report_status": "DELIVRD"},
        {"biz_id": "m3", "report_status": "UNDELIV", "err_code": "MK:0001"},
        {"sid": "p4", "report_status": "HARDBOUNCE"},          # matched on the provider's id
        {"biz_id": "no-such-message", "report_status": "DELIVRD"},
    ]
    response = post_json(f"{server}/receipts/sms", batch)
    assert response.status_code == 200, response.text
    assert response.json()["matched"] == 4 and response.json()["unmatched"] == 1
    # Signed instead of sharing the secret: accepted too.
    response = post_json(f"{server}/receipts/sms", {"biz_id": "m5", "report_status": "delivrd"}, sign=True)
    assert response.status_code == 200, response.text
    assert tally(ws) == {"delivered": 3, "failed": 1, "bounced": 1, "sent": 45}
    db = ws.open()
    assert db.execute("SELECT error FROM sends WHERE user_id = 3").fetchone()[0] == "MK:0001"
    # The hard bounce put the address on the suppression list.
    assert db.execute(
        "SELECT channel, reason FROM suppressions WHERE address = '+8613800000004' AND removed_at IS NULL"
    ).fetchall() == [("sms", "bounce")]
    db.close()


def test_refused_requests_change_nothing(ws, server):
    before = state(ws)
    url = f"{server}/receipts/sms"
    good = [{"biz_id": "m1", "report_status": "DELIVRD"}]
    refusals = {
        "unsigned": post_json(url, good, secret=None),
        "wrong secret": post_json(url, good, secret="guess"),
        "bad signature": httpx.post(url, content=json.dumps(good).encode(),
                                    headers={"X-Winback-Signature": "sha256=" + "0" * 64}),
        "oversized": post_json(url, [{"biz_id": f"m{i}", "report_status": "DELIVRD"} for i in range(200)]),
        "oversized, no length": httpx.post(
            url, content=(b"x" * 1024 for _ in range(8)),
            headers={"X-Winback-Secret": SECRET, "Content-Type": "application/json"}),
        "not JSON": httpx.post(url, content=b"{biz_id: m1", headers={"X-Winback-Secret": SECRET}),
        "unknown status": post_json(url, [{"biz_id": "m1", "report_status": "WHATEVER"}]),
        "second record bad": post_json(url, [*good, {"report_status": "DELIVRD"}]),
        "not an object": post_json(url, ["m1"]),
        "unknown channel": post_json(f"{server}/receipts/fax", good),
        "reply without text": post_json(f"{server}/replies/sms", {"phone_number": "13800000001"}),
        "reply from nonsense": post_json(f"{server}/replies/sms", {"phone_number": "12", "content": "T"}),
        "unsigned reply": post_json(f"{server}/replies/sms", {"phone_number": "13800000001", "content": "T"},
                                    secret=None),
    }
    codes = {name: r.status_code for name, r in refusals.items()}
    assert codes == {
        "unsigned": 401, "wrong secret": 401, "bad signature": 401, "oversized": 413,
        "oversized, no length": 413, "not JSON": 400, "unknown status": 400, "second record bad": 400,
        "not an object": 400, "unknown channel": 404, "reply without text": 400, "reply from nonsense": 400,
        "unsigned reply": 401,
    }
    assert "record 2" in refusals["second record bad"].json()["error"]
    assert state(ws) == before


def test_opt_out_reply_suppresses_the_sender_at_once(ws, server):
    response = post_json(f"{server}/replies/sms", [
        {"phone_number": "13800000005", "content": " 退订 "},
        {"phone_number": "+8613800000006", "content": "HELP"},   # a question, not an opt-out
    ])
    assert response.status_code == 200, response.text
    assert response.json()["opt_outs"] == 1 and response.json()["replies"] == 1
    # Gateways that post HTML forms (Twilio-style) go through the same mapping.
    form = httpx.post(f"{server}/replies/sms", data={"phone_number": "+8613800000008", "content": "ＳＴＯＰ"},
                      headers={"X-Winback-Secret": SECRET})
    assert form.status_code == 200 and form.json()["opt_outs"] == 1, form.text
    db = ws.open()
    from console.policy.suppression import matching_entries

    # The number and the person (docs/policy.md): a new number from the next CRM file does not bring them back.
    assert [(e["reason"], e["address"], e["user_id"]) for e in matching_entries(
        db, user_id=5, address="+8613800000005", channel="sms")] == [
        ("opt_out", "+8613800000005", None), ("opt_out", None, 5)]
    assert [e["user_id"] for e in matching_entries(db, user_id=5, address="+8613900000000", channel="sms")] == [5]
    assert matching_entries(db, user_id=6, address="+8613800000006", channel="sms") == []
    # Counted against the campaign the user last heard from.
    assert db.execute("SELECT kind, send_id IS NOT NULL FROM receipts WHERE user_id = 5").fetchall() == [
        ("opt_out", 1)]
    db.close()


def test_one_click_unsubscribe(ws, server):
    db = ws.open()
    cid = add_campaign(db, "mail", launched_at=LAUNCH, channel="email")
    add_sends(db, cid, 1, 10, "A", sent_at=LAUNCH + 60, channel="email")
    token = unsubscribe_token(db, 7, "email", cid)
    db.close()
    before = state(ws)
    with httpx.Client(follow_redirects=False) as client:
        page = client.get(f"{server}/u/{token}")
        assert page.status_code == 200
        assert '<form method="post"' in page.text and "Unsubscribe" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert client.head(f"{server}/u/{token}").status_code == 200
        assert state(ws) == before, "GET and HEAD must never unsubscribe"

        user, channel, campaign, mac = token.split(".")
        forged = [
            f"{user}.{channel}.{campaign}.{'0' * 32}",
            f"8.{channel}.{campaign}.{mac}",                  # someone else's user id
            f"{user}.sms.{campaign}.{mac}",                   # another channel
            f"{user}.{channel}.{campaign}.{mac[:-1]}",        # truncated
            "../../etc/passwd",
        ]
        for bad in forged:
            response = client.post(f"{server}/u/{bad}", data={"List-Unsubscribe": "One-Click"})
            assert response.status_code in (400, 404), bad
        assert state(ws) == before

        done = client.post(f"{server}/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "location" not in done.headers
        again = client.post(f"{server}/u/{token}", content=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert again.status_code == 200
    db = ws.open()
    rows = db.execute(
        "SELECT channel, reason, address, user_id FROM suppressions WHERE removed_at IS NULL ORDER BY id"
    ).fetchall()
    assert rows == [("email", "opt_out", None, 7), ("email", "opt_out", "user7@example.com", None)]
    assert db.execute("SELECT COUNT(*) FROM receipts WHERE kind = 'unsubscribe'").fetchone()[0] == 1
    db.close()


def test_complaints_pause_a_running_campaign(ws, server):
    complaints = [{"biz_id": f"m{i}", "report_status": "SPAM"} for i in (1, 2, 3)]
    response = post_json(f"{server}/receipts/sms", complaints)
    assert response.status_code == 200, response.text
    assert response.json()["paused"], response.json()
    db = ws.open()
    status, reason = db.execute("SELECT status, pause_reason FROM campaigns WHERE name = 'spring'").fetchone()
    assert status == "paused"
    assert reason.startswith("brake: 3 of the last 50 sends complained")
    audit = db.execute("SELECT details FROM audit WHERE action = 'campaign.brake'").fetchall()
    assert len(audit) == 1 and json.loads(audit[0][0])["complaints"] == 3
    # Complainers are suppressed as people, not only as addresses.
    assert db.execute("SELECT COUNT(*) FROM suppressions WHERE reason = 'complaint' AND user_id IS NOT NULL"
                      ).fetchone()[0] == 3
    db.close()


def test_access_log_never_records_unsubscribe_tokens(ws):
    import logging

    from console.inbound.server import ThreadedServer, _uvicorn_config

    db = ws.open()
    token = unsubscribe_token(db, 7, "email", 1)
    db.close()
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    config = _uvicorn_config(ws, "127.0.0.1", 0, "info")   # what `winback serve` runs: access log on
    keep = Keep()
    logging.getLogger("uvicorn.access").addHandler(keep)
    try:
        with ThreadedServer(config) as url, httpx.Client() as client:
            assert client.get(f"{url}/u/{token}").status_code == 200
            assert client.get(f"{url}/health").status_code == 200
    finally:
        logging.getLogger("uvicorn.access").removeHandler(keep)
    assert any("/u/…" in line for line in lines) and any("/health" in line for line in lines)
    assert not any(token in line or token.rsplit(".", 1)[1] in line for line in lines)


def test_serve_refuses_a_busy_or_impossible_port_in_words(ws):
    import socket

    from typer.testing import CliRunner

    from console.cli import app

    runner = CliRunner()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["--db", str(ws.db_path), "serve", "--port", str(port)])
    assert result.exit_code == 1 and "already running" in " ".join(result.stderr.split())
    result = runner.invoke(app, ["--db", str(ws.db_path), "serve", "--port", "70000"])
    assert result.exit_code == 2 and "1 to 65535" in result.stderr and result.exception.__class__ is SystemExit
