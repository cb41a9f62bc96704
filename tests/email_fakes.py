"""Fake SendGrid and Mailgun send APIs on 127.0.0.1 that check requests the way the providers do.

FakeSendGrid: POST /v3/mail/send, `Authorization: Bearer <key>`, a JSON body with personalizations (1–1,000, each
with `to`), `from.email`, a subject, `content` (type + value), custom_args values as strings → 202 with an
X-Message-Id header; refusals in SendGrid's shape ({"errors": [{"message", "field", "help"}]}).
FakeMailgun: POST /v3/<domain>/messages, HTTP Basic `api:<key>`, multipart/form-data with from, to, subject and
text or html → 200 {"id": "<…@domain>", "message": "Queued. Thank you."}; 401 "Forbidden" (plain text) for a wrong
key; 400 {"message": …} for a missing field.

Per-recipient answers can be scripted: `answers={"user2@example.com": 429 | 500 | CUT | (400, body)}`.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers import QuietHTTPServer

CUT = "cut"
SENDGRID_KEY = "SG.test-key.for-winback-tests"
MAILGUN_KEY = "key-mailgun-test-0123456789"
MAILGUN_DOMAIN = "mg.example.com"


class _Fake:
    def __init__(self, *, answers: dict[str, Any] | None = None) -> None:
        self.answers = dict(answers or {})
        self.arrived: list[dict[str, Any]] = []     # every well-formed, authenticated request
        self.accepted: list[dict[str, Any]] = []    # those accepted
        self.refused: list[str] = []
        self.headers_seen: list[dict[str, str]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                status, body, extra = fake.answer(self.path, self.headers, raw)
                if status == CUT:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, bytes) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[Any, Any, dict[str, str]]:
        raise NotImplementedError

    def scripted(self, recipient: str, ok: tuple[int, Any, dict[str, str]]) -> tuple[Any, Any, dict[str, str]]:
        planned = self.answers.get(recipient)
        if planned is None:
            with self.lock:
                self.accepted.append(self.arrived[-1])
            return ok
        if planned == CUT:
            return CUT, b"", {}
        if planned == 429:
            return 429, self.error_body("too many requests"), {"Retry-After": "0"}
        if isinstance(planned, int):
            return planned, self.error_body("internal error"), {}
        return planned[0], planned[1], {}

    def error_body(self, message: str) -> Any:
        return {"message": message}

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSendGrid(_Fake):
    def __init__(self, *, answers: dict[str, Any] | None = None, key: str = SENDGRID_KEY) -> None:
        super().__init__(answers=answers)
        self.key = key
        self.count = 0

    def error_body(self, message: str, field: str | None = None) -> Any:
        return {"errors": [{"message": message, "field": field, "help": None}]}

    def refuse(self, status: int, message: str, field: str | None = None) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.refused.append(message)
        return status, self.error_body(message, field), {}

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[Any, Any, dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {self.key}":
            return self.refuse(401, "The provided authorization grant is invalid, expired, or revoked")
        if path != "/v3/mail/send":
            return self.refuse(404, f"no route {path}")
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            return self.refuse(415, "Content-Type must be application/json")
        try:
            body = json.loads(raw)
        except ValueError:
            return self.refuse(400, "Bad Request")
        problem = _sendgrid_problem(body)
        if problem:
            return self.refuse(400, problem[1], problem[0])
        with self.lock:
            self.arrived.append(body)
            self.headers_seen.append(dict(headers.items()))
            self.count += 1
            message_id = f"sg{self.count:06d}xyz"
        recipient = body["personalizations"][0]["to"][0]["email"]
        return self.scripted(recipient, (202, b"", {"X-Message-Id": message_id}))

    def recipients(self) -> list[str]:
        with self.lock:
            return [p["to"][0]["email"] for b in self.arrived for p in b["personalizations"]]


def _sendgrid_problem(body: Any) -> tuple[str | None, str] | None:
    """(field, message) of the first thing SendGrid's API would refuse, else None."""
    if not isinstance(body, dict):
        return None, "Bad Request"
    people = body.get("personalizations")
    if not isinstance(people, list) or not 1 <= len(people) <= 1000:
        return "personalizations", "The personalizations field is required and must have at least one personalization."
    for p in people:
        to = p.get("to") if isinstance(p, dict) else None
        if not isinstance(to, list) or not to or not all(isinstance(t, dict) and "@" in str(t.get("email"))
                                                        for t in to):
            return "personalizations.0.to", "The to array is required for all personalization objects"
        args = p.get("custom_args", {})
        if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
            return "personalizations.0.custom_args", "Custom args values must be strings."
    sender = body.get("from")
    if not isinstance(sender, dict) or "@" not in str(sender.get("email")):
        return "from.email", "The from email does not contain a valid address."
    if not body.get("subject") and not all(p.get("subject") for p in people):
        return "subject", "The subject is required."
    content = body.get("content")
    if not isinstance(content, list) or not content or not all(
            isinstance(c, dict) and c.get("type") and isinstance(c.get("value"), str) and c["value"]
            for c in content):
        return "content", "Unless a valid template_id is provided, the content parameter is required."
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return "headers", "Invalid type. Expected: object of strings."
    return None


class FakeMailgun(_Fake):
    def __init__(self, *, answers: dict[str, Any] | None = None, key: str = MAILGUN_KEY,
                 domain: str = MAILGUN_DOMAIN) -> None:
        super().__init__(answers=answers)
        self.key = key
        self.domain = domain
        self.count = 0

    def refuse(self, status: int, message: str, *, plain: bool = False) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.refused.append(message)
        return status, (message.encode() if plain else {"message": message}), {}

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[Any, Any, dict[str, str]]:
        expected = "Basic " + base64.b64encode(f"api:{self.key}".encode()).decode()
        if headers.get("Authorization") != expected:
            return self.refuse(401, "Forbidden", plain=True)
        if path != f"/v3/{self.domain}/messages":
            return self.refuse(404, f"Domain not found: {path}")
        content_type = headers.get("Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            return self.refuse(400, "expected multipart/form-data")
        form = parse_multipart(content_type, raw)
        for name in ("from", "to", "subject"):
            if not form.get(name):
                return self.refuse(400, f"'{name}' parameter is missing")
        if not form.get("text") and not form.get("html"):
            return self.refuse(400, "Need at least one of 'text' or 'html' parameters specified")
        with self.lock:
            self.arrived.append(form)
            self.count += 1
            message_id = f"<20261125020000.{self.count}.1234@{self.domain}>"
        recipient = email.utils.parseaddr(form["to"])[1]
        return self.scripted(recipient, (200, {"id": message_id, "message": "Queued. Thank you."}, {}))

    def recipients(self) -> list[str]:
        with self.lock:
            return [email.utils.parseaddr(f["to"])[1] for f in self.arrived]


def parse_multipart(content_type: str, raw: bytes) -> dict[str, str]:
    """The fields of a multipart/form-data body (each part named by its Content-Disposition; no files)."""
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw,
                                       policy=email.policy.HTTP)
    form: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        form[str(name)] = payload.decode("utf-8")
    return form
