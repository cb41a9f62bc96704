"""Aliyun SMS (dysmsapi 2017-05-25): `SendSms` / `SendBatchSms`, signed with ACS3-HMAC-SHA256 (V3).

Settings in `[channels.sms]` with `transport = "aliyun"`: `access_key_id_env`, `access_key_secret_env` (names of
environment variables), `sign_name` (the approved signature, without 【】), `endpoint` (default
https://dysmsapi.aliyuncs.com). The template is an approved one (console/approved_templates.py): each message
carries the template code and its parameters in `Message.fields` (`provider_template`, `template_params`).

Requests: numbers of one template whose parameters are identical share a `SendSms` (≤ 1,000 numbers, one
`TemplateParam`); the others go by `SendBatchSms` (≤ 100 numbers, `PhoneNumberJson`, `SignNameJson`,
`TemplateParamJson` — JSON strings). A request's fate applies to all its numbers: HTTP 200 and `Code == "OK"`
is sent (`BizId` is stored as every number's provider id); any other Code is a permanent failure with the
provider's Code and Message — except the throttling codes (THROTTLED), which are "retry later", and the codes of
a request refused unread (REFUSED: a wrong or disabled AccessKey, a signature that does not match, a clock more
than 15 minutes off) or refused for the account or a setting, which every number would get (SETTINGS_REFUSED: the
balance, a sign_name or template not approved, the service not activated …), which send nothing: every number back
to `planned` and the run paused with what to fix (provider_batch.RequestRefused). `OutId` carries
winback's message id (of the request's first number when several share the request: receipts carry BizId and
the phone number, which identify each row).

The signature (Aliyun "V3 signature" / ACS3-HMAC-SHA256): canonical request = method, "/", the canonical query,
the signed headers (host, content-type, x-acs-*) lower-cased and sorted, their names, the hex SHA-256 of the body;
string to sign = "ACS3-HMAC-SHA256\\n" + hex SHA-256 of the canonical request; signature = hex HMAC-SHA256 with
the AccessKey secret. Checked in tests against the signer of Aliyun's Python SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from console.channels.base import (
    FAILED,
    SENT,
    Message,
    PermanentFailure,
    TemporaryFailure,
)
from console.channels.provider_batch import (
    BatchChannel,
    Outcome,
    endpoint,
    host_header,
    provider_number,
    refusal,
    sign_name,
)
from console.clock import now_ts
from console.secrets import required_env_secret

VERSION = "2017-05-25"
ALGORITHM = "ACS3-HMAC-SHA256"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"
MAX_SAME_PARAMS = 1000     # SendSms: PhoneNumbers holds up to 1,000 numbers
MAX_BATCH = 100            # SendBatchSms: up to 100 numbers, each with its own parameters
# Codes that mean "not now" (per-number frequency limits, API throttling): retried later. The daily / monthly send
# limits set in the console are SETTINGS_REFUSED: retried, they burnt each number's attempts until it was failed.
THROTTLED = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL", "Throttling",
    "Throttling.User", "Throttling.Api", "Throttling.Concurrent", "ServiceUnavailable",
})
# Codes of a request refused before its numbers were read (Aliyun's common error codes: authentication, the
# clock, RAM permission): code → (what is wrong, what to fix); ${id} / ${secret} become the environment variables.
REFUSED: dict[str, tuple[str, str]] = {
    "InvalidTimeStamp.Expired": ("the machine's clock is off by more than 15 minutes",
                                 "fix the clock (timedatectl set-ntp true, or NTP)"),
    "SignatureDoesNotMatch": ("the signature does not match",
                              "check that ${secret} (access_key_secret_env) holds the AccessKey secret of the "
                              "AccessKey ID in ${id}, and that nothing between this machine and Aliyun changes "
                              "the request"),
    "IncompleteSignature": ("the signature is incomplete",
                            "check ${id} and ${secret} (access_key_id_env, access_key_secret_env)"),
    "InvalidAccessKeyId.NotFound": ("the AccessKey ID does not exist",
                                    "check that ${id} (access_key_id_env) holds your AccessKey ID"),
    "InvalidAccessKeyId.Inactive": ("the AccessKey is disabled",
                                    "enable it in Aliyun's RAM console, or put an active one in ${id} and ${secret}"),
    "isp.RAM_PERMISSION_DENY": ("the AccessKey's RAM user may not send SMS",
                                "grant it dysms:SendSms and dysms:SendBatchSms in Aliyun's RAM console"),
    "Forbidden.RAM": ("the AccessKey's RAM user may not send SMS",
                      "grant it dysms:SendSms and dysms:SendBatchSms in Aliyun's RAM console"),
}


# Business codes (HTTP 200) of a request refused for the account or a setting, which every number would get: refused
# like REFUSED (recording each number `failed` would burn the audience for a setting: failed recipients are never
# resent). From Aliyun's API error codes (国内消息API错误码); ${where} becomes [channels.NAME], ${id} the variable.
SETTINGS_REFUSED: dict[str, tuple[str, str]] = {
    "isv.AMOUNT_NOT_ENOUGH": ("the account balance is too low (账户余额不足)",
                              "top up the Aliyun account (or buy an SMS package for these numbers' region)"),
    "isv.OUT_OF_SERVICE": ("the account is suspended for an insufficient balance (业务停机)",
                           "top up the Aliyun account"),
    "isv.SMS_SIGNATURE_ILLEGAL": (
        "the signature is not found under this account (not approved, or not written as approved)",
        "set ${where} sign_name to an approved signature as the SMS console's 签名管理 shows it, without 【】 "
        "(and check that ${id} is an AccessKey of the same account)"),
    "isv.SMS_SIGN_ILLEGAL": ("the signature may not be used",
                             "apply for a compliant signature in the SMS console and set ${where} sign_name to it"),
    "isv.SIGN_STATE_ILLEGAL": ("the signature is 'unavailable' (不可用)",
                               "fix it in the SMS console's 签名管理, or set ${where} sign_name to an available one"),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": (
        "the signature's type does not match the template's (a verification-code signature sends codes only)",
        "set ${where} sign_name to a general-purpose (通用) signature"),
    "isv.SMS_TEMPLATE_ILLEGAL": ("the template code is not found under this account (not approved, or another "
                                 "account's)",
                                 "check the template's provider_template against the SMS console's 模板管理"),
    "isv.PRODUCT_UN_SUBSCRIPT": ("Short Message Service is not activated on this account",
                                 "activate it for the account of ${id}"),
    "isv.PRODUCT_UNSUBSCRIBE": ("Short Message Service is not activated on this account",
                                "activate it for the account of ${id}"),
    "isv.ACCOUNT_NOT_EXISTS": ("the account does not exist", "check that ${id} (access_key_id_env) holds your "
                               "AccessKey ID"),
    "isv.ACCOUNT_ABNORMAL": ("the account is abnormal (账户异常)",
                             "check the account's status (billing, overdue payment) in the Aliyun console"),
    "isv.DENY_IP_RANGE": ("this machine's IP is outside mainland China, which may not send mainland SMS",
                          "send from a machine with a mainland-China IP address"),
    "isv.DAY_LIMIT_CONTROL": ("the daily send limit set in the SMS console is reached (触发日发送限额)",
                              "raise it in the SMS console (国内消息设置, 发送量限额) or wait for the next day (China "
                              "time)"),
    "isv.MONTH_LIMIT_CONTROL": ("the monthly send limit set in the SMS console is reached (触发月发送限额)",
                                "raise it in the SMS console (国内消息设置, 发送量限额) or wait for the next month"),
}


def percent(value: str) -> str:
    """RFC 3986 encoding as the V3 signature wants it (space = %20, '*' = %2A, '~' kept)."""
    return quote(value, safe="~")


def canonical_query(query: Mapping[str, str]) -> str:
    return "&".join(f"{percent(k)}={percent(str(v))}" for k, v in sorted(query.items()))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """The headers V3 signs: host, content-type and every x-acs-* header (lower-cased, sorted)."""
    names = {k.lower() for k in headers}
    return sorted(n for n in names if n in ("host", "content-type") or n.startswith("x-acs-"))


def signature(secret: str, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
              signed: Sequence[str], body_sha256: str) -> str:
    """The hex ACS3-HMAC-SHA256 signature of one request."""
    lower = {k.lower(): str(v).strip() for k, v in headers.items()}
    canonical_headers = "".join(f"{name}:{lower.get(name, '')}\n" for name in signed)
    canonical = "\n".join([method.upper(), path or "/", canonical_query(query), canonical_headers,
                           ";".join(signed), body_sha256])
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_request(key_id: str, secret: str, *, action: str, host: str, body: bytes, query: Mapping[str, str],
                 content_type: str = "application/x-www-form-urlencoded", when: int | None = None,
                 nonce: str | None = None) -> dict[str, str]:
    """Every header of a signed POST / request, Authorization included."""
    stamp = datetime.fromtimestamp(now_ts() if when is None else when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host,
        "content-type": content_type,
        "x-acs-action": action,
        "x-acs-version": VERSION,
        "x-acs-date": stamp,
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": body_hash,
    }
    names = signed_header_names(headers)
    sig = signature(secret, "POST", "/", query, headers, names, body_hash)
    headers["authorization"] = f"{ALGORITHM} Credential={key_id},SignedHeaders={';'.join(names)},Signature={sig}"
    return headers


def approved(message: Message, transport: str) -> tuple[str, dict[str, str]]:
    """The approved template code and the parameters of one message (PermanentFailure when it has none, or when
    its template was approved at another provider: a code means nothing elsewhere)."""
    code = message.fields.get("provider_template")
    params = message.fields.get("template_params")
    if not code or not isinstance(params, dict):
        raise PermanentFailure("not sent: the template is not an approved provider template (it needs "
                               "provider_template, approved_text and params; see docs/channels.md)")
    provider = message.fields.get("provider")
    if provider != transport:
        raise PermanentFailure(f"not sent: the template is approved at {provider}, but this channel sends "
                               f"through {transport}")
    return str(code), {str(k): str(v) for k, v in params.items()}


class AliyunChannel(BatchChannel):
    transport = "aliyun"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        where = f"[channels.{name}]"
        s = self.settings
        self.key_id = required_env_secret(s, "access_key_id_env", where)
        self._env = {"id": str(s.get("access_key_id_env")), "secret": str(s.get("access_key_secret_env"))}
        self.secret = required_env_secret(s, "access_key_secret_env", where)
        self._secrets.append(self.secret)
        self.sign_name = sign_name(s, where, "Aliyun")
        self.url = endpoint(s, DEFAULT_ENDPOINT, where)
        self.host = host_header(self.url)

    def requests(self, batch: Sequence[Message]) -> list[list[Message]]:
        """Same template and parameters → one SendSms (≤ 1,000); the rest by template in SendBatchSms (≤ 100)."""
        groups: dict[tuple[str, str], list[Message]] = {}
        for m in batch:
            code, params = _key(m)
            groups.setdefault((code, params), []).append(m)
        out: list[list[Message]] = []
        singles: dict[str, list[Message]] = {}
        for (code, _params), members in groups.items():
            if len(members) == 1:
                singles.setdefault(code, []).append(members[0])
                continue
            out.extend(members[i:i + MAX_SAME_PARAMS] for i in range(0, len(members), MAX_SAME_PARAMS))
        for members in singles.values():
            out.extend(members[i:i + MAX_BATCH] for i in range(0, len(members), MAX_BATCH))
        return out

    def send_request(self, chunk: list[Message]) -> dict[int, Outcome]:
        failed: dict[int, Outcome] = {}
        going: list[tuple[Message, str, dict[str, str]]] = []
        for m in chunk:
            try:
                going.append((m, *approved(m, self.transport)))
            except PermanentFailure as exc:
                failed[m.send_id] = Outcome(FAILED, error=str(exc))
        if not going:
            return failed
        code = going[0][1]
        same = all(p == going[0][2] for _, _, p in going)
        out_id = going[0][0].message_id.strip("<>")[:250]
        numbers = [provider_number(m.to) for m, _, _ in going]
        if same:
            action = "SendSms"
            params = {"PhoneNumbers": ",".join(numbers), "SignName": self.sign_name, "TemplateCode": code,
                      "TemplateParam": json.dumps(going[0][2], ensure_ascii=False), "OutId": out_id}
        else:
            action = "SendBatchSms"
            params = {"PhoneNumberJson": json.dumps(numbers),
                      "SignNameJson": json.dumps([self.sign_name] * len(going), ensure_ascii=False),
                      "TemplateCode": code,
                      "TemplateParamJson": json.dumps([p for _, _, p in going], ensure_ascii=False),
                      "OutId": out_id}
        body = urlencode(params).encode("utf-8")
        headers = sign_request(self.key_id, self.secret, action=action, host=self.host, body=body, query={})
        status, reply, text = self.post(str(self.url.copy_with(path="/")), body, headers)
        got = reply.get("Code") if isinstance(reply, dict) else None
        message = reply.get("Message") if isinstance(reply, dict) else None
        if status == 200 and got == "OK":
            biz_id = str(reply.get("BizId") or "") or None
            return {**failed, **{m.send_id: Outcome(SENT, provider_id=biz_id) for m, _, _ in going}}
        if (isinstance(got, str) and got in THROTTLED) or status == 429:
            raise TemporaryFailure(f"Aliyun {action}: {got}: {message}")
        known = (REFUSED.get(got) or SETTINGS_REFUSED.get(got)) if isinstance(got, str) else None
        if known is not None:
            problem, fix = known
            raise refusal("Aliyun", str(got), message, problem, fix, chunk[0].campaign,
                          {"id": f"${self._env['id']}", "secret": f"${self._env['secret']}",
                           "where": f"[channels.{self.name}]"})
        if got is None:
            raise PermanentFailure(f"Aliyun {action}: HTTP {status}: {text}")
        raise PermanentFailure(f"Aliyun {action}: {got}: {message}")


def _key(m: Message) -> tuple[str, str]:
    """Grouping key: template code and parameters (messages without them are grouped apart, and fail)."""
    params = m.fields.get("template_params")
    return (str(m.fields.get("provider_template") or ""),
            json.dumps(params, sort_keys=True, ensure_ascii=False) if isinstance(params, dict) else "")
