"""Email over SMTP: pooled connections (one per worker), STARTTLS or TLS, credentials from environment variables.

Each message is multipart (plain text, plus HTML when the template has it) and carries RFC 2369/8058
`List-Unsubscribe` + `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, and a Message-ID derived from the
campaign and the user, so a provider (and the receipts endpoint) can tie it back to the ledger.
SMTP 4xx replies, and connections lost before the server said 354 to DATA, are temporary (retried, then deferred):
nothing was handed over. 5xx replies are permanent. Once the message itself was sent, a lost connection, a timeout
or a reply that cannot be read is `unknown` (the server may have taken the message: never resent). Credentials are
checked when the channel opens and scrubbed from every error text.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import smtplib
import ssl
import threading
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from console.channels.base import (
    AmbiguousFailure,
    Channel,
    ChannelError,
    ChannelSettingError,
    Message,
    PermanentFailure,
    TemporaryFailure,
    Unreachable,
)
from console.channels.recipient import display_name, to_header
from console.secrets import env_secret, scrub

_LEADING_DOT = re.compile(rb"(?m)^\.")   # RFC 5321 4.5.2: a line starting with "." gets another one


class SmtpChannel(Channel):
    transport = "smtp"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        s = self.settings
        self.host = str(s.get("host", "127.0.0.1"))
        self.security = str(s.get("security", "starttls")).lower()
        if self.security not in ("none", "starttls", "tls"):
            raise ChannelSettingError(f"security = {self.security!r}; choose none, starttls or tls", key="security",
                                      problem=f"{s.get('security')!r}; choose none, starttls or tls")
        try:
            self.port = int(s.get("port", {"none": 25, "starttls": 587, "tls": 465}[self.security]))
        except (TypeError, ValueError):   # int("587a"): a traceback before
            raise ChannelSettingError(f"[channels.{name}] port = {s.get('port')!r} is not a port number", key="port",
                                      problem=f"{s.get('port')!r} is not a port number (e.g. 587)") from None
        self.timeout = float(s.get("timeout", 30))
        self.sender = str(s.get("from") or "")
        if not self.sender:
            raise ChannelSettingError(f"[channels.{name}] needs from = \"Name <address>\"", key="from",
                                      missing="from" not in s, problem=f"{'missing' if 'from' not in s else 'empty'}: "
                                                                       "write from = \"Name <address>\"")
        self.where = f"[channels.{name}]"
        self.username = env_secret(s, "username_env", self.where)
        self.password = env_secret(s, "password_env", self.where)
        self.verify_tls = bool(s.get("verify_tls", True))
        self.mailto = s.get("unsubscribe_mailto")
        require_unsubscribe(s, name)
        sender_name, self._envelope_from = _sender_address(self.sender, name)
        self._from_header = formataddr((sender_name, self._envelope_from), charset="utf-8")
        self._connections: list[smtplib.SMTP] = []
        self._conn_lock = threading.Lock()

    # One connection per worker thread, reused across batches: the pool.
    def _connection(self) -> smtplib.SMTP:
        conn = getattr(self._local, "smtp", None)
        if conn is not None:
            return conn
        context = ssl.create_default_context()
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            if self.security == "tls":
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    self._starttls(conn, context)
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelError(self.scrub(f"SMTP login to {self.host}:{self.port} refused: {exc}")) from None
        except smtplib.SMTPNotSupportedError as exc:
            # a server without login (a local relay, aiosmtpd): credentials were configured but cannot be used
            raise ChannelError(
                f"{self.where} username_env/password_env are set, but the SMTP server at {self.host}:{self.port} "
                f"does not offer AUTH{'' if self.security != 'none' else ' (without TLS)'}: remove both for a "
                "server without login, or use the server's authenticated port and security") from exc
        except ssl.SSLCertVerificationError as exc:
            raise ChannelError(f"the TLS certificate of {self.host}:{self.port} is not trusted ({exc.verify_message}): "
                               f"fix the server's certificate, or for a test server set verify_tls = false in "
                               f"{self.where}") from None
        except ssl.SSLError as exc:
            if self.security != "tls":
                raise Unreachable(self.scrub(f"cannot connect to {self.host}:{self.port}: {exc}")) from None
            # a plain-text server answering a TLS hello: smtplib says only "WRONG_VERSION_NUMBER"
            raise ChannelError(
                f"the SMTP server at {self.host}:{self.port} did not answer in TLS ({exc.reason or exc}), which "
                f"{self.where} security = \"tls\" expects (a port such as 465): for its STARTTLS port (587) set "
                "security = \"starttls\", for a local server without TLS security = \"none\"") from None
        except (OSError, smtplib.SMTPException) as exc:
            # no connection, so no message handed over: certainly not sent
            raise Unreachable(self.scrub(f"cannot connect to {self.host}:{self.port}: {exc}")) from None
        self._local.smtp = conn
        with self._conn_lock:
            self._connections.append(conn)
        return conn

    def _starttls(self, conn: smtplib.SMTP, context: ssl.SSLContext) -> None:
        """STARTTLS, or a ChannelError saying the server offers none (a local relay such as aiosmtpd): smtplib's
        SMTPNotSupportedError would otherwise read as the missing AUTH below."""
        conn.ehlo_or_helo_if_needed()
        if not conn.has_extn("starttls"):
            conn.close()
            raise ChannelError(
                f"the SMTP server at {self.host}:{self.port} does not offer STARTTLS, which {self.where} security "
                f"asks for{' (the default)' if 'security' not in self.settings else ''}: set security = \"none\" "
                "for a local server without TLS, security = \"tls\" for a TLS port such as 465, or the server's "
                "STARTTLS port (587)")
        conn.starttls(context=context)

    def verify(self) -> None:
        """Connect, STARTTLS, log in and offer the sender once now, so a wrong password or a `from` the server will
        not take stops a launch before anything is written (else every message would be refused, one by one)."""
        try:
            conn = self._connection()
        except TemporaryFailure as exc:   # unreachable: a wrong host or port is the usual cause
            raise ChannelError(f"{exc}: check host and port in {self.where} of winback.toml (is the server "
                               "running?); nothing was sent") from exc
        try:
            conn.ehlo_or_helo_if_needed()
            code, text = conn.mail(self._envelope_from)
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop_connection()   # the sends reopen it; what went wrong there is theirs to say
            return
        if code >= 500:   # 4xx is "later": the sends retry it
            words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            raise ChannelError(self.scrub(
                f"the SMTP server at {self.host}:{self.port} refuses the sender {self._envelope_from} ({code} {words}): "
                f"check {self.where} from — an address (or domain) this server or its login may send from"))

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if conn is not None:
            with self._conn_lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def build(self, m: Message) -> bytes:
        """The MIME message for one recipient, as bytes ready for DATA.

        Written by hand rather than through email.message.EmailMessage, which costs ~2 ms per message — more than
        the SMTP round trips. Non-ASCII headers are RFC 2047 encoded words; bodies are UTF-8 in base64.
        """
        to = to_header(display_name(m.fields.get("name")), m.to or "")
        date = format_datetime(m.fields["date"]) if "date" in m.fields else _now_header()
        headers = [
            ("From", self._from_header),
            ("To", to),
            ("Subject", _encode_header(m.subject or "", linesep="\r\n")),
            ("Date", date),
            ("Message-ID", m.message_id),
            ("MIME-Version", "1.0"),
        ]
        links = []
        if m.unsubscribe_url:
            links.append(f"<{m.unsubscribe_url}>")
        if self.mailto:
            links.append(f"<mailto:{self.mailto}?subject=unsubscribe>")
        if links:
            headers.append(("List-Unsubscribe", ", ".join(links)))
        if m.unsubscribe_url:
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        headers.append(("X-Winback-Campaign", _encode_header(m.campaign, linesep="\r\n")))
        text_part = _part("text/plain", m.text)
        if m.html:
            boundary = "=_winback_" + hashlib.blake2b(m.message_id.encode(), digest_size=12).hexdigest()
            headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
            body = (f"--{boundary}\r\n{text_part}\r\n--{boundary}\r\n{_part('text/html', m.html)}\r\n"
                    f"--{boundary}--\r\n")
            head = "".join(f"{k}: {v}\r\n" for k, v in headers)
            return (head + "\r\n" + body).encode("ascii")
        head = "".join(f"{k}: {v}\r\n" for k, v in headers)
        return (head + text_part).encode("ascii")

    def scrub(self, text: str) -> str:
        """An error text without the credentials."""
        return scrub(text, (self.username, self.password))

    def send_one(self, message: Message) -> str | None:
        try:
            return self._send_one(message)
        except (TemporaryFailure, PermanentFailure, AmbiguousFailure) as exc:
            exc.args = (self.scrub(str(exc)), *exc.args[1:])
            raise exc from None

    def _send_one(self, message: Message) -> str | None:
        """MAIL, RCPT, DATA one step at a time, so that a lost connection is classified by where it happened:
        before the server's 354 nothing was handed over (retry); once the message went, the server may have taken
        it (unknown)."""
        data = self.build(message)
        try:
            conn = self._connection()
        except ChannelError as exc:   # e.g. credentials changed mid-run: nothing went out, try again later
            raise TemporaryFailure(str(exc)) from exc
        try:
            conn.ehlo_or_helo_if_needed()
            code, text = conn.mail(self._envelope_from)
            if code != 250:
                self._refused(code, text)
            code, text = conn.rcpt(message.to or "")
            if code not in (250, 251):
                self._refused(code, text)
            conn.putcmd("data")
            code, text = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            # disconnected, timed out, or a reply smtplib cannot read (a line too long): nothing was handed over
            self._drop_connection()
            raise TemporaryFailure(f"connection lost before the message was sent: {exc}") from exc
        if code != 354:                # DATA itself refused: nothing was handed over
            self._refused(code, text)
        try:
            code, text = self._send_data(conn, data)
        except (smtplib.SMTPException, OSError) as exc:
            # the message went (or part of it): the server may have taken it — never resent
            self._drop_connection()
            raise AmbiguousFailure(f"connection lost after the message was sent: {exc}") from exc
        if code != 250:
            self._refused(code, text)
        return message.message_id

    @staticmethod
    def _send_data(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
        """The message after the server's 354, dot-stuffed and ended as smtplib.SMTP.data() does; its reply."""
        q = _LEADING_DOT.sub(b"..", data)
        if not q.endswith(b"\r\n"):
            q += b"\r\n"
        conn.send(q + b".\r\n")
        return conn.getreply()

    def _refused(self, code: int, text: bytes | str) -> None:
        """The server said no: end the transaction (or the connection, for 4xx) and raise what it means."""
        if code >= 500:
            self._reset()
        else:
            self._drop_connection()
        self._classify(code, text)

    def _reset(self) -> None:
        conn = getattr(self._local, "smtp", None)
        try:
            if conn is not None:
                conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop_connection()

    @staticmethod
    def _classify(code: int, text: bytes | str) -> None:
        words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if 400 <= code < 500:
            raise TemporaryFailure(f"SMTP {code} {words}")
        raise PermanentFailure(f"SMTP {code} {words}")

    def close(self) -> None:
        super().close()
        with self._conn_lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()


def require_unsubscribe(settings: dict[str, Any], channel: str) -> None:
    """Marketing email must let its reader leave in one click (RFC 8058; the mailbox providers' bulk-sender rules):
    a real send needs `unsubscribe_url` with {token} (each reader's own link, served by `winback serve`) or at
    least `unsubscribe_mailto`. Without either it went out with no List-Unsubscribe and an empty link in the body."""
    url = str(settings.get("unsubscribe_url") or "")
    example = 'write unsubscribe_url = "https://your-domain/u/{token}" (served by `winback serve`, docs/inbound.md)'
    if url and "{token}" not in url:
        raise ChannelSettingError(f"[channels.{channel}] unsubscribe_url has no {{token}}", key="unsubscribe_url",
                                  problem=f"{url!r} has no {{token}}: every reader would get the same link, which "
                                          f"unsubscribes nobody; {example}")
    if not url and not settings.get("unsubscribe_mailto"):
        raise ChannelSettingError(f"[channels.{channel}] needs unsubscribe_url", key="unsubscribe_url",
                                  missing="unsubscribe_url" not in settings,
                                  problem=f"missing: marketing email must carry a one-click unsubscribe: {example}")


def _sender_address(sender: str, channel: str) -> tuple[str, str]:
    """`from` as (display name, envelope address), or a ChannelSettingError naming what to write: a name alone or
    an address without a domain would go out as a From no server accepts, and a non-ASCII address needs SMTPUTF8,
    which winback does not speak (formataddr raised a traceback)."""
    name, address = parseaddr(sender)
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or any(c in sender for c in "\r\n"):
        raise ChannelSettingError(
            f"[channels.{channel}] from = {sender!r} is not an email address", key="from",
            problem=f"{sender!r} is not an email address: write from = \"Name <address@your-domain>\"")
    if not address.isascii():
        raise ChannelSettingError(
            f"[channels.{channel}] from = {sender!r} has a non-ASCII address", key="from",
            problem=f"{sender!r} has a non-ASCII address ({address}), which SMTP without SMTPUTF8 cannot send: keep "
                    "non-ASCII characters in the name, e.g. from = \"品牌 <hello@brand.example>\"")
    return name, address


def _encode_header(value: str, linesep: str = "\n") -> str:
    """An RFC 2047 encoded word (folded with *linesep*: CRLF in a message sent over SMTP, where a bare LF is
    refused by strict servers) when the value is not plain ASCII; the value itself otherwise."""
    value = " ".join(value.split())   # a header is one line: no newline from the data gets through
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep=linesep)


def _part(content_type: str, text: str) -> str:
    """One body part: its headers, a blank line, and the UTF-8 text in base64 (76-character lines)."""
    encoded = base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (f"Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{encoded}")


def _now_header() -> str:
    from console.clock import now

    return format_datetime(now())
