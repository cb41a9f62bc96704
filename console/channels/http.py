"""HTTP transport for SMS gateways, push services and webhooks (httpx, one pooled client).

Settings: `url`, `method` (POST), `token_env` (sent as `Authorization: Bearer …`), `headers` (values may name
environment variables as `${NAME}`), `body` (a JSON template whose string values may hold `{{ to }}`, `{{ text }}`,
`{{ subject }}`, `{{ message_id }}`, `{{ campaign }}`, `{{ user_id }}`, `{{ coupon_code }}`, `{{ parts }}` and
any message field such as `{{ title }}` or `{{ link }}`), `success_field`/`success_value` (a dotted path into the
JSON reply that must equal the value), `provider_id_field` (a dotted path to the provider's message id).
`encoding` = "json" (default: the filled body template is the JSON body) or "form" (the template is one flat object
whose fields are sent application/x-www-form-urlencoded). `auth` = "bearer" (the default when `token_env` is set),
"basic" (HTTP Basic with `username_env` / `password_env`) or "none" (the default otherwise). String values of the
body template may name environment variables as `${NAME}` like headers (an API key a provider takes in a form
field): checked when the channel opens and scrubbed from error texts.

Only a certain non-delivery is tried again: a connection that could not be made (the provider is unreachable:
nothing left), HTTP 429 (retried with backoff and jitter, honouring Retry-After, then deferred), and the 5xx codes
listed in `retry_statuses` — those the provider documents as "not processed". Any other 5xx, a connection cut or a
reply that never came *after the request left* is `unknown`: the provider may have taken the message (a 502/504
from a proxy in front of it says nothing about that), and no provider deduplicates for us, so it is never resent.
With `idempotency_header = "Idempotency-Key"` (for a provider that honours one) every request carries winback's
message id in that header, and a 5xx or a cut connection is retried with the same key, up to `retries`, before it is
recorded `unknown` (a refusal of such a retry too: the first may have arrived). A long Retry-After to such a retry
holds the channel for everyone at once (the dispatcher's `on_wait`) and is waited in full when the batch's lease
covers it (`hold_limit`), else the message is `unknown` at once. A pause, cancel or Ctrl-C (the batch's `stop`)
ends the wait within moments: the retry does not go and the message is `unknown`. Other 4xx, and a 2xx reply whose
success field says otherwise, are permanent failures; a 2xx reply that cannot be read (not JSON, nested too deep,
larger than `max_reply_bytes`) when a success or id field must be read from it is `unknown`.

A request our side cannot make at all (an illegal header value) is not `unknown`: nothing left. Secrets (the
token, `${NAME}` header values) are checked when the channel opens and scrubbed from every error text.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

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
from console.channels.http_settings import (
    HEADER_NAME,
    body_from_env,
    check_form_template,
    check_header,
    choice,
    from_env,
    retry_statuses_of,
)
from console.channels.replies import read_capped
from console.channels.retry_after import retry_after_seconds
from console.secrets import env_secret, scrub

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

DEFAULT_BODY = '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}'


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
MAX_REPLY_BYTES = 1 << 20


class RequestNotSent(Unreachable):
    """Our side could not make the request at all (the HTTP library refused a header value, the body could not be
    encoded): nothing left, so the message is certainly not sent — not `unknown` — and trying again will not help.
    The dispatcher puts it back to `planned` like an unreachable provider (not an attempt) and pauses the run at
    once with the reason (`stop_run`): waiting will not make the request possible."""

    stop_run = True


class _MaybeArrived(Exception):
    """Internal: the request left and no clear answer came back (a 5xx not listed in retry_statuses, a cut
    connection, a read timeout). `unknown` — unless an idempotency key makes a retry safe."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def fill_template(template: Any, values: dict[str, Any]) -> Any:
    """Substitute placeholders inside a parsed JSON template; the result is always valid JSON.

    A string that is exactly one placeholder takes the value as it is (numbers stay numbers).
    """
    if isinstance(template, dict):
        return {k: fill_template(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill_template(v, values) for v in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole:
            return values.get(whole.group(1))
        return _PLACEHOLDER.sub(lambda m: "" if values.get(m.group(1)) is None else str(values[m.group(1)]),
                                template)
    return template


def dig(data: Any, path: str) -> Any:
    """data['a']['b'] for path 'a.b' (list indexes allowed); None when absent."""
    for key in path.split("."):
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


class HttpChannel(Channel):
    transport = "http"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        s = self.settings
        where = f"[channels.{name}]"
        self.url = str(s.get("url") or "")
        if not self.url.startswith(("http://", "https://")):
            given = "missing" if "url" not in s else f"{s['url']!r} is not an http(s) URL"
            raise ChannelSettingError(f"{where} needs url = \"https://…\"", key="url", missing="url" not in s,
                                      problem=f"{given}: write url = \"https://…\" (the gateway's send URL)")
        try:
            httpx.URL(self.url)
        except httpx.InvalidURL as exc:
            raise ChannelSettingError(f"{where} url = {self.url!r} is not a URL: {exc}", key="url",
                                      problem=f"{self.url!r} is not a URL: {exc}") from exc
        self.method = str(s.get("method", "POST")).upper()
        try:
            self.body_template = json.loads(str(s.get("body", DEFAULT_BODY)))
        except json.JSONDecodeError as exc:
            raise ChannelSettingError(f"{where} body is not a JSON template: {exc}", key="body",
                                      problem=f"not a JSON template: {exc} (docs/channels.md)") from exc
        self._secrets: list[str] = []
        self.encoding = choice(s, "encoding", ("json", "form"), "json", where)
        if self.encoding == "form":
            check_form_template(self.body_template, where)
        # `${NAME}` in a body value (an API key a provider takes in a form field): read and checked now, scrubbed
        self.body_template = body_from_env(self.body_template, f"{where} body", self._secrets)
        headers = {str(k): from_env(str(v), f"{where} headers.{k}", self._secrets, f"headers.{k}")
                   for k, v in (s.get("headers") or {}).items()}
        token = env_secret(s, "token_env", where)
        self.credentials = (f"{where} token_env" if token else f"{where} username_env / password_env"
                            if s.get("auth") == "basic" else f"the credentials in {where} headers or body")
        # auth: bearer when token_env is set, none otherwise (the defaults before `auth` existed)
        self.auth = choice(s, "auth", ("bearer", "basic", "none"), "bearer" if token else "none", where)
        basic: httpx.BasicAuth | None = None
        if self.auth == "bearer":
            if token is None:
                need = 'auth = "bearer" needs token_env = "NAME" (the environment variable holding the token)'
                raise ChannelSettingError(f"{where} {need}", key="token_env", missing="token_env" not in s,
                                          problem=f"missing: {need}" if "token_env" not in s
                                          else f"{s['token_env']!r}: {need}")
            self._secrets.append(token)
            headers.setdefault("Authorization", f"Bearer {token}")
        elif token is not None:
            raise ChannelSettingError(f"{where} token_env is set but auth = {self.auth!r}: remove one of them",
                                      key="auth", problem=f"{self.auth!r}, but token_env is set: remove one of them")
        if self.auth == "basic":
            username = env_secret(s, "username_env", where)
            password = env_secret(s, "password_env", where)
            if username is None or password is None:
                key = "username_env" if username is None else "password_env"
                raise ChannelSettingError(f"{where} auth = \"basic\" needs username_env and password_env (names "
                                          "of environment variables)", key=key, missing=key not in s,
                                          problem=f"{'missing' if key not in s else repr(s[key])}: auth = \"basic\" "
                                          f"needs {key} = \"NAME\" (the environment variable holding it)")
            # the header as sent (base64 of user:password) is scrubbed too: a provider may echo it
            self._secrets += [username, password, base64.b64encode(f"{username}:{password}".encode()).decode()]
            basic = httpx.BasicAuth(username, password)
        for key, value in headers.items():
            check_header(key, value, f"{where} headers.{key}", f"headers.{key}")
        self.retry_statuses = retry_statuses_of(s.get("retry_statuses", []), where)
        self.idempotency_header = str(s.get("idempotency_header") or "") or None
        if self.idempotency_header and not HEADER_NAME.match(self.idempotency_header):
            raise ChannelSettingError(f"{where} idempotency_header = {self.idempotency_header!r} is not a header "
                                      "name", key="idempotency_header",
                                      problem=f"{self.idempotency_header!r} is not a header name")
        try:
            self.max_reply = int(s.get("max_reply_bytes", MAX_REPLY_BYTES))
        except (TypeError, ValueError):   # a traceback before
            raise ChannelSettingError(f"{where} max_reply_bytes = {s.get('max_reply_bytes')!r} is not a number",
                                      key="max_reply_bytes", problem=f"{s.get('max_reply_bytes')!r} is not a whole "
                                                                     "number of bytes") from None
        self.success_field = s.get("success_field")
        self.success_value = s.get("success_value")
        self.provider_id_field = s.get("provider_id_field")
        timeout = float(s.get("timeout", 15))
        self.client = httpx.Client(
            headers=headers,
            auth=basic,
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )

    def values(self, m: Message) -> dict[str, Any]:
        return {
            **m.fields,
            "to": m.to,
            "text": m.text,
            "subject": m.subject,
            "html": m.html,
            "message_id": m.message_id,
            "campaign": m.campaign,
            "user_id": m.user_id,
            "coupon_code": m.coupon_code,
            "parts": m.parts,
            "unsubscribe_url": m.unsubscribe_url,
        }

    def scrub(self, text: str) -> str:
        """An error text without any secret this channel holds."""
        return scrub(text, self._secrets)

    def send_one(self, message: Message) -> str | None:
        try:
            return self._send_one(message)
        except (TemporaryFailure, PermanentFailure, AmbiguousFailure) as exc:
            # whatever a library or the provider put in the text (an echoed header …) is recorded without secrets;
            # the chained library exception (which may quote a header) is dropped for the same reason
            exc.args = (self.scrub(str(exc)), *exc.args[1:])
            raise exc from None

    def _send_one(self, message: Message) -> str | None:
        body = fill_template(self.body_template, self.values(message))
        extra = {self.idempotency_header: message.message_id.strip("<>")} if self.idempotency_header else None
        attempt, may_have_arrived, waited = 0, False, 0.0
        while True:
            try:
                return self._attempt(body, extra)
            except _MaybeArrived as exc:
                if not self.idempotency_header:
                    raise AmbiguousFailure(f"{exc} — it may have been accepted, so it is not resent") from None
                may_have_arrived, error, retry_after = True, str(exc), exc.retry_after
            except PermanentFailure as exc:
                if not may_have_arrived:
                    raise
                # the retry's refusal (409 "key in use" …) says nothing of the first request, which may have arrived
                raise AmbiguousFailure(f"{exc} — in answer to a retry with {self.idempotency_header}; the first "
                                       "request may have been accepted, so it is not resent") from None
            except TemporaryFailure as exc:
                if not may_have_arrived:
                    raise
                # 429/unreachable to a retry of a request that may have arrived: retried here, not by the channel's
                # loop, whose before_each would record it as never sent (console.campaigns.handoff.hooks)
                error, retry_after = str(exc), exc.retry_after
            # A long Retry-After (past max_backoff) is honoured: waited in full while the batch's lease can cover
            # it (the hand-off writer keeps the lease and the run's heartbeat fresh meanwhile), else given up at
            # once — `unknown` (the first may have arrived: never given back to be sent again), the rest of the
            # batch not sent and the channel held until then (base.Channel, AmbiguousFailure.retry_after).
            long_wait = retry_after is not None and retry_after > self.max_backoff
            too_long = long_wait and waited + (retry_after or 0) > self.hold_limit
            if attempt >= self.retries or too_long:
                why = (f"the provider asked to wait {retry_after:.0f}s (Retry-After), longer than the batch is held "
                       f"({self.hold_limit:.0f}s); the first request may have been accepted, so it is not resent"
                       if too_long else f"still no clear answer after {attempt + 1} tries with "
                                        f"{self.idempotency_header}")
                raise AmbiguousFailure(f"{error} — {why}", retry_after if long_wait else None) from None
            # the provider deduplicates on the key we sent: the same request again cannot deliver twice
            delay = float(retry_after or 0) if long_wait else self._delay(attempt, retry_after)
            if long_wait:
                # held from now, not when this message ends: no other worker of the batch and no other process
                # (another campaign, a cron run-due) calls the provider while we wait (base.Channel, on_wait)
                self._provider_asks_to_wait(delay, self.scrub(error))   # its words are kept: without secrets
            self._sleep(delay)   # cut short by a pause, a cancel or Ctrl-C (base.Stop)
            stopped = self._stopped()
            if stopped:
                # the retry does not go: what the first request did stays unknown — never given back to be sent
                # again. The provider's hold stays in the ledger until the time it named.
                waiting = (f"the provider asked to wait {delay:.0f}s (Retry-After) before the same request again"
                           if long_wait else "waiting to try the same request again")
                raise AmbiguousFailure(f"{error} — {waiting}; {stopped} meanwhile, so it was not tried again: the "
                                       "first request may have been accepted, so it is not resent") from None
            if long_wait:
                self._provider_wait_over(delay)
            waited += delay
            attempt += 1
            self.limiter.acquire()

    def _attempt(self, body: Any, extra: dict[str, str] | None) -> str | None:
        """One request: the provider id, or raise what its outcome means (see the module docstring)."""
        try:
            encoded = {"data": form_fields(body)} if self.encoding == "form" else {"json": body}
            request = self.client.build_request(self.method, self.url, headers=extra, **encoded)
        except (TypeError, ValueError) as exc:   # a value that cannot be encoded: built here, nothing left
            raise RequestNotSent(self.scrub(f"request not sent: {type(exc).__name__}: {exc}")) from None
        try:
            response = self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # the request never left (refused, no route, no answer to connect): certainly not sent
            raise Unreachable(f"cannot reach {self.url}: {type(exc).__name__}: {exc}") from exc
        except httpx.PoolTimeout as exc:
            # the request never left: safe to retry
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
            # refused on our side before a byte left (an illegal header value …): not sent, and not `unknown`
            raise RequestNotSent(self.scrub(f"request not sent: {type(exc).__name__}: {exc}")) from None
        except httpx.TransportError as exc:
            # it may have arrived (read timeout, connection dropped before the reply): never resent blindly
            raise _MaybeArrived(f"no reply: {type(exc).__name__}: {exc}") from exc
        try:
            status = response.status_code
            raw, readable = read_capped(response, self.max_reply)
        finally:
            response.close()
        text = _excerpt(raw)
        if status == 429 or status in self.retry_statuses:
            raise TemporaryFailure(f"HTTP {status} {text}", retry_after_seconds(response))
        if status >= 500:
            raise _MaybeArrived(f"HTTP {status} after the request was sent: {text}", retry_after_seconds(response))
        if status == 401:
            # our credentials were not accepted: nothing was sent, and every recipient would get it — planned again
            # and the run paused (RequestNotSent.stop_run), as for Twilio's 401; failed, they were never resent
            raise RequestNotSent(f"the provider did not accept the credentials (HTTP 401 {text}): nothing was sent "
                                 f"— check {self.credentials}, then `winback campaign resume`")
        if status >= 300:
            raise PermanentFailure(f"HTTP {status} {text}")
        if not (self.success_field or self.provider_id_field):
            return None
        if not readable:
            raise AmbiguousFailure(f"HTTP {status}, but the reply could not be read (larger than "
                                   f"{self.max_reply:,} bytes, or cut off): the provider may have accepted it")
        try:
            reply: Any = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            # not JSON, invalid UTF-8, a 5,000-digit number, nested thousands deep: the request left and the
            # provider answered 2xx, so it may have been accepted — unknown, never a crash of the dispatcher
            reason = "nested too deep" if isinstance(exc, RecursionError) else f"not JSON ({str(exc)[:80]})"
            raise AmbiguousFailure(f"HTTP {status}, but the reply is unreadable: {reason}: {text}") from None
        if self.success_field is not None:
            got = dig(reply, str(self.success_field))
            if not _is_scalar(got) or str(got) != str(self.success_value):
                raise PermanentFailure(f"provider refused: {self.success_field} = {_short(got)}: {text}")
        if self.provider_id_field:
            found = dig(reply, str(self.provider_id_field))
            return None if found is None else _short(found, quote=False)
        return None


    def close(self) -> None:
        super().close()
        self.client.close()


def form_fields(body: Any) -> dict[str, str]:
    """A filled form template as form fields: text as is, numbers as written, true/false, nothing for null, and
    any structured value (a message field holding a dict) as JSON."""
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    return {str(k): text(v) for k, v in body.items()}


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _short(value: Any, *, quote: bool = True) -> str:
    """A reply value for an error text or an id: scalars as they are (shortened), containers by their type only
    (a reply nested thousands deep cannot even be repr()'d)."""
    if not _is_scalar(value):
        return f"<{type(value).__name__}>"
    text = repr(value) if quote else str(value)
    return _UNPRINTABLE.sub(" ", text)[:200]


def _excerpt(raw: bytes) -> str:
    """The start of a reply body for an error text: decoded, control characters and terminal escapes removed."""
    return _UNPRINTABLE.sub(" ", raw[:400].decode("utf-8", "replace"))[:200].strip()
