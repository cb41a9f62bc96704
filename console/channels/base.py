"""The channel contract: `name`, `validate(address)`, `cost(message)`, `send(batch, before_each=…, on_result=…)
-> results`, `close()`.

Everything a transport needs to know about one recipient arrives in a `Message`; everything the dispatcher
records comes back in a `Result` (one per message, same order). A transport never touches the database: the
dispatcher's two hooks do, per message —
- `before_each(message) -> None | reason`, called immediately before each attempt leaves for the provider: None
  means go (the dispatcher has durably marked the row as on the wire); a reason (`suppressed`, `no_consent`, …)
  means this message must not go — the transport returns it `skipped` with that reason, never attempted.
- `on_result(result)`, called as soon as a message's fate is known, so a crash strands only what is in flight.
- `on_wait(seconds, reason)`, called the moment a provider asks (Retry-After, past max_backoff) to be left alone:
  the dispatcher holds the channel for every process before the transport waits or gives up (console.campaigns.pacing).
- `stop` (a Stop the dispatcher sets when the campaign is paused or cancelled, or on Ctrl-C): nothing more of the
  batch is handed over, and any wait of the transport (backoff, a Retry-After) ends at once.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypedDict

# ChannelError lives in console.errors (console.secrets raises it too); channels import it from here as before, and
# ChannelSettingError (a setting missing or unusable, found while a transport is built: open_channel says it with
# winback.toml's line).
from console.errors import ChannelError as ChannelError
from console.errors import ChannelSettingError as ChannelSettingError
from console.ratelimit import TokenBucket

SENT, FAILED, DEFERRED, UNKNOWN = "sent", "failed", "deferred", "unknown"
SKIPPED = "skipped"   # before_each said no: never attempted (reason says why)
# before_each's reason when the campaign was paused or cancelled: the rest of the batch is not attempted either, and
# is returned at once (without its rate-limit turns or hand-off checks)
HOLD_BATCH = "campaign_stopped"
# before_each's reason when the provider asked (Retry-After) to be left alone — told another message, perhaps another
# dispatcher's — since the claim: not handed over, and neither is the rest of the batch (deferred until then)
PROVIDER_HELD = "provider_held"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TemporaryFailure(Exception):
    """The provider said 'not now' (HTTP 429/5xx, SMTP 4xx, a dropped connection): retry later, not failed."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(TemporaryFailure):
    """The provider could not be reached at all (connection refused, connect timeout, no route): the request never
    left, so the message is certainly not sent. Not retried inside the batch: the dispatcher puts it back to
    `planned`, waits, and gives up (pausing the campaign) when the provider stays unreachable."""

    # True when our own side cannot make the request (e.g. http.RequestNotSent): trying again will not help, so
    # the dispatcher pauses the run at once instead of waiting for the provider to come back.
    stop_run = False


class AmbiguousFailure(Exception):
    """The request left but no answer came back (read timeout, connection dropped mid-reply): it may have been
    delivered. Never retried — recorded `unknown` for the operator to reconcile (at-most-once).

    `retry_after`: the provider asked (Retry-After, past max_backoff) to be left alone that long — said to an
    idempotent retry (console.channels.http): the rest of the batch is not sent either, as for any such wait."""

    def __init__(self, message: object, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider refused this message for good (HTTP 4xx, SMTP 5xx)."""


@dataclass
class Message:
    """One rendered message for one recipient."""

    send_id: int
    user_id: int
    to: str | None
    text: str
    campaign: str
    message_id: str
    subject: str | None = None
    html: str | None = None
    parts: int = 1
    cost: float | None = None
    coupon_code: str | None = None
    unsubscribe_url: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)   # extra values (title, link, name, external_id …)


@dataclass
class Result:
    send_id: int
    status: str                       # sent | failed | deferred | unknown | skipped
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # deferred: seconds until worth trying again
    unreachable: bool = False         # deferred because the provider could not be reached: never left, not sent
    reason: str | None = None         # skipped: the before_each hook's reason (suppressed, no_consent …)
    provider_wait: bool = False       # deferred because the provider asked (Retry-After) for longer than
                                      # max_backoff: the channel is not called again before retry_after
    attempted: bool = True            # False: never handed to the provider in this batch (not an attempt)
    stop_run: bool = False            # unreachable because our side cannot make the request: pause the run now


BeforeEach = Callable[[Message], "str | None"]
OnResult = Callable[[Result], None]
OnWait = Callable[[float, str], None]   # (seconds the provider asked for, its words): returns once the hold is kept


class Hooks(TypedDict):
    """What the dispatcher hands a channel with each batch (console.campaigns.handoff): `send(batch, **hooks)`."""

    before_each: BeforeEach
    on_result: OnResult
    on_wait: OnWait
    stop: Stop


class Stop:
    """The dispatcher's word that a batch must end now — the campaign was paused or cancelled, the operator pressed
    Ctrl-C — with why (`reason`, for the ledger's error text). Set from another thread; the transport's waits are
    waits on it, so they end within moments of it being set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason   # before the event: whoever wakes reads it
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds`, or less when stopped meanwhile; True when stopped."""
        return self._event.wait(max(0.0, seconds))


def validate_address(kind: str, address: str | None) -> str | None:
    """Why this address cannot receive on a channel of this kind, or None when it can."""
    if not address:
        return "no address"
    if kind in ("sms", "call") and not _E164.match(address):
        return f"{address!r} is not an E.164 phone number"
    if kind == "email" and not _EMAIL.match(address):
        return f"{address!r} is not an email address"
    return None


class Channel:
    """Base for transports: validation, cost from `price` per part, rate limit and worker pool from settings.

    Subclasses implement `send_one(message) -> provider_id`, raising TemporaryFailure or PermanentFailure.
    """

    transport = "base"
    external = True          # False for dry-run: nothing leaves the machine, so claim and record may be one step

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        self.name = name
        self.settings = dict(settings or {})
        self.price = float(self.settings.get("price", 0) or 0)
        self.concurrency = max(1, int(self.settings.get("concurrency", 4)))
        self.retries = max(0, int(self.settings.get("retries", 4)))
        self.backoff = float(self.settings.get("backoff", 0.2))        # seconds, doubled per attempt
        self.max_backoff = float(self.settings.get("max_backoff", 10.0))
        # The longest one message may wait in the channel for a provider's Retry-After (an idempotent retry's, which
        # cannot be given back): the batch's lease — the dispatcher sets it; 120 s is its shortest lease.
        self.hold_limit = 120.0
        self.limiter = TokenBucket(float(self.settings.get("rate", 0) or 0))
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._wait_lock = threading.Lock()
        self._begin(None, None)
        # every wait of a transport (backoff, a provider's Retry-After) ends early when the batch is stopped
        self._sleep: Callable[[float], None] = self._nap

    # -- the contract ---------------------------------------------------------------------------------------
    def validate(self, address: str | None) -> str | None:
        return validate_address(self.name, address)

    def cost(self, message: Message) -> float:
        return round(max(1, message.parts) * self.price, 6)

    def send(self, batch: Sequence[Message], *, before_each: BeforeEach | None = None,
             on_result: OnResult | None = None, on_wait: OnWait | None = None,
             stop: Stop | None = None) -> list[Result]:
        """Send a batch with up to `concurrency` workers under the rate limit; one Result per message, in order.
        The hooks (see the module docstring) run in the worker that sends the message."""
        if not batch:
            return []
        self._begin(on_wait, stop)

        def one(message: Message) -> Result:
            result = self._send_with_retries(message, before_each)
            if on_result is not None:
                on_result(result)
            return result

        if self.concurrency == 1 or len(batch) == 1:
            return [one(m) for m in batch]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"winback-{self.name}")
        futures = [self._pool.submit(one, m) for m in batch]
        try:
            return [f.result() for f in futures]
        finally:
            # one message raised (a transport's bug): the rest of the batch is not started, and the messages other
            # workers already handed over finish — their answers are queued (on_result) before we leave, instead of
            # being dropped by a dispatcher that closes its ledger writer (tests/test_review_batch_error_records.py)
            for f in futures:
                f.cancel()
            wait(futures)

    def verify(self) -> None:
        """Check the channel can be used (connect, log in) before anything is written; ChannelError if not."""

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- for subclasses -------------------------------------------------------------------------------------
    def send_one(self, message: Message) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _begin(self, on_wait: OnWait | None, stop: Stop | None) -> None:
        """A new batch: what the last one learnt is forgotten."""
        self._unreachable: str | None = None   # set by the first message that cannot reach the provider
        self._held: str | None = None          # before_each's HOLD_BATCH or PROVIDER_HELD: for the rest too
        self._wait_until: float | None = None  # seconds the provider asked to wait (past max_backoff), if it did
        self._wait_error = ""
        self._on_wait = on_wait
        self._stop = stop

    def _nap(self, seconds: float) -> None:
        """Sleep, cut short when the batch is stopped (the caller then looks at `_stopped()`)."""
        stop = self._stop
        if stop is None:
            time.sleep(seconds)
        else:
            stop.wait(seconds)

    def _stopped(self) -> str | None:
        """Why the batch was stopped (paused, cancelled, interrupted), or None while it goes on."""
        stop = self._stop
        if stop is None or not stop.is_set():
            return None
        return stop.reason or "the batch was stopped"

    def _send_with_retries(self, message: Message, before_each: BeforeEach | None = None) -> Result:
        attempt = 0
        while True:
            if self._stopped():
                # paused, cancelled or interrupted: not handed over (again) — a message told "not now" (429) never
                # went out, so it is given back like the rest (planned, or cancelled)
                return Result(message.send_id, SKIPPED, reason=HOLD_BATCH, attempted=False)
            if self._unreachable:
                # another message of this batch found the provider unreachable: do not knock again (and wait)
                return Result(message.send_id, DEFERRED, error=f"not attempted: {self._unreachable}"[:500],
                              unreachable=True, attempted=False)
            held = self._held
            if held:
                return Result(message.send_id, SKIPPED, reason=held, attempted=False)
            waiting = self._provider_wait_left()
            if waiting is not None:
                # the provider asked us to stay away (Retry-After beyond max_backoff): do not call it again
                return Result(message.send_id, DEFERRED, error=f"not attempted: {self._wait_error}"[:500],
                              retry_after=waiting, provider_wait=True, attempted=False)
            self.limiter.acquire()
            if before_each is not None:
                # last look before the request leaves: an opt-out committed since the claim stops it here
                reason = before_each(message)
                if reason is not None:
                    if reason in (HOLD_BATCH, PROVIDER_HELD):
                        self._held = self._held or reason
                    return Result(message.send_id, SKIPPED, reason=reason, attempted=False)
            try:
                provider_id = self.send_one(message)
                return Result(message.send_id, SENT, provider_id=provider_id)
            except Unreachable as exc:
                self._unreachable = str(exc)[:300]
                return Result(message.send_id, DEFERRED, error=str(exc)[:500], unreachable=True,
                              stop_run=exc.stop_run)
            except PermanentFailure as exc:
                return Result(message.send_id, FAILED, error=str(exc)[:500])
            except AmbiguousFailure as exc:
                if exc.retry_after is not None:
                    # it may have arrived (unknown), and the provider asked us to stay away: nothing more of this
                    # batch calls it, and the dispatcher holds the channel until then (as below)
                    self._provider_asks_to_wait(exc.retry_after, str(exc))
                    return Result(message.send_id, UNKNOWN, error=str(exc)[:500], retry_after=exc.retry_after,
                                  provider_wait=True)
                return Result(message.send_id, UNKNOWN, error=str(exc)[:500])
            except TemporaryFailure as exc:
                if exc.retry_after is not None and exc.retry_after > self.max_backoff:
                    # "come back in an hour": honour it — no retry in this batch, and no other message of the
                    # batch calls the provider (the dispatcher stops calling it until then, across processes)
                    self._provider_asks_to_wait(exc.retry_after, str(exc))
                    return Result(message.send_id, DEFERRED, error=str(exc)[:500], retry_after=exc.retry_after,
                                  provider_wait=True)
                delay = self._delay(attempt, exc.retry_after)
                if attempt >= self.retries:
                    return Result(message.send_id, DEFERRED, error=str(exc)[:500], retry_after=delay)
                self._sleep(delay)
                attempt += 1

    def _provider_asks_to_wait(self, seconds: float, error: str) -> None:
        """The provider asked (Retry-After past max_backoff) to be left alone: from now no other message of this
        batch calls it, and — through `on_wait`, before this returns — no other worker or process either."""
        with self._wait_lock:
            if self._wait_until is None or seconds > self._wait_until:
                self._wait_until = seconds
                self._wait_error = f"provider asked to wait {seconds:.0f}s (Retry-After): {error}"[:300]
        if self._on_wait is not None:
            self._on_wait(seconds, error)

    def _provider_wait_over(self, seconds: float) -> None:
        """The wait of `seconds` this batch was told is over (waited in full): its other messages may go again —
        unless another answer since asked for longer."""
        with self._wait_lock:
            if self._wait_until == seconds:
                self._wait_until = None

    def _provider_wait_left(self) -> float | None:
        """How long the provider asked this batch to stay away (seconds, as it said them); None when it did not.
        The rest of the batch waits as long as the message that was told — a moment longer at most."""
        return self._wait_until

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, at least what the provider asked for, at most max_backoff."""
        base = min(self.max_backoff, self.backoff * (2**attempt))
        delay = random.uniform(base / 2, base)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay
