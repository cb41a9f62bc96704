"""A token bucket: at most `rate` messages per second on average, bursts up to `burst`.

Shared by every worker thread of one channel, so the limit holds for the channel as a whole.
"""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Thread-safe token bucket. `rate` <= 0 means unlimited."""

    def __init__(self, rate: float, burst: float | None = None, *, clock=time.monotonic, sleep=time.sleep):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, self.rate))
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def try_acquire(self, n: float = 1) -> float:
        """Take n tokens if available and return 0; otherwise take nothing and return seconds to wait."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            self._refill()
            if self._tokens >= n - 1e-9:   # tolerance: float refills land a hair short of whole tokens
                self._tokens = max(0.0, self._tokens - n)
                return 0.0
            return (n - self._tokens) / self.rate

    def acquire(self, n: float = 1) -> None:
        """Block until n tokens are available, then take them."""
        while True:
            wait = self.try_acquire(n)
            if wait <= 0:
                return
            self._sleep(wait)
