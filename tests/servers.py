"""Real servers on 127.0.0.1 for the channel tests and benchmarks: an HTTP gateway and an SMTP server.

The HTTP gateway logs every request it accepts to a file (one JSON line, written before it answers), so tests
can prove from the receiver's own records what arrived. Run as a script for a server in its own process:

    python tests/servers.py http --log requests.jsonl --port-file port.txt [--throttle-every 5]
    python tests/servers.py smtp --log mails.jsonl --port-file port.txt
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CUT = -1   # answer_after_accept: close the connection without a reply
HANG_UP_WAIT = 120.0   # a silent reply's longest wait for the client to give up


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when the client hung up first.

    Tests make clients time out on purpose (a stalled provider); the handler's late reply then meets a closed
    socket. socketserver prints that to sys.stderr from the handler's thread, and a CLI test running at that
    moment (typer's CliRunner captures sys.stderr) would find the traceback inside its --json output.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys
        if isinstance(sys.exc_info()[1], ConnectionError):   # BrokenPipe, ConnectionReset: the client left
            return
        super().handle_error(request, client_address)


class GatewayState:
    def __init__(self, log_path: Path | None, *, throttle_every: int = 0, refuse: set[str] | None = None,
                 server_error_every: int = 0, silent: set[str] | None = None, hold_after: int | None = None,
                 hold_until: Callable[[GatewayState], bool] | None = None, hold_timeout: float = 300.0,
                 answer_after_accept: dict[str, int] | None = None, raw_reply: dict[str, bytes] | None = None,
                 idempotency_header: str | None = None, echo_headers: bool = False, retry_after: str = "0"):
        self.log_path = log_path
        self.fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if log_path else None
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []
        self.throttled: list[str] = []
        self.requests = 0
        self.seen_once: set[str] = set()
        self.throttle_every = throttle_every
        self.server_error_every = server_error_every
        self.refuse = refuse or set()
        self.silent = silent or set()   # accepted and logged, but the reply never comes (read timeout)
        self.headers: list[dict[str, str]] = []
        # Holding replies lets a test act on a condition instead of a clock: with hold_after=N, requests after the
        # Nth accepted one are logged but not answered until `release` is set (a batch stays in flight for sure);
        # with hold_until, no reply goes out until the predicate holds (e.g. requests from two campaigns came).
        self.hold_after = hold_after
        self.hold_until = hold_until
        self.hold_timeout = hold_timeout
        self.release = threading.Event()
        self.campaigns: set[str] = set()   # campaign ids seen in winback Message-IDs (<wb.CAMPAIGN.RUN.USER...>)
        # A provider behind a proxy: the message is taken and logged, then the answer for that number is this
        # status (502, 504 …) — or CUT: the connection is closed with no reply at all.
        self.answer_after_accept = answer_after_accept or {}
        self.raw_reply = raw_reply or {}   # number → the exact 200 reply body sent after accepting its message
        # A provider that honours an idempotency key: a request whose key it already took is answered 200 with the
        # first request's id and not taken again (counted in `deduplicated`).
        self.idempotency_header = idempotency_header
        self.keys: dict[str, str] = {}
        self.deduplicated = 0
        self.echo_headers = echo_headers   # a refusal quotes the request's headers back (Authorization too)
        self.retry_after = retry_after     # the Retry-After of a 429: seconds, or an HTTP-date

    def decide(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """429 the first attempt of every Nth message; 400 for refused numbers; else accept and log."""
        status, reply = self._decide(body, headers)
        if self.echo_headers and status != 200:
            reply = {"authorization": (headers or {}).get("Authorization"), **reply}
        return status, reply

    def _decide(self, body: dict[str, Any], headers: dict[str, str] | None) -> tuple[int, dict[str, Any]]:
        key = str(body.get("id"))
        with self.lock:
            idem = (headers or {}).get(self.idempotency_header or "") if self.idempotency_header else None
            if idem is not None and idem in self.keys:
                self.deduplicated += 1
                return 200, {"code": "OK", "data": {"message_id": self.keys[idem]}}
            if key.startswith("<wb."):
                self.campaigns.add(key.split(".")[1])
            self.requests += 1
            n = self.requests
            first_attempt = key not in self.seen_once
            self.seen_once.add(key)
            if self.throttle_every and first_attempt and n % self.throttle_every == 0:
                self.throttled.append(key)
                return 429, {"code": "THROTTLED"}
            if self.server_error_every and first_attempt and n % self.server_error_every == 1:
                self.throttled.append(key)
                return 503, {"code": "BUSY"}
            if body.get("to") in self.refuse:
                return 400, {"code": "INVALID_NUMBER"}
            self.accepted.append(body)
            provider_id = f"p-{len(self.accepted)}"
            if self.fd is not None:   # "at": when it arrived, for rate checks (a duration, never a date)
                os.write(self.fd, (json.dumps({**body, "provider_id": provider_id, "at": time.monotonic()},
                                              ensure_ascii=False) + "\n")
                         .encode("utf-8"))
            if idem is not None:
                self.keys[idem] = provider_id
            after = self.answer_after_accept.get(str(body.get("to")))
            if after is not None:
                return after, {"code": "BAD_GATEWAY"}
            return (0 if body.get("to") in self.silent else 200), {"code": "OK", "data": {"message_id": provider_id}}

    def hold(self) -> None:
        """Wait before answering while a hold is on (see __init__); returns at once otherwise."""
        with self.lock:
            if self.release.is_set():
                return
            if self.hold_until is not None:
                if self.hold_until(self):
                    self.release.set()
                    return
            elif self.hold_after is None or len(self.accepted) <= self.hold_after:
                return
        self.release.wait(self.hold_timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: the client's pooled connections are reused
    state: GatewayState

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK stall each reply 40 ms
        import socket

        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            status, reply = 400, {"code": "BAD_JSON"}
        else:
            with self.state.lock:
                self.state.headers.append(dict(self.headers))
            status, reply = self.state.decide(body, dict(self.headers))
            self.state.hold()
            if status == 0:   # took it, then went quiet: no reply until the client gives up and hangs up
                # (waits for that, not for a fixed time that a loaded machine could make shorter than the
                # client's read timeout; the bound only frees the thread of a client that never gives up)
                self.connection.settimeout(HANG_UP_WAIT)
                with suppress(OSError):
                    self.connection.recv(1)   # b"" once the client closed its end
                self.close_connection = True
                return
            if status == CUT:   # took it, then the connection dropped before any reply
                self.close_connection = True
                return
        data = json.dumps(reply).encode()
        if status == 200 and isinstance(body, dict) and body.get("to") in self.state.raw_reply:
            data = self.state.raw_reply[body["to"]]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", self.state.retry_after)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class HttpGateway:
    """A threading HTTP server on 127.0.0.1 in this process: `with HttpGateway(...) as gw: gw.url`."""

    def __init__(self, log_path: Path | None = None, **options: Any):
        self.state = GatewayState(log_path, **options)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = QuietHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HttpGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message; `temp_fail_first` answers 451 to the first
    DATA for those recipients (a real SMTP 4xx)."""

    def __init__(self, *, temp_fail_first: set[str] | None = None, log_path: Path | None = None,
                 starttls_cert: tuple[Path, Path] | None = None, logins: dict[str, str] | None = None,
                 refuse_rcpt: set[str] | None = None, implicit_tls_cert: tuple[Path, Path] | None = None,
                 garble_after_data: set[str] | None = None, drop_after_data: set[str] | None = None,
                 refuse_sender: set[str] | None = None):
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[dict[str, Any]] = []
        self.temp_fail_first = set(temp_fail_first or ())
        self.failed_once: set[str] = set()
        self.lock = threading.Lock()
        self.fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if log_path else None
        sink = self

        refused = set(refuse_rcpt or ())
        # After taking a message for these recipients: a reply line too long for smtplib to read, or the
        # connection closed with no reply at all.
        garble, drop = set(garble_after_data or ()), set(drop_after_data or ())

        refused_senders = set(refuse_sender or ())

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
                if address in refused_senders:   # as a relay refuses a From its login may not use
                    return "553 5.7.1 Sender address rejected: not owned by user"
                envelope.mail_from = address
                envelope.mail_options.extend(mail_options)
                return "250 OK"

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if address in refused:
                    return "550 5.1.1 no such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
                rcpt = envelope.rcpt_tos[0]
                with sink.lock:
                    if rcpt in sink.temp_fail_first and rcpt not in sink.failed_once:
                        sink.failed_once.add(rcpt)
                        return "451 4.3.0 try again later"
                    record = {"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content.decode("utf-8", "replace")}
                    sink.messages.append(record)
                    if sink.fd is not None:
                        os.write(sink.fd, (json.dumps({"to": record["to"]}) + "\n").encode())
                if rcpt in garble:
                    return "250 " + "x" * 9000
                if rcpt in drop:
                    server.transport.close()
                return "250 OK"

        self.port = free_port()
        self.logged_in: list[str] = []
        self.tls_sessions = 0
        kwargs: dict[str, Any] = {}
        if starttls_cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, starttls_cert))
            kwargs.update(tls_context=context, require_starttls=True)
        if implicit_tls_cert:   # TLS from the first byte (port 465 style), not STARTTLS
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, implicit_tls_cert))
            kwargs.update(ssl_context=context)
        if logins is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                login, password = auth_data.login.decode(), auth_data.password.decode()
                ok = logins.get(login) == password
                if ok:
                    sink.logged_in.append(login)
                    sink.tls_sessions += int(session.ssl is not None)
                return AuthResult(success=ok)

            kwargs.update(authenticator=authenticator, auth_required=True)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["http", "smtp"])
    parser.add_argument("--log", type=Path)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--throttle-every", type=int, default=0)
    args = parser.parse_args()
    if args.kind == "http":
        server = HttpGateway(args.log, throttle_every=args.throttle_every)
        server.__enter__()
        port = server.port
    else:
        sink = SmtpSink(log_path=args.log).__enter__()
        port = sink.port
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.replace(args.port_file)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()


class DropOnDataSmtp:
    """A bare SMTP server (socketserver) that drops the connection on the first DATA command for each recipient —
    before its 354, so nothing was handed over — and takes the message normally on the next try. aiosmtpd has no
    hook before 354. `messages` holds (recipient, data) of what it took."""

    def __init__(self) -> None:
        import socketserver

        self.messages: list[tuple[str, bytes]] = []
        self.dropped: list[str] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 127.0.0.1 ready\r\n")
                rcpt = ""
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250 127.0.0.1\r\n")
                    elif verb == b"RCPT":
                        rcpt = line.decode().split(":", 1)[1].strip().strip("<>")
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == b"DATA":
                        with sink.lock:
                            first = rcpt not in sink.dropped
                            if first:
                                sink.dropped.append(rcpt)
                        if first:
                            return   # connection closed: the client never got its 354
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b"".join(iter(self.rfile.readline, b".\r\n"))
                        with sink.lock:
                            sink.messages.append((rcpt, data))
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:   # MAIL, RSET, NOOP
                        self.wfile.write(b"250 OK\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DropOnDataSmtp:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
