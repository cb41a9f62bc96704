"""Twilio SMS (Messages API): one form-encoded POST per message, HTTP Basic with the account SID and auth token.

Settings in `[channels.sms]` with `transport = "twilio"`: `account_sid_env`, `auth_token_env` (names of environment
variables), `from` (a Twilio number in E.164) or `messaging_service_sid` (MG…; both may be given: Twilio then
picks the sender from the service), `status_callback` (the URL of winback serve's `/callbacks/twilio/status`; each
message's callback URL gets `wb=<winback's message id>` so a receipt finds its row even before the MessageSid was
stored), `endpoint` (default https://api.twilio.com: tests, proxies), `timeout` (seconds, default 15).

What each answer means (at-most-once: no provider deduplicates for us):
- 201 (or another 2xx) with a `sid` → sent, the MessageSid is stored as the provider id;
- 429 → retry later (backoff, Retry-After honoured by the base class);
- 401 (or code 20003 / 20005: a wrong Account SID or auth token, a closed account) and the codes that say the
  sender itself is unusable (21212, 21601, 21659, 21661: `from` is no number of this account) → the request was
  refused for the settings, not the recipient: `provider_batch.RequestRefused` — nothing sent, every recipient of
  the batch back to `planned`, the run paused with what to fix (recording each recipient `failed` would have
  burnt the whole audience: failed recipients are never sent again);
- 21611 (the `from` number's queue is full: nothing created) → "not now": the channel held for QUEUE_FULL_WAIT, the
  recipients deferred, never failed;
- any other 4xx → a permanent failure with Twilio's `code` and `message` (21211 invalid 'To', 21610 the
  recipient replied STOP — also recorded as an opt-out by the dispatcher: console.policy.provider_opt_outs);
- 5xx, a cut connection or a read timeout after the request left, or a 2xx without a readable sid → `unknown`:
  Twilio may have queued the message, so it is never resent blindly;
- a connection that could not be made → unreachable (nothing left).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from console.channels.base import (
    AmbiguousFailure,
    Channel,
    ChannelSettingError,
    Message,
    PermanentFailure,
    TemporaryFailure,
    Unreachable,
)
from console.channels.http import RequestNotSent, _excerpt
from console.channels.provider_batch import RequestRefused, refusal
from console.channels.replies import json_object, read_capped
from console.channels.retry_after import retry_after_seconds
from console.secrets import required_env_secret, scrub

DEFAULT_ENDPOINT = "https://api.twilio.com"
API_VERSION = "2010-04-01"
MAX_REPLY_BYTES = 64 * 1024
# The query parameter of the status callback URL that carries winback's message id (console/inbound/callbacks.py).
MESSAGE_ID_PARAM = "wb"
# Twilio's error codes that concern the account or the sender, whatever the recipient: (what is wrong, what to fix);
# ${sid} / ${token} become the environment variables. A 401 with another code gets AUTH_OTHER.
REFUSED: dict[int, tuple[str, str]] = {
    20003: ("the Account SID and auth token were not accepted",
            "check that ${sid} (account_sid_env) holds the Account SID (AC…) and ${token} (auth_token_env) its auth "
            "token (Twilio console, Account Info)"),
    20005: ("the Twilio account is not active", "reactivate it in the Twilio console (or use another account)"),
    21212: ("the sender is not a valid number", "set [channels.sms] from to a Twilio number of this account in "
            "E.164 (\"+15017122661\") or use messaging_service_sid"),
    21601: ("the sender is not one this account may send from", "set [channels.sms] from to an SMS-capable number "
            "bought from Twilio on this account (Phone Numbers → Active numbers)"),
    21659: ("the sender is not one this account may send from", "set [channels.sms] from to a number, short code or "
            "sender ID of this Twilio account (Phone Numbers → Active numbers)"),
    21661: ("the sender cannot send SMS", "set [channels.sms] from to an SMS-capable number of this account"),
}
AUTH_OTHER = ("the Account SID and auth token were not accepted", REFUSED[20003][1])
# 21611: the `from` number's queue holds more than 10 hours of messages and Twilio creates no more on it — "not now"
# for the sender, not this recipient (failed, every recipient after it would be burnt): the channel is held this
# long (seconds, past max_backoff: as a Retry-After) while the queue drains.
QUEUE_FULL, QUEUE_FULL_WAIT = 21611, 600.0
# What `from` may be (Twilio's own forms): an E.164 number, a short code, or an alphanumeric sender ID.
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
SHORT_CODE = re.compile(r"[0-9]{3,8}")
SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")


class TwilioChannel(Channel):
    transport = "twilio"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        s = self.settings
        where = f"[channels.{name}]"
        account_sid = required_env_secret(s, "account_sid_env", where, "the Account SID")
        auth_token = required_env_secret(s, "auth_token_env", where, "the auth token")
        self.account_sid = account_sid
        self.sender = str(s.get("from") or "").strip() or None
        self.service = str(s.get("messaging_service_sid") or "").strip() or None
        if self.sender is not None:
            _check_sender(self.sender, where)
        self._env = {"sid": str(s.get("account_sid_env")), "token": str(s.get("auth_token_env"))}
        if self.sender is None and self.service is None:
            need = 'from = "+1…" (a Twilio number) or messaging_service_sid = "MG…"'
            raise ChannelSettingError(f"{where} needs {need}", key="from", missing="from" not in s,
                                      problem=f"{'missing' if 'from' not in s else 'empty'}: write {need}")
        self.status_callback = str(s.get("status_callback") or "").strip() or None
        if self.status_callback and not self.status_callback.startswith(("https://", "http://")):
            need = "give the public URL of winback serve's /callbacks/twilio/status (https://…)"
            raise ChannelSettingError(f"{where} status_callback = {self.status_callback!r}: {need}",
                                      key="status_callback", problem=f"{self.status_callback!r}: {need}")
        base = str(s.get("endpoint") or DEFAULT_ENDPOINT).rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ChannelSettingError(f"{where} endpoint = {base!r} is not an http(s) URL", key="endpoint",
                                      problem=f"{base!r} is not an http(s) URL: give one such as "
                                              f"{DEFAULT_ENDPOINT!r} (or leave it out)")
        self.url = f"{base}/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        try:
            httpx.URL(self.url)
        except httpx.InvalidURL as exc:
            raise ChannelSettingError(f"{where} endpoint = {base!r} is not a URL: {exc}", key="endpoint",
                                      problem=f"{base!r} is not a URL: {exc}") from exc
        self._secrets = [auth_token]
        self.client = httpx.Client(
            auth=httpx.BasicAuth(account_sid, auth_token),
            timeout=float(s.get("timeout", 15)),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )

    def form(self, message: Message) -> dict[str, str]:
        """The Messages API form for one message."""
        data = {"To": message.to or "", "Body": message.text}
        if self.service:
            data["MessagingServiceSid"] = self.service
        if self.sender:
            data["From"] = self.sender
        if self.status_callback:
            data["StatusCallback"] = with_message_id(self.status_callback, message.message_id)
        return data

    def send_one(self, message: Message) -> str | None:
        try:
            return self._send_one(message)
        except (TemporaryFailure, PermanentFailure, AmbiguousFailure) as exc:
            exc.args = (scrub(str(exc), self._secrets), *exc.args[1:])
            raise exc from None

    def _send_one(self, message: Message) -> str | None:
        try:
            request = self.client.build_request("POST", self.url, data=self.form(message))
        except (TypeError, ValueError) as exc:
            raise RequestNotSent(scrub(f"request not sent: {type(exc).__name__}: {exc}", self._secrets)) from None
        try:
            response = self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(f"cannot reach {self.url}: {type(exc).__name__}: {exc}") from None
        except httpx.PoolTimeout as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
            raise RequestNotSent(scrub(f"request not sent: {type(exc).__name__}: {exc}", self._secrets)) from None
        except httpx.TransportError as exc:
            raise AmbiguousFailure(f"no reply from Twilio: {type(exc).__name__}: {exc} — it may have been "
                                   "queued, so it is not resent") from None
        try:
            status = response.status_code
            raw, whole = read_capped(response, MAX_REPLY_BYTES)
        finally:
            response.close()
        text = _excerpt(raw)
        if status == 429:
            raise TemporaryFailure(f"Twilio HTTP 429 {_twilio_error(raw) or text}", retry_after_seconds(response))
        if status >= 500:
            raise AmbiguousFailure(f"Twilio HTTP {status} after the request was sent: {text} — it may have been "
                                   "queued, so it is not resent")
        if status >= 300:
            refused = self._refused(status, raw, message.campaign)
            if refused is not None:
                raise refused
            if (json_object(raw) or {}).get("code") == QUEUE_FULL:
                # the sender's queue is full: nothing was created, and every recipient would get it until it drains
                raise TemporaryFailure(f"Twilio HTTP {status} {_twilio_error(raw) or text}", QUEUE_FULL_WAIT)
            raise PermanentFailure(f"Twilio refused (HTTP {status}): {_twilio_error(raw) or text}")
        sid = _sid(raw) if whole else None
        if sid is None:
            raise AmbiguousFailure(f"Twilio HTTP {status}, but no message sid could be read from the reply: it may "
                                   f"have been queued: {text}")
        return sid

    def _refused(self, status: int, raw: bytes, campaign: str) -> RequestRefused | None:
        """A refusal about the account or the sender (REFUSED), which every recipient would get: None otherwise."""
        data = json_object(raw) or {}
        code = data.get("code")
        known = REFUSED.get(code) if isinstance(code, int) and not isinstance(code, bool) else None
        if code == 21659 and self.sender is not None and SHORT_CODE.fullmatch(self.sender):
            known = None   # a short code of another country than the recipient's: this recipient's failure alone
        if known is None and status != 401:
            return None
        problem, fix = known or AUTH_OTHER
        said = data.get("message")
        return refusal("Twilio", str(code if code is not None else f"HTTP {status}"),
                       scrub(str(said or ""), self._secrets), problem, fix, campaign,
                       {"sid": f"${self._env['sid']}", "token": f"${self._env['token']}"})

    def close(self) -> None:
        super().close()
        self.client.close()


def _check_sender(sender: str, where: str) -> None:
    """`from` must be a form Twilio takes: else every message would be refused (21212) and recorded failed."""
    if E164.fullmatch(sender) or SHORT_CODE.fullmatch(sender) or SENDER_ID.fullmatch(sender):
        return
    digits = re.sub(r"[^0-9]", "", sender)
    example = f'"+{digits}"' if len(digits) >= 7 else '"+15017122661"'
    need = f"write the Twilio number in E.164, with + and the country code: from = {example}"
    raise ChannelSettingError(f"{where} from = {sender!r}: {need}", key="from", problem=f"{sender!r}: {need}")


def with_message_id(url: str, message_id: str) -> str:
    """The status callback URL with winback's message id in `wb=` (other query parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != MESSAGE_ID_PARAM]
    query.append((MESSAGE_ID_PARAM, message_id.strip("<>")))
    return urlunsplit(parts._replace(query=urlencode(query)))




def _sid(raw: bytes) -> str | None:
    data = json_object(raw)
    sid = data.get("sid") if data else None
    return sid.strip() if isinstance(sid, str) and sid.strip() else None


def _twilio_error(raw: bytes) -> str | None:
    """Twilio's error reply ({"code": 21211, "message": "The 'To' number … is not a valid phone number.", …}) in
    one line: 'code 21211: The 'To' number …'."""
    data = json_object(raw)
    if not data:
        return None
    code, message = data.get("code"), data.get("message")
    if code is None and message is None:
        return None
    words = json.dumps(message, ensure_ascii=False)[1:-1] if isinstance(message, str) else str(message or "")
    return _excerpt(f"code {code}: {words}".encode())
