"""Links in messages: the campaign's tracking parameters added to a URL.

Used by the template filter `track`, the message's deep link and the `deep_link` variable alike, so every link a
campaign sends carries the same parameters.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit


def add_tracking(url: str, params: dict[str, str]) -> str:
    """*url* with *params* added to its query string (existing parameters of the same name are kept)."""
    if not url or not params:
        return url
    parts = urlsplit(url)
    existing = parts.query
    extra = urlencode({k: v for k, v in params.items() if f"{k}=" not in existing})
    query = f"{existing}&{extra}" if existing and extra else (existing or extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
