"""What Aliyun, Tencent and Twilio post back, read into the receipts and replies console/inbound/apply.py records.

Each provider names its fields its own way and says "delivered" its own way (Aliyun `success: true`, Tencent
`report_status: "SUCCESS"`, Twilio `MessageStatus=delivered`); this module only translates. A record that cannot
be used (no id, a status we do not know, a sender that is not a phone number) is skipped and named in `skipped`:
the provider cannot fix it by retrying, so it never refuses the rest of the batch. A reply carries the provider's
id for it (Aliyun sequence_id, Twilio MessageSid; Tencent's time and text) so that a retried callback counts once.

Matching: Aliyun's `biz_id` and `out_id` are shared by every number of one request (console/channels/aliyun.py),
so an Aliyun receipt also carries the number and matches only the send to it. Tencent's `sid` (SerialNo) and
Twilio's MessageSid are per message. winback's own message id (`out_id`, Twilio's `wb=` callback parameter) is
sent without its angle brackets and put back here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from console.config import Config
from console.errors import BadInput
from console.inbound.apply import Receipt, Reply
from console.policy.suppression import normalise_address


@dataclass
class Read:
    receipts: list[Receipt] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # "record 3: no sid", for the log line


def records_of(body: Any) -> list[Any]:
    """A JSON array of records, or one record."""
    return body if isinstance(body, list) else [body]


def objects_of(body: Any, out: Read, noun: str = "record") -> Iterator[tuple[int, dict[str, Any]]]:
    """(position from 1, record) for each record that is a JSON object; the others are noted in out.skipped."""
    for seq, record in enumerate(records_of(body), start=1):
        if isinstance(record, dict):
            yield seq, record
        else:
            out.skipped.append(f"{noun} {seq}: not an object")


def message_id_of(value: Any) -> str | None:
    """winback's message id as stored in sends.message_id: ids we made (`wb.…@…`) travel without their <>."""
    text = _text(value)
    if text and not text.startswith("<") and text.startswith("wb.") and "@" in text:
        return f"<{text}>"
    return text


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def _phone(raw: Any, config: Config, channel: str, country: Any = None) -> str | None:
    """A provider's phone number (national, with a country code apart, or E.164) in the form sends.address has."""
    text = _text(raw)
    if text is None:
        return None
    code = _text(country)
    if code and not text.startswith("+"):
        text = f"+{code.lstrip('+')}{text}"
    tries = [(text, region) for region in dict.fromkeys([config.default_region, "CN"])]
    if text.isdigit():
        # a number outside the default region goes to Aliyun as country code + number without '+'
        # (provider_number), and its receipts and replies carry it back that way
        tries.append((f"+{text}", "CN"))
    for number, region in tries:
        try:
            return normalise_address(number, channel, region)
        except BadInput:
            continue
    return None


def _detail(*parts: Any) -> str | None:
    words = [t for t in (_text(p) for p in parts) if t]
    return ": ".join(dict.fromkeys(words))[:500] or None


def _reply_key(provider: str, sender: str, sequence: Any, sent_at: Any, text: str) -> str | None:
    """What identifies one reply when the provider posts it again: its sequence id, else its time and text."""
    if _text(sequence):
        return f"{provider}:{sender}:{_text(sequence)}"
    if _text(sent_at):
        return f"{provider}:{sender}:{_text(sent_at)}:{text}"
    return None


# -- Aliyun (dysmsapi HTTP batch push: SmsReport 状态报告, SmsUp 上行) ------------------------------------------------
def aliyun_receipts(body: Any, config: Config, channel: str) -> Read:
    """[{phone_number, send_time, report_time, success, err_code, err_msg, sms_size, biz_id, out_id}, …]"""
    out = Read()
    for seq, record in objects_of(body, out):
        biz_id, out_id = _text(record.get("biz_id")), message_id_of(record.get("out_id"))
        success = _text(record.get("success"))
        if biz_id is None and out_id is None:
            out.skipped.append(f"record {seq}: no biz_id or out_id")
            continue
        if success not in ("true", "false", "1", "0"):
            out.skipped.append(f"record {seq}: success is {record.get('success')!r}, not true or false")
            continue
        delivered = success in ("true", "1")
        code = _text(record.get("err_code")) or ("DELIVERED" if delivered else "FAILED")
        # the number tells apart the rows of one request (one BizId); an unreadable one matches no row
        address = _phone(record.get("phone_number"), config, channel) or f"?{_text(record.get('phone_number'))}"
        out.receipts.append(Receipt(seq, out_id, biz_id, "delivered" if delivered else "failed", code,
                                    None if delivered else _detail(code, record.get("err_msg")), address))
    return out


def aliyun_replies(body: Any, config: Config, channel: str) -> Read:
    """[{phone_number, content, sign_name, dest_code, sequence_id, send_time}, …]"""
    out = Read()
    for seq, record in objects_of(body, out):
        sender = _phone(record.get("phone_number"), config, channel)
        text = record.get("content")
        if sender is None or not isinstance(text, str):
            out.skipped.append(f"record {seq}: no readable phone_number or content")
            continue
        sign = _text(record.get("sign_name"))
        out.replies.append(Reply(seq, sender, text, f"aliyun sign {sign}" if sign else "aliyun",
                                 _reply_key("aliyun", sender, record.get("sequence_id"), record.get("send_time"),
                                            text)))
    return out


# -- Tencent (sms 2021-01-11 callbacks: 短信下发状态, 短信回复) ---------------------------------------------------------
def tencent_receipts(body: Any) -> Read:
    """[{user_receive_time, nationcode, mobile, report_status: SUCCESS|FAIL, errmsg, description, sid}, …]"""
    out = Read()
    for seq, record in objects_of(body, out):
        sid = _text(record.get("sid"))
        status = (_text(record.get("report_status")) or "").upper()
        if sid is None:
            out.skipped.append(f"record {seq}: no sid")
            continue
        if status not in ("SUCCESS", "FAIL"):
            out.skipped.append(f"record {seq}: report_status is {record.get('report_status')!r}, not SUCCESS or FAIL")
            continue
        delivered = status == "SUCCESS"
        out.receipts.append(Receipt(seq, None, sid, "delivered" if delivered else "failed", status,
                                    None if delivered else _detail(record.get("errmsg"), record.get("description"))))
    return out


def tencent_replies(body: Any, config: Config, channel: str) -> Read:
    """{nationcode, mobile, text, sign, extend, time} (one object; an array of them is read too)."""
    out = Read()
    for seq, record in objects_of(body, out):
        sender = _phone(record.get("mobile"), config, channel, record.get("nationcode"))
        text = record.get("text")
        if sender is None or not isinstance(text, str):
            out.skipped.append(f"record {seq}: no readable mobile or text")
            continue
        sign = _text(record.get("sign"))
        out.replies.append(Reply(seq, sender, text, f"tencent sign {sign}" if sign else "tencent",
                                 _reply_key("tencent", sender, None, record.get("time"), text)))
    return out


# -- Twilio (status callback, incoming message webhook; form fields) ----------------------------------------------
# MessageStatus → receipt kind; states in flight (queued, sending, sent, accepted, scheduled) change nothing.
TWILIO_STATUSES = {"delivered": "delivered", "read": "delivered", "undelivered": "failed", "failed": "failed",
                   "canceled": "failed"}
TWILIO_IN_FLIGHT = frozenset({"queued", "sending", "sent", "accepted", "scheduled", "receiving", "received"})


def twilio_receipt(form: dict[str, str], query: dict[str, str]) -> Read:
    out = Read()
    sid = _text(form.get("MessageSid") or form.get("SmsSid"))
    message_id = message_id_of(query.get("wb"))
    status = (_text(form.get("MessageStatus") or form.get("SmsStatus")) or "").lower()
    if sid is None and message_id is None:
        out.skipped.append("no MessageSid")
    elif status in TWILIO_STATUSES:
        kind = TWILIO_STATUSES[status]
        detail = None if kind == "delivered" else _detail(
            f"error {form['ErrorCode']}" if form.get("ErrorCode") else status, form.get("ErrorMessage"))
        out.receipts.append(Receipt(1, message_id, sid, kind, status, detail))
    elif status in TWILIO_IN_FLIGHT:
        out.receipts.append(Receipt(1, message_id, sid, "ignore", status, None))
    else:
        out.skipped.append(f"MessageStatus {status!r} is not one winback knows")
    return out


def twilio_reply(form: dict[str, str], config: Config, channel: str) -> Read:
    out = Read()
    sender = _phone(form.get("From"), config, channel)
    text = form.get("Body")
    if sender is None or text is None:
        out.skipped.append("no readable From or Body")
        return out
    to = _text(form.get("To")) or _text(form.get("MessagingServiceSid"))
    sid = _text(form.get("MessageSid") or form.get("SmsSid"))
    out.replies.append(Reply(1, sender, text, f"twilio to {to}" if to else "twilio", f"twilio:{sid}" if sid else None))
    return out
