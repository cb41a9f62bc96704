"""What a template may contain and produce: the variables on the allow-list, each channel's parts, the
filters, and the caps on output, work and time every render is held to.
"""

from __future__ import annotations

from typing import Any

from jinja2.exceptions import SecurityError

# Longest rendered text of one part (subject, body, html ...). An SMS is at most 500 characters; an HTML email
# body is rarely over 100 KB. Anything larger is a template bug or an attack, not copy.
MAX_OUTPUT = 100_000
MAX_SOURCE = 50_000
MAX_LOOP_DEPTH = 2
# What one render may build on the way (characters made by operators and join) and how long it may take: far
# above any real message (microseconds, a few KB), far below what stalls a campaign or exhausts memory.
MAX_WORK = 10 * MAX_OUTPUT
MAX_INT_BITS = 1024        # about 300 digits: money and counts need 20
RENDER_SECONDS = 5.0

OPEN = "*"  # a mapping whose keys are not known in advance (user.attributes)

# The allow-list: every variable a template may use. console/message_context.py builds exactly these.
VARIABLES: dict[str, Any] = {
    "user": {
        "name": None, "first_name": None, "external_id": None, "region": None, "gender": None,
        "age_band": None, "occupation": None, "locale": None, "timezone": None, "attributes": OPEN,
    },
    "profile": {
        "days_dormant": None, "days_since_order": None, "last_seen": None, "last_order_at": None,
        "last_action": None, "last_category": None, "last_item": None, "top_category": None,
        "orders": None, "spend": None, "aov": None, "layer": None, "dormancy": None,
    },
    "offer": {
        "name": None, "kind": None, "amount": None, "threshold": None, "currency": None, "expires": None,
        "validity_days": None, "code": None, "multiplier": None, "trial_days": None, "description": None,
    },
    "brand": None,
    "links": {"unsubscribe": None, "home": None, "deep_link": None},
    "recommendations": {
        "last_item": None, "last_item_kind": None, "top_category": None, "best_sellers": None,
        "also_bought": None,
    },
    "campaign": {"name": None},
}

# Which parts each channel has, which it requires, and which file keys it accepts.
PARTS = {
    "sms": ("body",),
    "email": ("subject", "preheader", "body", "html"),
    "push": ("title", "body", "link"),
    "call": ("body",),
    "gift": ("body",),
}
REQUIRED = {
    "sms": ("body",), "email": ("subject", "body"), "push": ("title", "body"), "call": ("body", "fields"),
    "gift": ("fields",),
}
META_KEYS = ("name", "channel", "group", "variant", "style", "language", "description", "fields")
ALL_KEYS = META_KEYS + ("subject", "preheader", "body", "html", "title", "link")

ALLOWED_FILTERS = (
    "default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "replace", "round", "int",
    "float", "abs", "length", "count", "first", "last", "join", "string", "e", "escape", "striptags",
    "wordcount", "urlencode", "money", "date", "track",
)


class RenderLimit(SecurityError):
    """A render would produce more text, larger numbers or more work than the caps allow."""
