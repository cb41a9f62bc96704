"""A fake Twilio Messages API on 127.0.0.1 that checks requests the way Twilio does: HTTP Basic with the account
SID and auth token, the account in the path, a form-encoded body with To, Body and From or MessagingServiceSid.

Answers per recipient can be scripted: `answers={"+8613800000002": (400, {"code": 21211, ...})}`, a status 429
(with Retry-After), 500, or CUT (the request is read, then the connection is closed with no answer).

Message lookup (campaign reconcile): GET …/Messages/{Sid}.json (404 when unknown) and GET …/Messages.json?To=…
list the messages Twilio holds — every one answered 201, and those cut or answered 500 after they arrived (Twilio
may well have queued them), unless `forget` names their number. `status` sets a number's status (default queued).
"""

from __future__ import annotations

import base64
import json
import threading
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from console.clock import now
from tests.servers import QuietHTTPServer

CUT = "cut"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-for-tests"


class FakeTwilio:
    def __init__(self, *, answers: dict[str, Any] | None = None) -> None:
        self.answers = dict(answers or {})
        self.arrived: list[dict[str, str]] = []     # every well-formed, authenticated request (whatever answered)
        self.accepted: list[dict[str, str]] = []    # those answered 201 (queued)
        self.refused: list[str] = []                 # why requests were refused (auth, path, fields)
        self.messages: dict[str, dict[str, Any]] = {}  # sid → what a lookup answers (see the module doc)
        self.forget: set[str] = set()
        self.status: dict[str, str] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode("utf-8")
                status, body = fake.answer(self.path, self.headers, raw)
                if status == CUT:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, body = fake.lookup(urlsplit(self.path), self.headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, headers: Any, raw: str) -> tuple[Any, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{AUTH_TOKEN}".encode()).decode()
        if headers.get("Authorization") != expected:
            return self._refuse(401, 20003, "Authenticate")
        if path != f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json":
            return self._refuse(404, 20404, f"The requested resource {path} was not found")
        if not headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self._refuse(400, 20001, "not a form")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        if not form.get("To") or not form.get("Body"):
            return self._refuse(400, 21604, "A 'To' phone number and a 'Body' are required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._refuse(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        scripted = self.answers.get(form["To"])
        with self.lock:
            self.arrived.append(form)
            n = len(self.arrived)
            if scripted in (None, CUT, 500) and form["To"] not in self.forget:
                self.messages[f"SM{n:032x}"] = {"sid": f"SM{n:032x}", "to": form["To"], "from": form.get("From"),
                                                "body": form["Body"], "date_created": format_datetime(now()),
                                                "error_code": None, "error_message": None}
        if scripted == CUT:
            return CUT, {}
        if scripted == 429:
            return 429, {"code": 20429, "message": "Too Many Requests", "status": 429}
        if scripted == 500:
            return 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
        if isinstance(scripted, tuple):
            return scripted
        with self.lock:
            self.accepted.append(form)
        return 201, {"sid": f"SM{n:032x}", "status": "queued", "to": form["To"], "body": form["Body"]}

    def lookup(self, url: Any, headers: Any) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{AUTH_TOKEN}".encode()).decode()
        if headers.get("Authorization") != expected:
            return self._refuse(401, 20003, "Authenticate")
        base = f"/2010-04-01/Accounts/{ACCOUNT}/Messages"
        with self.lock:
            held = [{**m, "status": self.status.get(m["to"], "queued")} for m in self.messages.values()]
        if url.path == base + ".json":
            to = dict(parse_qsl(url.query)).get("To")
            return 200, {"messages": [m for m in held if to is None or m["to"] == to], "next_page_uri": None}
        sid = url.path.removeprefix(base + "/").removesuffix(".json")
        found = [m for m in held if m["sid"] == sid]
        if url.path.startswith(base + "/") and found:
            return 200, found[0]
        return self._refuse(404, 20404, f"The requested resource {url.path} was not found")

    def _refuse(self, status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.refused.append(f"{status} {code} {message}")
        return status, {"code": code, "message": message, "status": status,
                        "more_info": f"https://www.twilio.com/docs/errors/{code}"}

    def numbers(self) -> list[str]:
        with self.lock:
            return [f["To"] for f in self.accepted]

    def __enter__(self) -> FakeTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
