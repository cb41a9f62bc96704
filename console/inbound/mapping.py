"""Reading what providers send: request bodies, and the field mapping from winback.toml `[inbound]`.

Every provider names its fields differently (Aliyun `biz_id`/`err_code`, Twilio `MessageSid`/`MessageStatus`,
an ESP's `event`...). The mapping says where to find each field (dotted paths reach into nested JSON) and what
the provider's status words mean. See docs/inbound.md for the settings and their defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from console.config import Config, setting_error
from console.errors import BadInput

# What a receipt can say about a message; "ignore" for provider states that change nothing (queued, opened).
RECEIPT_KINDS = ("delivered", "failed", "bounced", "soft_bounce", "complaint", "ignore")

DEFAULT_STATUSES: dict[str, str] = {
    # delivered
    "delivered": "delivered", "delivrd": "delivered", "success": "delivered", "succeeded": "delivered",
    # failed for good
    "failed": "failed", "undeliv": "failed", "undelivered": "failed", "rejected": "failed",
    "rejectd": "failed", "expired": "failed", "dropped": "failed",
    # hard bounce: the address does not exist
    "bounced": "bounced", "bounce": "bounced", "hard_bounce": "bounced", "hardbounce": "bounced",
    # soft bounce: try again another day; the address stays
    "soft_bounce": "soft_bounce", "softbounce": "soft_bounce", "deferred": "soft_bounce",
    # the recipient marked it as spam
    "complaint": "complaint", "complained": "complaint", "spam": "complaint", "spamreport": "complaint",
    # in flight or engagement: nothing to record in the ledger
    "sent": "ignore", "accepted": "ignore", "queued": "ignore", "sending": "ignore", "processed": "ignore",
    "open": "ignore", "opened": "ignore", "click": "ignore", "clicked": "ignore",
}

DEFAULT_RECEIPT_FIELDS = {
    "items": "", "message_id": "message_id", "provider_id": "provider_id", "status": "status", "error": "error",
}
DEFAULT_REPLY_FIELDS = {"items": "", "from": "from", "text": "text"}

DEFAULT_MAX_BODY = 64 * 1024
DEFAULT_SECRET_ENV = "WINBACK_INBOUND_SECRET"


@dataclass
class ReceiptMapping:
    fields: dict[str, str]
    statuses: dict[str, str]   # case-folded provider word → receipt kind

    def kind_of(self, word: str) -> str | None:
        return self.statuses.get(word.strip().casefold())


def inbound_settings(config: Config) -> dict[str, Any]:
    return dict(config.inbound or {})


def receipt_mapping(config: Config, channel: str) -> ReceiptMapping:
    """Field names and status words for receipts on *channel*: [inbound.receipts.CHANNEL] over the defaults."""
    section = dict(inbound_settings(config).get("receipts", {}).get(channel, {}))
    statuses = {k.casefold(): v for k, v in DEFAULT_STATUSES.items()}
    for word, kind in dict(section.pop("statuses", {})).items():
        meaning = str(kind).strip().lower()
        if meaning not in RECEIPT_KINDS:
            # winback.toml's mistake, not the provider's: a ConfigError with its line (serve checks every mapping
            # before it starts: check_receipt_mappings), never an HTTP 400 to a provider's callback
            raise setting_error(config, f"inbound.receipts.{channel}.statuses", str(word),
                                f"{kind!r} is not what a receipt can say: write one of {', '.join(RECEIPT_KINDS)}")
        statuses[str(word).strip().casefold()] = meaning
    fields = dict(DEFAULT_RECEIPT_FIELDS)
    fields.update({k: str(v) for k, v in section.items() if k in DEFAULT_RECEIPT_FIELDS})
    return ReceiptMapping(fields, statuses)


def check_receipt_mappings(config: Config) -> None:
    """Read every [inbound.receipts.CHANNEL] mapping once, so a bad status word stops `winback serve` before it
    starts (a ConfigError naming the file, the line and the word) instead of answering providers 400."""
    for channel in inbound_settings(config).get("receipts", {}):
        receipt_mapping(config, str(channel))


def reply_fields(config: Config, channel: str) -> dict[str, str]:
    """Field names for inbound replies on *channel*: [inbound.replies.CHANNEL] over the defaults."""
    section = dict(inbound_settings(config).get("replies", {}).get(channel, {}))
    fields = dict(DEFAULT_REPLY_FIELDS)
    fields.update({k: str(v) for k, v in section.items() if k in DEFAULT_REPLY_FIELDS})
    return fields


def max_body_bytes(config: Config) -> int:
    return int(inbound_settings(config).get("max_body_bytes", DEFAULT_MAX_BODY))


# A signed request's timestamp may be this far from the server's clock ([inbound] signature_window, seconds).
DEFAULT_SIGNATURE_WINDOW = 300


def signature_window(config: Config) -> int:
    value = inbound_settings(config).get("signature_window", DEFAULT_SIGNATURE_WINDOW)
    try:
        window = int(value)
    except (TypeError, ValueError):
        window = -1
    if window <= 0:
        raise setting_error(config, "inbound", "signature_window", f"{value!r}: give a number of seconds above 0 "
                                                                   f"(default {DEFAULT_SIGNATURE_WINDOW})")
    return window


def pick(item: dict[str, Any], path: str) -> Any:
    """The value at a dotted path ("data.status") in a JSON object, None when absent."""
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def parse_body(raw: bytes, content_type: str | None) -> Any:
    """JSON (object or array) or an HTML form (application/x-www-form-urlencoded); BadInput otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("body is not UTF-8") from exc
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except ValueError as exc:
            raise BadInput(f"form body cannot be read: {exc}") from exc
        return dict(pairs)
    if kind not in ("application/json", "") and not kind.endswith("+json"):
        raise BadInput(f"unsupported content type {kind!r}: send JSON or a form")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadInput(f"body is not JSON: {exc}") from exc


def items_of(body: Any, items_path: str) -> list[dict[str, Any]]:
    """The list of records in a body: the body itself (one object or an array), or the array at items_path."""
    if items_path:
        body = pick(body, items_path) if isinstance(body, dict) else None
        if body is None:
            raise BadInput(f"no {items_path!r} in the body")
    records = body if isinstance(body, list) else [body]
    if not records:
        raise BadInput("no records in the body")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadInput(f"record {i + 1} is not an object")
    return records


def text_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | dict | list):
        raise BadInput(f"{value!r} is not a text or number")
    text = str(value).strip()
    return text or None
