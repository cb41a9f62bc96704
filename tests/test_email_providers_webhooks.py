"""SendGrid's event webhook and Mailgun's webhooks against a real `winback serve` (uvicorn on 127.0.0.1): signatures
computed here independently (a P-256 key generated in the test for SendGrid; HMAC-SHA256 for Mailgun); events
settle the ledger rows, bounces and complaints suppress, unsubscribes opt out; a bad signature, a stale timestamp
or a replayed Mailgun token is refused and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from console.clock import now_ts
from console.inbound.server import BackgroundServer
from console.workspace import Workspace
from tests.outcomes_ledger import add_campaign, add_sends, add_users

LAUNCH = 1_780_000_000
MAILGUN_SIGNING_KEY = "mailgun-signing-key-0123456789"
SENDGRID_URL_TOKEN = "sendgrid-url-token-4321"
PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(PRIVATE_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
WINBACK_ID = "wb.1.1.1.abcdef@winback.invalid"


def _address(i: int) -> str:
    return f"user{i}@example.com"


def _workspace(tmp_path, monkeypatch, sendgrid_section: str) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_TEST_INBOUND_SECRET", "unused-here")
    monkeypatch.setenv("WB_TEST_MAILGUN_KEY", MAILGUN_SIGNING_KEY)
    (tmp_path / "winback.toml").write_text(f"""
[inbound]
secret_env = "WINBACK_TEST_INBOUND_SECRET"

[inbound.sendgrid]
{sendgrid_section}

[inbound.mailgun]
signing_key_env = "WB_TEST_MAILGUN_KEY"
""", encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 10)
    cid = add_campaign(db, "spring", launched_at=LAUNCH, channel="email")
    add_sends(db, cid, 1, 10, "A", sent_at=LAUNCH + 60, channel="email")   # message_id m<i>, provider_id p<i>
    db.execute("UPDATE sends SET message_id = ? WHERE user_id = 1", [f"<{WINBACK_ID}>"])
    db.close()
    return ws


@pytest.fixture
def signed(tmp_path, monkeypatch):
    ws = _workspace(tmp_path, monkeypatch, f'verification_key = "{PUBLIC_KEY}"')
    with BackgroundServer(ws) as url:
        yield ws, url


def statuses(ws: Workspace) -> dict[int, str]:
    db = ws.open()
    try:
        return dict(db.execute("SELECT user_id, status FROM sends").fetchall())
    finally:
        db.close()


def state(ws: Workspace) -> dict:
    db = ws.open()
    try:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("receipts", "suppressions", "consents")} | {"sends": statuses(ws)}
    finally:
        db.close()


def suppressed(ws: Workspace, address: str) -> list[tuple[str, str, str]]:
    db = ws.open()
    try:
        return db.execute("SELECT channel, reason, source FROM suppressions WHERE address = ? AND removed_at IS NULL",
                          [address]).fetchall()
    finally:
        db.close()


# -- SendGrid ------------------------------------------------------------------------------------------------------
def _sendgrid_events() -> list[dict]:
    return [
        {"email": _address(1), "event": "delivered", "sg_event_id": "e1", "winback_id": WINBACK_ID,
         "sg_message_id": "sg1.filterdrecv-1", "timestamp": LAUNCH + 100},
        {"email": _address(2), "event": "bounce", "type": "bounce", "status": "5.1.1",
         "reason": "550 5.1.1 The email account that you tried to reach does not exist", "sg_event_id": "e2",
         "sg_message_id": "p2.filterdrecv-2-0.0"},
        {"email": _address(3), "event": "spamreport", "sg_event_id": "e3", "winback_id": "m3"},
        {"email": _address(4), "event": "dropped", "reason": "Bounced Address", "sg_event_id": "e4",
         "winback_id": "m4"},
        {"email": _address(5), "event": "unsubscribe", "sg_event_id": "e5", "winback_id": "m5"},
        {"email": _address(6), "event": "processed", "sg_event_id": "e6", "winback_id": "m6"},
        {"email": _address(7), "event": "group_unsubscribe", "asm_group_id": 42, "sg_event_id": "e7"},
        {"email": _address(8), "event": "bounce", "type": "blocked", "reason": "greylisted", "sg_event_id": "e8",
         "winback_id": "m8"},
    ]


def _sendgrid_post(url: str, body: bytes, *, timestamp: int | None = None, signature: str | None = None,
                   sign_body: bytes | None = None) -> httpx.Response:
    stamp = str(now_ts() if timestamp is None else timestamp)
    if signature is None:
        raw = PRIVATE_KEY.sign(stamp.encode() + (body if sign_body is None else sign_body),
                               ec.ECDSA(hashes.SHA256()))
        signature = base64.b64encode(raw).decode()
    return httpx.post(f"{url}/callbacks/sendgrid/events", content=body, headers={
        "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp})


def test_signed_sendgrid_events_settle_rows_suppress_bounces_and_complaints_and_opt_out_unsubscribes(signed):
    ws, url = signed
    response = _sendgrid_post(url, json.dumps(_sendgrid_events()).encode())
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "receipts": 5, "opt_outs": 2, "skipped": 0}
    got = statuses(ws)
    assert got[1] == "delivered"            # matched by winback_id (custom_args), <> put back
    assert got[2] == "bounced"              # matched by the start of sg_message_id (= X-Message-Id)
    assert got[4] == "failed"
    assert got[3] == got[5] == got[6] == got[8] == "sent"
    assert suppressed(ws, _address(2)) == [("email", "bounce", "receipt:sendgrid")]
    assert ("email", "complaint", "receipt:sendgrid") in suppressed(ws, _address(3))
    assert suppressed(ws, _address(8)) == []                      # a temporary block is not a hard bounce
    assert [r[1] for r in suppressed(ws, _address(5))] == ["opt_out"]
    assert suppressed(ws, _address(7))[0][2] == "inbound:email (sendgrid group_unsubscribe group 42)"
    # the same events posted again (SendGrid retries) change nothing more
    before = state(ws)
    assert _sendgrid_post(url, json.dumps(_sendgrid_events()).encode()).status_code == 200
    assert state(ws) == before


def test_a_sendgrid_post_with_a_bad_signature_a_tampered_body_or_a_stale_timestamp_is_refused(signed):
    ws, url = signed
    before = state(ws)
    body = json.dumps(_sendgrid_events()).encode()
    other = ec.generate_private_key(ec.SECP256R1())
    stamp = str(now_ts())
    forged = base64.b64encode(other.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    refusals = [
        _sendgrid_post(url, body, signature=forged, timestamp=int(stamp)),       # another key
        _sendgrid_post(url, body, signature="not base64!"),
        _sendgrid_post(url, body, sign_body=body.replace(b"bounce", b"delivered")),   # body changed after signing
        _sendgrid_post(url, body, timestamp=now_ts() - 3600),                   # signed, but an hour old: replay
        httpx.post(f"{url}/callbacks/sendgrid/events", content=body),           # no signature at all
    ]
    assert [r.status_code for r in refusals] == [403] * 5
    assert "stale or replayed" in refusals[3].json()["error"]
    assert state(ws) == before


def test_sendgrid_without_a_verification_key_needs_the_url_token(tmp_path, monkeypatch):
    ws = _workspace(tmp_path, monkeypatch, 'token_env = "WB_TEST_SENDGRID_TOKEN"')
    body = json.dumps(_sendgrid_events()[:1]).encode()
    with BackgroundServer(ws) as url:
        assert httpx.post(f"{url}/callbacks/sendgrid/events", content=body).status_code == 503   # token unset
        monkeypatch.setenv("WB_TEST_SENDGRID_TOKEN", SENDGRID_URL_TOKEN)
        assert httpx.post(f"{url}/callbacks/sendgrid/events?token=wrong", content=body).status_code == 401
        assert statuses(ws)[1] == "sent"
        ok = httpx.post(f"{url}/callbacks/sendgrid/events?token={SENDGRID_URL_TOKEN}", content=body)
        assert ok.status_code == 200, ok.text
    assert statuses(ws)[1] == "delivered"


# -- Mailgun -------------------------------------------------------------------------------------------------------
def _mailgun_body(event: dict, *, token: str, timestamp: int | None = None, key: str = MAILGUN_SIGNING_KEY) -> dict:
    stamp = str(now_ts() if timestamp is None else timestamp)
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": stamp, "token": token, "signature": signature}, "event-data": event}


def _mailgun_events() -> list[dict]:
    return [
        {"event": "delivered", "id": "ev1", "recipient": _address(1), "user-variables": {"winback_id": WINBACK_ID},
         "message": {"headers": {"message-id": "mg1@mg.example.com"}}},
        {"event": "failed", "id": "ev2", "severity": "permanent", "reason": "bounce", "recipient": _address(2),
         "delivery-status": {"code": 550, "message": "5.1.1 No such user"},
         "message": {"headers": {"message-id": "p2"}}},
        {"event": "complained", "id": "ev3", "recipient": _address(3), "user-variables": {"winback_id": "m3"}},
        {"event": "failed", "id": "ev4", "severity": "temporary", "reason": "generic", "recipient": _address(4),
         "user-variables": {"winback_id": "m4"}},
        {"event": "unsubscribed", "id": "ev5", "recipient": _address(5), "user-variables": {"winback_id": "m5"}},
        {"event": "failed", "id": "ev6", "severity": "permanent", "reason": "suppress-unsubscribe",
         "recipient": _address(6), "user-variables": {"winback_id": "m6"}},
    ]


def test_signed_mailgun_events_settle_rows_suppress_and_opt_out(signed):
    ws, url = signed
    for i, event in enumerate(_mailgun_events(), start=1):
        response = httpx.post(f"{url}/callbacks/mailgun/events", json=_mailgun_body(event, token=f"tok{i:048d}"))
        assert response.status_code == 200, response.text
    got = statuses(ws)
    assert got[1] == "delivered" and got[2] == "bounced" and got[6] == "failed"
    assert got[3] == got[4] == got[5] == "sent"       # a temporary failure changes nothing: Mailgun retries
    assert suppressed(ws, _address(2)) == [("email", "bounce", "receipt:mailgun")]
    assert ("email", "complaint", "receipt:mailgun") in suppressed(ws, _address(3))
    assert suppressed(ws, _address(4)) == []
    assert [r[1] for r in suppressed(ws, _address(5))] == ["opt_out"]


def test_a_mailgun_post_with_a_wrong_signature_a_stale_timestamp_or_a_replayed_token_is_refused_406(signed):
    ws, url = signed
    event = _mailgun_events()[1]
    before = state(ws)
    wrong_key = httpx.post(f"{url}/callbacks/mailgun/events",
                           json=_mailgun_body(event, token="a" * 50, key="not-the-signing-key"))
    stale = httpx.post(f"{url}/callbacks/mailgun/events",
                       json=_mailgun_body(event, token="b" * 50, timestamp=now_ts() - 3600))
    unsigned = httpx.post(f"{url}/callbacks/mailgun/events", json={"event-data": event})
    assert [r.status_code for r in (wrong_key, stale, unsigned)] == [406, 406, 406]
    assert "stale or replayed" in stale.json()["error"]
    assert state(ws) == before
    body = _mailgun_body(event, token="c" * 50)
    assert httpx.post(f"{url}/callbacks/mailgun/events", json=body).status_code == 200
    after = state(ws)
    replay = httpx.post(f"{url}/callbacks/mailgun/events", json=body)
    assert replay.status_code == 406 and "used before" in replay.json()["error"]
    assert state(ws) == after


def test_mailgun_without_a_signing_key_is_refused_503(tmp_path, monkeypatch):
    ws = _workspace(tmp_path, monkeypatch, f'verification_key = "{PUBLIC_KEY}"')
    monkeypatch.delenv("WB_TEST_MAILGUN_KEY")
    with BackgroundServer(ws) as url:
        response = httpx.post(f"{url}/callbacks/mailgun/events",
                              json=_mailgun_body(_mailgun_events()[0], token="d" * 50))
    assert response.status_code == 503 and "WB_TEST_MAILGUN_KEY" in response.json()["error"]


# -- end to end: what the transports send is what the webhooks match --------------------------------------------------
def test_a_real_sendgrid_and_mailgun_launch_is_settled_by_their_signed_events(tmp_path, monkeypatch, cli):
    from console.campaigns import control, model
    from tests.email_fakes import MAILGUN_DOMAIN, MAILGUN_KEY, SENDGRID_KEY, FakeMailgun, FakeSendGrid

    monkeypatch.setenv("WB_SENDGRID_KEY", SENDGRID_KEY)
    monkeypatch.setenv("WB_MAILGUN_KEY", MAILGUN_KEY)
    monkeypatch.setenv("WB_TEST_MAILGUN_SIGNING", MAILGUN_SIGNING_KEY)
    monkeypatch.setenv("WINBACK_TEST_INBOUND_SECRET", "unused-here")
    (tmp_path / "mail.toml").write_text('name = "mail"\nchannel = "email"\nsubject = "Hi {{ user.name }}"\n'
                                        'body = "Come back, {{ user.name }}: {{ links.unsubscribe }}"\n',
                                        encoding="utf-8")
    results = {}
    for provider, fake in (("sendgrid", FakeSendGrid()), ("mailgun", FakeMailgun())):
        folder = tmp_path / provider
        folder.mkdir()
        channel = ('transport = "sendgrid"\napi_key_env = "WB_SENDGRID_KEY"\nfrom = "Shop <news@shop.example>"\n'
                   if provider == "sendgrid" else
                   f'transport = "mailgun"\napi_key_env = "WB_MAILGUN_KEY"\ndomain = "{MAILGUN_DOMAIN}"\n'
                   f'from = "Shop <news@{MAILGUN_DOMAIN}>"\n')
        with fake:
            (folder / "winback.toml").write_text(f"""
[channels.email]
{channel}endpoint = "{fake.url}"
unknown_consent = "allow"
unsubscribe_url = "https://winback.example.com/u/{{token}}"

[inbound]
secret_env = "WINBACK_TEST_INBOUND_SECRET"

[inbound.sendgrid]
verification_key = "{PUBLIC_KEY}"

[inbound.mailgun]
signing_key_env = "WB_TEST_MAILGUN_SIGNING"
""", encoding="utf-8")
            ws = Workspace.load(config=folder / "winback.toml", db=folder / "winback.db")
            db = ws.open()
            add_users(db, 3)
            result = cli("--config", str(folder / "winback.toml"), "--db", str(folder / "winback.db"),
                         "templates", "add", str(tmp_path / "mail.toml"))
            assert result.exit_code == 0, result.output
            model.create(db, "spring", segment="all", channel="email", template="mail", holdout=0)
            summary = control.launch(db, ws.config, "spring", real=True)
            db.close()
        assert summary.sent == 3 and fake.refused == []
        with BackgroundServer(ws) as url:
            if provider == "sendgrid":
                events = []
                for body in fake.accepted:
                    person = body["personalizations"][0]
                    kind = "bounce" if person["to"][0]["email"] == _address(2) else "delivered"
                    events.append({"email": person["to"][0]["email"], "event": kind, "sg_event_id": kind + "1",
                                   "sg_message_id": "unknown.filter", **person["custom_args"]})
                response = _sendgrid_post(url, json.dumps(events).encode())
                assert response.status_code == 200, response.text
            else:
                for i, form in enumerate(fake.accepted):
                    bounced = _address(2) in form["to"]
                    event = {"event": "failed" if bounced else "delivered", "severity": "permanent",
                             "reason": "bounce", "id": f"e{i}", "recipient": form["to"],
                             "user-variables": {"winback_id": form["v:winback_id"]}}
                    response = httpx.post(f"{url}/callbacks/mailgun/events",
                                          json=_mailgun_body(event, token=f"t{i:049d}"))
                    assert response.status_code == 200, response.text
        results[provider] = statuses(ws)
    assert results == {"sendgrid": {1: "delivered", 2: "bounced", 3: "delivered"},
                       "mailgun": {1: "delivered", 2: "bounced", 3: "delivered"}}
