"""The generic http transport's `encoding` (json | form) and `auth` (bearer | basic | none), against a local server
on 127.0.0.1 that records exactly what arrived; the defaults stay as they were (JSON, Bearer when token_env is set)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

import pytest

from console.channels import open_channel
from console.channels.base import DEFERRED, SENT, ChannelError, Message
from tests.servers import QuietHTTPServer


class Recorder:
    """Answers 200 {"ok": true, "id": "r<n>"}; 401 {"error": "<the Authorization header it got>"} when `require`
    (an exact Authorization value) does not match — a provider echoing the credentials."""

    def __init__(self, require: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recorder.requests.append({"headers": dict(self.headers.items()), "raw": raw})
                given = self.headers.get("Authorization")
                if require is not None and given != require:
                    status, body = 401, {"error": f"bad credentials: {given}"}
                else:
                    status, body = 200, {"ok": True, "id": f"r{len(recorder.requests)}"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def _message(i: int = 1) -> Message:
    return Message(send_id=i, user_id=i, to=f"+8613800000{i:03d}", text="好久不见 & see you", campaign="c",
                   message_id=f"<wb.{i}@winback.invalid>", parts=2, fields={"params": {"name": "李"}})


def _send(settings: dict[str, Any], message: Message | None = None):
    channel = open_channel("sms", {"sms": {"transport": "http", "retries": 0, "concurrency": 1, **settings}},
                           dry_run=False)
    try:
        return channel.send([message or _message()])[0]
    finally:
        channel.close()


def test_the_defaults_are_unchanged_a_json_body_and_bearer_only_with_token_env(monkeypatch):
    monkeypatch.setenv("WB_HTTP_TOKEN", "tok-123456")
    with Recorder() as server:
        plain = _send({"url": server.url})
        bearer = _send({"url": server.url, "token_env": "WB_HTTP_TOKEN"})
    assert plain.status == bearer.status == SENT
    first, second = server.requests
    assert first["headers"]["Content-Type"] == "application/json" and "Authorization" not in first["headers"]
    assert json.loads(first["raw"]) == {"to": "+8613800000001", "text": "好久不见 & see you", "id": "<wb.1@winback.invalid>"}
    assert second["headers"]["Authorization"] == "Bearer tok-123456"


def test_a_form_encoded_body_carries_an_api_key_from_the_environment_in_a_field(monkeypatch):
    monkeypatch.setenv("WB_SMS_API_KEY", "apikey-abcdef")
    body = ('{"apikey": "${WB_SMS_API_KEY}", "mobile": "{{ to }}", "text": "{{ text }}", "parts": "{{ parts }}", '
            '"params": "{{ params }}", "missing": "{{ nothing }}"}')
    with Recorder() as server:
        result = _send({"url": server.url, "encoding": "form", "body": body, "provider_id_field": "id"})
    assert result.status == SENT and result.provider_id == "r1"
    [request] = server.requests
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request["headers"]
    assert dict(parse_qsl(request["raw"].decode(), keep_blank_values=True)) == {
        "apikey": "apikey-abcdef", "mobile": "+8613800000001", "text": "好久不见 & see you", "parts": "2",
        "params": '{"name": "李"}', "missing": ""}


def test_basic_auth_sends_the_credentials_and_a_refusal_echoing_them_is_scrubbed(monkeypatch):
    monkeypatch.setenv("WB_GW_USER", "gateway-user")
    monkeypatch.setenv("WB_GW_PASS", "gateway-pass-987")
    expected = "Basic " + base64.b64encode(b"gateway-user:gateway-pass-987").decode()
    with Recorder(require=expected) as server:
        ok = _send({"url": server.url, "auth": "basic", "username_env": "WB_GW_USER", "password_env": "WB_GW_PASS"})
    assert ok.status == SENT
    monkeypatch.setenv("WB_GW_PASS", "wrong-pass-4321")
    with Recorder(require=expected) as server:
        refused = _send({"url": server.url, "auth": "basic", "username_env": "WB_GW_USER",
                         "password_env": "WB_GW_PASS"})
    # refused unread (401): nothing sent — planned again and the run paused, not failed (test_http_auth_refused.py)
    assert refused.status == DEFERRED and refused.stop_run and "HTTP 401" in (refused.error or "")
    sent_header = base64.b64encode(b"gateway-user:wrong-pass-4321").decode()
    assert sent_header not in (refused.error or "") and "[secret]" in (refused.error or "")


def test_auth_none_sends_no_authorization_even_with_other_headers(monkeypatch):
    with Recorder() as server:
        result = _send({"url": server.url, "auth": "none", "headers": {"X-Team": "ops"}})
    assert result.status == SENT
    assert "Authorization" not in server.requests[0]["headers"]
    assert server.requests[0]["headers"]["X-Team"] == "ops"


@pytest.mark.parametrize(("settings", "words"), [
    ({"encoding": "xml"}, "encoding = 'xml'; choose one of json, form"),
    ({"auth": "digest"}, "auth = 'digest'; choose one of bearer, basic, none"),
    ({"auth": "bearer"}, "needs token_env"),
    ({"auth": "basic"}, "needs username_env and password_env"),
    ({"auth": "none", "token_env": "WB_HTTP_TOKEN"}, "token_env is set but auth = 'none'"),
    ({"encoding": "form", "body": '{"to": {"number": "{{ to }}"}}'}, "flat JSON object"),
    ({"body": '{"key": "${WB_NOT_SET_ANYWHERE}"}'}, "WB_NOT_SET_ANYWHERE is not set"),
])
def test_contradictory_or_unknown_options_are_refused_when_the_channel_opens(monkeypatch, settings, words):
    monkeypatch.setenv("WB_HTTP_TOKEN", "tok-123456")
    monkeypatch.delenv("WB_NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ChannelError) as caught:
        open_channel("sms", {"sms": {"transport": "http", "url": "http://127.0.0.1:9/send", **settings}},
                     dry_run=False)
    assert words in str(caught.value)
