"""How long a provider asks us to wait: its Retry-After header, in seconds or as an HTTP-date (RFC 9110 10.2.3).

Read by every HTTP transport (console.channels.http, email_api, twilio, provider_batch); what a long wait does is
the channel's and the dispatcher's business (console.channels.base, console.campaigns.pacing).
"""

from __future__ import annotations

import math
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

# The longest Retry-After believed: 'inf' or 1e300 from a broken proxy cannot be a time (int(inf), a not_before SQLite
# cannot store, a date past year 9999 crashed the dispatcher), so anything longer is read as a week.
MAX_RETRY_AFTER = 7 * 86400


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds the provider asks us to wait: Retry-After as seconds or as an HTTP-date (RFC 9110 10.2.3)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # 'nan' is no time: not a wait; 'inf', 1e300: at most MAX_RETRY_AFTER
        return None if math.isnan(seconds) else min(MAX_RETRY_AFTER, max(0.0, seconds))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:   # an HTTP-date is GMT; a date without a zone is taken as such
        when = when.replace(tzinfo=UTC)
    from console.clock import now

    return min(MAX_RETRY_AFTER, max(0.0, (when - now()).total_seconds()))
