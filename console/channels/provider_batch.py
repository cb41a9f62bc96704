"""What the signed SMS providers (Aliyun, Tencent) share: many numbers in one request, one signed HTTP POST.

A provider that takes up to 100–1,000 numbers a request is driven differently from a per-message gateway:
`BatchChannel.send` groups the batch into requests (the transport's `requests()`), and for each request:

- calls `before_each(message)` for every number of the request right before it leaves (a reason = that number is
  `skipped`, never sent) — the dispatcher's last look (base.py);
- makes the request (`send_request()`), which returns a per-number outcome or raises for the whole request:
  `Unreachable` (nothing left: `deferred`, and no further request of the batch is made; `RequestRefused` — the
  provider refused the whole request for a wrong key, a bad signature or a clock too far off — is one, with
  `stop_run`: every number back to `planned` and the run paused with what to fix), `TemporaryFailure` (the
  provider said "not now": retried with backoff up to `retries`, then `deferred`; a Retry-After beyond
  `max_backoff` stops the batch like base.py does), `AmbiguousFailure` (it may have been taken: `unknown`, never
  resent), `PermanentFailure` (refused: `failed` with the provider's code and message);
- reports every number's Result through `on_result` as soon as its request's fate is known.

The channel's token bucket is taken once per request (a provider's QPS limit is per API call); `rate` still holds
for messages on average, because the dispatcher books each claimed batch a window of batch ÷ rate seconds.

The HTTP part (`post`) maps what happened on the wire the way http.py does: connect failures are `Unreachable`,
a request our side cannot build is `RequestNotSent`, a cut connection or a 5xx after the body left is `unknown`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from console import safejson
from console.channels.base import (
    DEFERRED,
    FAILED,
    HOLD_BATCH,
    SKIPPED,
    UNKNOWN,
    AmbiguousFailure,
    BeforeEach,
    Channel,
    ChannelSettingError,
    Message,
    OnResult,
    OnWait,
    PermanentFailure,
    Result,
    Stop,
    TemporaryFailure,
    Unreachable,
)
from console.channels.http import RequestNotSent
from console.channels.replies import read_capped
from console.channels.retry_after import retry_after_seconds
from console.secrets import scrub

MAX_REPLY_BYTES = 1 << 20


@dataclass
class Outcome:
    """One number's fate inside a request the provider answered."""

    status: str                    # sent | failed | unknown
    provider_id: str | None = None
    error: str | None = None


class RequestRefused(RequestNotSent):
    """The provider refused the whole request before looking at its numbers: a wrong or disabled AccessKey /
    SecretId, a signature that does not match (a wrong secret, or the request changed on the way), a clock too far
    off. Nothing was sent, so no number is `failed` — and every request is refused the same way until the operator
    fixes it: like RequestNotSent, the rows go back to `planned` (not an attempt) and the run is paused at once,
    with the words built by `refusal`."""


def refusal(provider: str, code: str, message: object, problem: str, fix: str, campaign: str,
            names: Mapping[str, str] | None = None) -> RequestRefused:
    """'Aliyun refused the request: <problem> (<code>: <message>) — <fix>, then `winback campaign resume NAME`'.
    `names` fill the fix's ${…} places: the operator's own variable names ({"id": "$ALIYUN_KEY_ID"}), the
    settings table ({"where": "[channels.sms]"})."""
    for key, value in (names or {}).items():
        fix = fix.replace("${" + key + "}", value)
    said = str(message or "").strip()[:120]
    return RequestRefused(f"{provider} refused the request: {problem} ({code}{': ' + said if said else ''}) — "
                          f"{fix}, then `winback campaign resume {campaign or 'NAME'}`")


class BatchChannel(Channel):
    """Base for transports whose provider takes many numbers in one request (see the module docstring)."""

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        self._secrets: list[str] = []
        self.timeout = float(self.settings.get("timeout", 15))
        self.client = httpx.Client(timeout=self.timeout, follow_redirects=False)

    # -- for subclasses --------------------------------------------------------------------------------------
    def requests(self, batch: Sequence[Message]) -> list[list[Message]]:  # pragma: no cover - abstract
        """The batch cut into requests (numbers that may share one request, at most the provider's maximum)."""
        raise NotImplementedError

    def send_request(self, chunk: list[Message]) -> dict[int, Outcome]:  # pragma: no cover - abstract
        """Make one request for these numbers: {send_id: Outcome}, or raise for the whole request."""
        raise NotImplementedError

    def send_one(self, message: Message) -> str | None:
        outcome = self.send_request([message]).get(message.send_id)
        if outcome is None or outcome.status == UNKNOWN:
            raise AmbiguousFailure(outcome.error if outcome else "the provider's reply did not mention the number")
        if outcome.status == FAILED:
            raise PermanentFailure(outcome.error or "refused")
        return outcome.provider_id

    # -- the contract ----------------------------------------------------------------------------------------
    def send(self, batch: Sequence[Message], *, before_each: BeforeEach | None = None,
             on_result: OnResult | None = None, on_wait: OnWait | None = None,
             stop: Stop | None = None) -> list[Result]:
        self._begin(on_wait, stop)
        results: dict[int, Result] = {}

        def done(result: Result) -> None:
            results[result.send_id] = result
            if on_result is not None:
                on_result(result)

        ended: Result | None = None    # set when no further request of this batch may be made
        for chunk in self.requests(batch):
            if self._stopped():
                # paused, cancelled or interrupted: the rest is not handed over (planned again, or cancelled)
                for m in chunk:
                    done(Result(m.send_id, SKIPPED, reason=HOLD_BATCH, attempted=False))
                continue
            if ended is not None:
                for m in chunk:
                    done(Result(m.send_id, DEFERRED, error=f"not attempted: {ended.error}"[:500],
                                retry_after=ended.retry_after, unreachable=ended.unreachable,
                                provider_wait=ended.provider_wait, attempted=False, stop_run=ended.stop_run))
                continue
            ended = self._send_chunk(chunk, before_each, done)
        return [results[m.send_id] for m in batch]

    def _send_chunk(self, chunk: list[Message], before_each: BeforeEach | None,
                    done: OnResult) -> Result | None:
        """Send one request (with retries when the provider says 'not now'); a Result when the batch must stop."""
        pending = list(chunk)
        attempt = 0
        while True:
            self.limiter.acquire()
            if before_each is not None:
                going = []
                for m in pending:
                    # last look before the request leaves: an opt-out committed since the claim stops it here
                    reason = before_each(m)
                    if reason is None:
                        going.append(m)
                    else:
                        done(Result(m.send_id, SKIPPED, reason=reason, attempted=False))
                pending = going
            if not pending:
                return None
            try:
                outcomes = self.send_request(pending)
            except Unreachable as exc:
                # nothing left (or the provider refused the request unread): planned again, not an attempt; with
                # stop_run (RequestNotSent, RequestRefused) the dispatcher pauses the run at once
                error = self.scrub(str(exc))[:500]
                for m in pending:
                    done(Result(m.send_id, DEFERRED, error=error, unreachable=True, stop_run=exc.stop_run))
                return Result(0, DEFERRED, error=error[:300], unreachable=True, stop_run=exc.stop_run)
            except PermanentFailure as exc:
                for m in pending:
                    done(Result(m.send_id, FAILED, error=self.scrub(str(exc))[:500]))
                return None
            except AmbiguousFailure as exc:
                for m in pending:
                    done(Result(m.send_id, UNKNOWN, error=self.scrub(str(exc))[:500]))
                return None
            except TemporaryFailure as exc:
                error = self.scrub(str(exc))[:500]
                if exc.retry_after is not None and exc.retry_after > self.max_backoff:
                    self._provider_asks_to_wait(exc.retry_after, error)   # held for every process from now
                    for m in pending:
                        done(Result(m.send_id, DEFERRED, error=error, retry_after=exc.retry_after,
                                    provider_wait=True))
                    return Result(0, DEFERRED, error=f"provider asked to wait {exc.retry_after:.0f}s: {error}",
                                  retry_after=exc.retry_after, provider_wait=True)
                delay = self._delay(attempt, exc.retry_after)
                if attempt >= self.retries:
                    for m in pending:
                        done(Result(m.send_id, DEFERRED, error=error, retry_after=delay))
                    return None
                self._sleep(delay)   # cut short by a pause, a cancel or Ctrl-C (base.Stop)
                if self._stopped():
                    # told "not now" (429): nothing of this request was taken, so it is given back unsent
                    for m in pending:
                        done(Result(m.send_id, SKIPPED, reason=HOLD_BATCH, attempted=False))
                    return None
                attempt += 1
                continue
            for m in pending:
                outcome = outcomes.get(m.send_id) or Outcome(
                    UNKNOWN, error="the provider's reply does not mention this number: it may have been sent")
                done(Result(m.send_id, outcome.status, provider_id=outcome.provider_id,
                            error=self.scrub(outcome.error)[:500] if outcome.error else None))
            return None

    # -- HTTP ------------------------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, str]:
        """POST one signed request: (HTTP status, the reply parsed as JSON, an excerpt of it for error texts).

        Raises Unreachable / RequestNotSent when nothing left, AmbiguousFailure when it may have arrived and no
        readable answer came back (a cut connection, a read timeout, a 5xx, a reply that is not JSON).
        """
        try:
            request = self.client.build_request("POST", url, content=body, headers=headers)
            response = self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
        except httpx.PoolTimeout as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL, TypeError,
                ValueError) as exc:
            raise RequestNotSent(self.scrub(f"request not sent: {type(exc).__name__}: {exc}")) from None
        except httpx.TransportError as exc:
            raise AmbiguousFailure(f"no reply: {type(exc).__name__}: {exc} — it may have been accepted, so it "
                                   "is not resent") from None
        try:
            status = response.status_code
            raw, whole = read_capped(response, MAX_REPLY_BYTES)
        finally:
            response.close()
        text = _excerpt(raw)
        if status == 429:   # the gateway in front of the API throttled us: nothing was taken
            raise TemporaryFailure(f"HTTP 429 {text}", retry_after_seconds(response))
        if status >= 500:
            raise AmbiguousFailure(f"HTTP {status} after the request was sent: {text} — it may have been "
                                   "accepted, so it is not resent")
        if not whole:
            raise AmbiguousFailure(f"HTTP {status}, but the reply could not be read whole: the provider may have "
                                   "accepted it")
        try:
            reply = safejson.loads(raw)
        except ValueError as exc:
            if status >= 400:
                raise PermanentFailure(f"HTTP {status} {text}") from None
            raise AmbiguousFailure(f"HTTP {status}, but the reply is not JSON ({str(exc)[:80]}): {text}") from None
        return status, reply, text

    def close(self) -> None:
        super().close()
        self.client.close()


def required(settings: dict[str, Any], key: str, where: str, what: str = '"…" (docs/channels.md has the recipe)') -> str:
    """Setting *key*, which the provider cannot do without; *what*: the value to write and what it is."""
    value = settings.get(key)
    if value is None or str(value).strip() == "":
        raise ChannelSettingError(f"{where} needs {key} = \"…\" (see docs/channels.md)", key=key,
                                  missing=key not in settings,
                                  problem=f"{'missing' if key not in settings else 'empty'}: write {key} = {what}")
    return str(value).strip()


# The brackets a signature is shown in ('【品牌】' in the SMS); the providers take its name alone and add 【】 themselves.
SIGN_BRACKETS = "【】[]［］〖〗"


def sign_name(settings: dict[str, Any], where: str, provider: str) -> str:
    """`sign_name` of a mainland provider (Aliyun, Tencent Cloud): the approved signature's name, without brackets —
    written as the SMS shows it ('【品牌】'), every message would fail at the provider."""
    value = required(settings, "sign_name", where, f'"品牌" (the signature approved at {provider}, without 【】)')
    bare = value.strip(SIGN_BRACKETS).strip()
    if bare != value:
        raise ChannelSettingError(f"{where} sign_name = {value!r}: write it without brackets", key="sign_name",
                                  problem=f"{value!r}: write the signature's name without brackets, sign_name = "
                                          f"\"{bare or '品牌'}\" ({provider} adds 【】 itself)")
    return value


def endpoint(settings: dict[str, Any], default: str, where: str) -> httpx.URL:
    url = str(settings.get("endpoint") or default)
    if not url.startswith(("http://", "https://")):
        raise ChannelSettingError(f"{where} endpoint = {url!r}: give a URL such as {default!r}", key="endpoint",
                                  problem=f"{url!r}: give a URL such as {default!r} (or leave it out)")
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ChannelSettingError(f"{where} endpoint = {url!r} is not a URL: {exc}", key="endpoint",
                                  problem=f"{url!r} is not a URL: {exc}") from None


def host_header(url: httpx.URL) -> str:
    """The Host header httpx sends for `url` (port only when it is not the scheme's default): it is signed."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.host if url.port in (None, default) else f"{url.host}:{url.port}"



def _excerpt(raw: bytes) -> str:
    text = raw[:400].decode("utf-8", "replace")
    return "".join(" " if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F else ch for ch in text)[:200].strip()


def provider_number(phone: str | None) -> str:
    """A phone number as the Chinese providers' docs write it: mainland numbers without +86, others as country
    code + number."""
    value = (phone or "").strip()
    if value.startswith("+86") and len(value) == 14:
        return value[3:]
    return value.lstrip("+")
