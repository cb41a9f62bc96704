"""A provider's error code and words, read out of a ledger error (`sends.error`) as the channel or the receipt wrote it.

Send answers: "Aliyun SendBatchSms: isv.MOBILE_NUMBER_ILLEGAL: 号码格式错误", "LimitExceeded.PhoneNumberDailyLimit: …",
"Twilio refused (HTTP 400): code 21211: The 'To' number …", "HTTP 400 {…}", "SMTP 550 5.1.1 …".
Delivery receipts (console/inbound/provider_records.py): Tencent and Aliyun carry the carrier's status code —
"MK:0005: 运营商内部错误", "DB:0141", "UNDELIV: …" —, Twilio "error 30007: Carrier violation".
Used by `winback campaign failures` (console.campaigns.send_errors) and `winback why` (console.policy).
"""

from __future__ import annotations

import re

# A provider's code: dotted or underscored words (isv.MOBILE_NUMBER_ILLEGAL, FailedOperation.SignatureIncorrect,
# LimitExceeded.PhoneNumberDailyLimit), a carrier's status (MK:0005, DB:0141, UNDELIV, REJECTD), or an HTTP / SMTP
# status. A phrase with spaces ("Aliyun SendSms") is not.
_CODE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*(?:[._-][A-Za-z0-9]+)+|[A-Z]{2,4}:\d{3,5}|[A-Z][A-Z0-9_]{3,}"
                   r"|(?:HTTP|SMTP) \d{3})$")
# Twilio's numbered errors: "code 21211" (the send answer), "error 30007" (a status callback): the number is the code.
_NUMBERED = re.compile(r"^(?:code|error) (\d{4,6})$")
_STATUS = re.compile(r"^((?:HTTP|SMTP) \d{3})[ :]+(.*)$", re.S)


def _code(part: str) -> str | None:
    part = part.strip()
    if _CODE.match(part):
        return part
    numbered = _NUMBERED.match(part)
    return numbered.group(1) if numbered else None


def split_error(error: str | None) -> tuple[str | None, str]:
    """(the provider's code, its words) from a ledger error; (None, the whole text) when it names no code."""
    if not error:
        return None, ""
    parts = error.split(": ")
    for i, part in enumerate(parts):
        code = _code(part)
        # a code is followed by its words; a last part alone is a code only when it is all there is ("DB:0141")
        if code is not None and (i < len(parts) - 1 or len(parts) == 1):
            return code, ": ".join(parts[i + 1:]).strip()
    for part_at, part in enumerate(parts):   # "Aliyun SendSms: HTTP 400 {…}": the status is the code
        status = _STATUS.match(part.strip())
        if status:
            return status.group(1), ": ".join([status.group(2), *parts[part_at + 1:]]).strip()
    return None, error.strip()


def short_error(error: str | None) -> str:
    """A ledger error with the provider's code first: 'isv.MOBILE_NUMBER_ILLEGAL: 号码格式错误' rather than
    'Aliyun SendBatchSms: isv.MOBILE_NUMBE…' cut at a narrow column (the Deliveries screen's why)."""
    code, text = split_error(error)
    return f"{code}: {text}" if code and text else code or text


__all__ = ["short_error", "split_error"]
