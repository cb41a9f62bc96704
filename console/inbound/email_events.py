"""What SendGrid's event webhook and Mailgun's webhooks post, read into receipts and opt-outs (console/inbound/
apply.py), and how each provider signs them. Routes: console/inbound/email_callbacks.py.

SendGrid (a JSON array of events): delivered → delivered; bounce → bounced (type "blocked": a temporary block,
recorded as soft_bounce); dropped → failed; spamreport → complaint; unsubscribe / group_unsubscribe → an opt-out
of that address; processed, deferred, open, click, group_resubscribe → nothing. Matched by `winback_id` (the
custom_args console/channels/sendgrid.py sets) or by the start of `sg_message_id` (= the X-Message-Id stored).
Signed (when a verification key is configured): ECDSA P-256 / SHA-256 over the X-Twilio-Email-Event-Webhook-
Timestamp header followed by the raw body; the signature (base64 DER) in X-Twilio-Email-Event-Webhook-Signature,
the public key base64 DER (SubjectPublicKeyInfo) as SendGrid's settings page shows it.

Mailgun (one JSON object per event: {"signature": {timestamp, token, signature}, "event-data": {…}}): delivered →
delivered; failed with severity permanent → bounced when the reason is a bounce, else failed (temporary failures:
nothing, Mailgun retries); complained → complaint; unsubscribed → an opt-out; accepted, opened, clicked → nothing.
Matched by user-variables.winback_id (`v:winback_id`) or message.headers.message-id (the id stored, without <>).
Signed: hex HMAC-SHA256 under the webhook signing key of timestamp + token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from console.config import Config
from console.errors import BadInput
from console.inbound.apply import Receipt, Reply
from console.inbound.provider_records import Read, _detail, _text, message_id_of, objects_of
from console.policy.suppression import normalise_address

SENDGRID_SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
SENDGRID_TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"

SENDGRID_RECEIPTS = {"delivered": "delivered", "bounce": "bounced", "dropped": "failed", "spamreport": "complaint"}
SENDGRID_IGNORED = frozenset({"processed", "deferred", "open", "click", "group_resubscribe"})
SENDGRID_OPT_OUTS = frozenset({"unsubscribe", "group_unsubscribe"})
MAILGUN_IGNORED = frozenset({"accepted", "opened", "clicked", "stored", "rejected"})
MAILGUN_BOUNCE_REASONS = frozenset({"bounce", "suppress-bounce"})
# The reply text an opt-out event is recorded with: an opt-out keyword (console/policy/optout.py), so it goes the
# same way as an SMS STOP: journal, suppression of the address, receipt `opt_out`, brakes.
OPT_OUT_TEXT = "unsubscribe"


# -- signatures --------------------------------------------------------------------------------------------------
def sendgrid_public_key(text: str) -> Any:
    """The ECDSA public key from SendGrid's settings (base64 DER, or a PEM block); ValueError if unreadable."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    text = text.strip()
    try:
        key = (load_pem_public_key(text.encode()) if text.startswith("-----BEGIN")
               else load_der_public_key(base64.b64decode(text, validate=True)))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise ValueError(f"not a base64 DER public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve (ECDSA) public key")
    return key


def sendgrid_signature_valid(key: Any, signature: str | None, timestamp: str | None, body: bytes) -> bool:
    """True when `signature` (base64 DER ECDSA) signs timestamp + body under `key`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature or not timestamp:
        return False
    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), timestamp.strip().encode() + body,
                   ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def mailgun_signature_valid(signing_key: str, timestamp: str, token: str, signature: str) -> bool:
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


# -- SendGrid ----------------------------------------------------------------------------------------------------
def _email(raw: Any, config: Config, channel: str) -> str | None:
    text = _text(raw)
    if text is None:
        return None
    try:
        return normalise_address(text, channel, config.default_region)
    except BadInput:
        return None


def sendgrid_events(body: Any, config: Config, channel: str) -> Read:
    out = Read()
    for seq, event in objects_of(body, out, "event"):
        kind = (_text(event.get("event")) or "").lower()
        if kind in SENDGRID_IGNORED:
            continue
        if kind in SENDGRID_OPT_OUTS:
            address = _email(event.get("email"), config, channel)
            if address is None:
                out.skipped.append(f"event {seq}: {kind} without a readable email")
                continue
            group = _text(event.get("asm_group_id"))
            scope = f"sendgrid {kind}" + (f" group {group}" if group else "")
            key = _text(event.get("sg_event_id"))
            out.replies.append(Reply(seq, address, OPT_OUT_TEXT, scope, f"sendgrid:{key}" if key else None))
            continue
        if kind not in SENDGRID_RECEIPTS:
            out.skipped.append(f"event {seq}: event {event.get('event')!r} is not one winback knows")
            continue
        message_id = message_id_of(event.get("winback_id"))
        provider_id = (_text(event.get("sg_message_id")) or "").split(".")[0] or None
        if message_id is None and provider_id is None:
            out.skipped.append(f"event {seq}: no winback_id or sg_message_id")
            continue
        receipt = SENDGRID_RECEIPTS[kind]
        status = kind
        if kind == "bounce" and (_text(event.get("type")) or "").lower() == "blocked":
            receipt, status = "soft_bounce", "bounce:blocked"
        detail = None if receipt == "delivered" else _detail(event.get("status"), event.get("reason"))
        out.receipts.append(Receipt(seq, message_id, provider_id, receipt, status, detail))
    return out


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- Mailgun -----------------------------------------------------------------------------------------------------
def mailgun_event(data: dict[str, Any], config: Config, channel: str) -> Read:
    """One webhook's event-data."""
    out = Read()
    kind = (_text(data.get("event")) or "").lower()
    if kind in MAILGUN_IGNORED:
        return out
    if kind == "unsubscribed":
        address = _email(data.get("recipient"), config, channel)
        if address is None:
            out.skipped.append("unsubscribed without a readable recipient")
        else:
            key = _text(data.get("id"))
            out.replies.append(Reply(1, address, OPT_OUT_TEXT, "mailgun unsubscribed",
                                     f"mailgun:{key}" if key else None))
        return out
    variables = _object(data.get("user-variables"))
    headers = _object(_object(data.get("message")).get("headers"))
    message_id = message_id_of(variables.get("winback_id"))
    provider_id = (_text(headers.get("message-id")) or "").strip("<>") or None
    status = _object(data.get("delivery-status"))
    if kind == "delivered":
        receipt, detail = "delivered", None
    elif kind == "complained":
        receipt, detail = "complaint", "complained"
    elif kind == "failed":
        severity = (_text(data.get("severity")) or "").lower()
        if severity != "permanent":
            return out   # a temporary failure: Mailgun keeps trying, nothing to record yet
        reason = (_text(data.get("reason")) or "").lower()
        receipt = "bounced" if reason in MAILGUN_BOUNCE_REASONS else "failed"
        detail = _detail(status.get("code"), status.get("message") or status.get("description"), reason)
        kind = f"failed:{reason}" if reason else kind
    else:
        out.skipped.append(f"event {data.get('event')!r} is not one winback knows")
        return out
    if message_id is None and provider_id is None:
        out.skipped.append("no user-variables.winback_id or message.headers.message-id")
        return out
    out.receipts.append(Receipt(1, message_id, provider_id, receipt, kind, detail))
    return out
