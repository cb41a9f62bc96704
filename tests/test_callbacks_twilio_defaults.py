"""Twilio callbacks for an operator who followed docs/channels.md's Twilio recipe: `[channels.sms]` with its own
`auth_token_env` and a `status_callback`, and no `[inbound.twilio]` table (or one without `auth_token_env`).

The auth token is the channel's (the same account signs the callbacks), and the public URL is where the channel's
`status_callback` points: before, winback serve looked only at $TWILIO_AUTH_TOKEN and `[inbound.twilio]
public_url`, so every status callback and STOP reply got 503 — Twilio does not retry a status callback, so the
receipts were lost — and serve said nothing at start.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from console.config import config_from_dict
from console.inbound.callbacks import startup_warnings
from console.inbound.server import BackgroundServer
from console.workspace import Workspace
from tests.outcomes_ledger import add_campaign, add_sends, add_users

TOKEN = "twilio-token-of-the-channel"
PUBLIC = "https://winback.example.com/wb"

CONFIG = f"""
[channels.sms]
transport = "twilio"
account_sid_env = "WB_TW_SID_CB"
auth_token_env = "WB_TW_TOKEN_CB"
from = "+15017122661"
status_callback = "{PUBLIC}/callbacks/twilio/status"
"""


def _post(server: str, path: str, form: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{path}", form)
    return httpx.post(f"{server}{path}", content=urlencode(form).encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


def test_callbacks_use_the_channels_token_and_status_callback_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("WB_TW_TOKEN_CB", TOKEN)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    (tmp_path / "winback.toml").write_text(CONFIG, encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 2)
    cid = add_campaign(db, "spring", launched_at=1_780_000_000)
    add_sends(db, cid, 1, 2, "A", sent_at=1_780_000_060)   # provider_id p<i>
    db.close()
    assert startup_warnings(ws.config) == []
    with BackgroundServer(ws) as server:
        status = _post(server, "/callbacks/twilio/status?wb=x", {"MessageSid": "p1", "MessageStatus": "delivered",
                                                                 "To": "+8613800000001"})
        stop = _post(server, "/callbacks/twilio/inbound", {"MessageSid": "SMin1", "From": "+8613800000002",
                                                           "To": "+15017122661", "Body": "STOP"})
    assert status.status_code == 200, status.text
    assert stop.status_code == 200, stop.text
    db = ws.open()
    assert db.execute("SELECT status FROM sends WHERE provider_id = 'p1'").fetchone()[0] == "delivered"
    assert db.execute("SELECT COUNT(*) FROM suppressions WHERE address = '+8613800000002'").fetchone()[0] >= 1
    db.close()


def test_serve_warns_at_start_when_a_twilio_channels_callbacks_cannot_be_checked(monkeypatch):
    monkeypatch.delenv("WB_TW_TOKEN_CB", raising=False)
    config = config_from_dict({"channels": {"sms": {"transport": "twilio", "auth_token_env": "WB_TW_TOKEN_CB"}}})
    assert startup_warnings(config) == [
        "/callbacks/twilio/… need $WB_TW_TOKEN_CB and [inbound.twilio] public_url (or the channel's status_callback): "
        "refused (503) until both are set"]
