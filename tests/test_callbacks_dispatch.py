"""Provider callbacks with the real dispatcher: an `R` posted to the Aliyun reply endpoint stops that number before
the next claim (a following real send does not reach it); a real Twilio launch's MessageSid and status callback
meet in the ledger. All over HTTP on 127.0.0.1."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn
from twilio.request_validator import RequestValidator

from console.campaigns import control, model
from console.inbound.server import BackgroundServer, ThreadedServer
from console.workspace import Workspace
from tests.fake_gateway import Gateway, sms_config
from tests.outcomes_ledger import add_users
from tests.twilio_fake import ACCOUNT, AUTH_TOKEN, FakeTwilio

ALIYUN_TOKEN = "aliyun-cb-token-1234"
PUBLIC = "https://winback.example.com"

TEMPLATE = """
name = "hello"
channel = "sms"
body = "{{ user.name }}，好久不见！拒收请回复R"
"""


def _add_template(cli, tmp_path) -> None:
    (tmp_path / "hello.toml").write_text(TEMPLATE, encoding="utf-8")
    result = cli("--config", str(tmp_path / "winback.toml"), "templates", "add", str(tmp_path / "hello.toml"))
    assert result.exit_code == 0, result.output


@pytest.fixture
def gateway_setup(tmp_path, monkeypatch, cli):
    gateway = Gateway()
    with ThreadedServer(uvicorn.Config(gateway.app, host="127.0.0.1", port=0, log_level="warning")) as gw_url:
        extra = ('unknown_consent = "allow"\n\n[inbound]\nsecret_env = "WB_TEST_SECRET"\n\n'
                 '[inbound.aliyun]\ntoken_env = "WB_TEST_ALIYUN_CB"')
        (tmp_path / "winback.toml").write_text(sms_config(gw_url, extra=extra), encoding="utf-8")
        monkeypatch.setenv("WB_TEST_SECRET", "s3cret")
        monkeypatch.setenv("WB_TEST_ALIYUN_CB", ALIYUN_TOKEN)
        ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
        db = ws.open()
        add_users(db, 20)
        _add_template(cli, tmp_path)
        model.create(db, "spring", segment="all", channel="sms", template="hello", holdout=0)
        with BackgroundServer(ws) as inbound_url:
            yield ws, db, gateway, inbound_url
        db.close()


def test_an_r_posted_to_the_aliyun_reply_endpoint_stops_that_number_before_the_next_claim(gateway_setup):
    ws, db, gateway, inbound = gateway_setup
    calls = []

    def after_first_batch() -> bool:
        calls.append(1)
        return len(calls) > 1

    summary = control.launch(db, ws.config, "spring", real=True, batch_size=5, should_stop=after_first_batch)
    assert summary.sent == 5 and summary.outcome == "interrupted"
    waiting = [r[0] for r in db.execute(
        "SELECT address FROM sends WHERE status = 'planned' ORDER BY id DESC LIMIT 1")][0]
    assert waiting not in gateway.numbers()
    national = waiting.removeprefix("+86")
    response = httpx.post(f"{inbound}/callbacks/aliyun/replies?token={ALIYUN_TOKEN}", json=[
        {"phone_number": national, "content": "R", "sign_name": "某某商城", "dest_code": "01",
         "sequence_id": 9001, "send_time": "2026-11-25 10:05:00"}])
    assert response.status_code == 200 and response.content == '{"code":0,"msg":"接收成功"}'.encode()

    control.resume(db, ws.config, "spring")

    messaged = gateway.numbers()
    assert waiting not in messaged
    assert len(messaged) == 19 and len(set(messaged)) == 19     # everyone else, once
    status, reason = db.execute("SELECT status, reason FROM sends WHERE address = ?", [waiting]).fetchone()
    assert status == "skipped" and reason in ("no_consent", "suppressed")


def test_a_real_twilio_launch_stores_message_sids_and_their_signed_status_callbacks_settle_the_rows(
        tmp_path, monkeypatch, cli):
    monkeypatch.setenv("WB_TWILIO_SID", ACCOUNT)
    monkeypatch.setenv("WB_TWILIO_TOKEN", AUTH_TOKEN)
    with FakeTwilio() as twilio:
        (tmp_path / "winback.toml").write_text(f"""
[channels.sms]
transport = "twilio"
account_sid_env = "WB_TWILIO_SID"
auth_token_env = "WB_TWILIO_TOKEN"
from = "+15005550006"
status_callback = "{PUBLIC}/callbacks/twilio/status"
endpoint = "{twilio.url}"
unknown_consent = "allow"

[inbound]
secret_env = "WB_TEST_SECRET"

[inbound.twilio]
auth_token_env = "WB_TWILIO_TOKEN"
public_url = "{PUBLIC}"
""", encoding="utf-8")
        monkeypatch.setenv("WB_TEST_SECRET", "s3cret")
        ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
        db = ws.open()
        add_users(db, 4)
        _add_template(cli, tmp_path)
        model.create(db, "spring", segment="all", channel="sms", template="hello", holdout=0)
        summary = control.launch(db, ws.config, "spring", real=True)
    assert summary.sent == 4 and twilio.refused == []
    stored = dict(db.execute("SELECT address, provider_id FROM sends").fetchall())
    assert stored == {f["To"]: f"SM{i + 1:032x}" for i, f in enumerate(twilio.accepted)}

    with BackgroundServer(ws) as inbound:
        for form in twilio.accepted:
            callback = urlsplit(form["StatusCallback"])   # what Twilio calls, with winback's message id in wb=
            path = f"{callback.path}?{callback.query}"
            sid = stored[form["To"]]
            status = {"MessageSid": sid, "MessageStatus": "delivered", "To": form["To"], "AccountSid": ACCOUNT}
            signature = RequestValidator(AUTH_TOKEN).compute_signature(form["StatusCallback"], status)
            response = httpx.post(f"{inbound}{path}", data=status, headers={"X-Twilio-Signature": signature})
            assert response.status_code == 200, response.text
            assert dict(parse_qsl(callback.query))["wb"].startswith("wb.")
    assert db.execute("SELECT status, COUNT(*) FROM sends GROUP BY status").fetchall() == [("delivered", 4)]
    db.close()
