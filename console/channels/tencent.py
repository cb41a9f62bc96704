"""Tencent Cloud SMS (sms 2021-01-11 `SendSms`), signed with TC3-HMAC-SHA256.

Settings in `[channels.sms]` with `transport = "tencent"`: `secret_id_env`, `secret_key_env` (names of environment
variables), `sdk_app_id` (the SmsSdkAppId of the SMS application), `sign_name` (the approved signature, without
【】), `region` (default ap-guangzhou), `endpoint` (default https://sms.tencentcloudapi.com). The template is an
approved one (console/approved_templates.py): each message carries the template ID and its parameters `{1}`, `{2}`
… in `Message.fields` (`provider_template`, `template_params`).

Recipients of one template whose parameters are identical share one request (≤ 200 numbers, one
`TemplateParamSet`). Results are **per number** (`Response.SendStatusSet[]`): `Code == "Ok"` is sent, with
`SerialNo` stored as the provider id; any other code (LimitExceeded.PhoneNumberDailyLimit …) is that number
failed with the provider's code and message — a batch can partly succeed. A `Response.Error` is the whole
request: RequestLimitExceeded-style codes are "retry later", InternalError codes `unknown` (it may have been
taken), `AuthFailure.*` (a wrong SecretId or SecretKey, a clock more than 5 minutes off: refused before the
numbers were read, nothing sent) and SETTINGS_REFUSED (a wrong sdk_app_id, a sign_name or template ID not approved,
the SMS package used up …: every number would get it) every number back to `planned` and the run paused with what
to fix (provider_batch.RequestRefused), MarketingSendTimeConstraint (marketing SMS only 08:00–22:00 China time)
"not now" until 08:00, the others a permanent failure with the provider's code and message. `SessionContext` carries winback's
message id (of the request's first number when several share it; SerialNo identifies each number).

The signature (TC3-HMAC-SHA256): canonical request = "POST", "/", "", "content-type:…\\nhost:…\\n",
"content-type;host", hex SHA-256 of the JSON body; string to sign = algorithm, X-TC-Timestamp, "date/sms/
tc3_request", hex SHA-256 of the canonical request; key = HMAC chain "TC3"+key → date → "sms" → "tc3_request".
The timestamp is the business clock (console.clock: WINBACK_NOW in tests); Tencent refuses a request more than
5 minutes off. Checked in tests against the signer of Tencent's Python SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from console.channel_names import MAINLAND
from console.channels.aliyun import approved
from console.channels.base import (
    FAILED,
    SENT,
    AmbiguousFailure,
    Message,
    PermanentFailure,
    TemporaryFailure,
)
from console.channels.provider_batch import (
    BatchChannel,
    Outcome,
    endpoint,
    host_header,
    refusal,
    required,
    sign_name,
)
from console.clock import now_ts
from console.secrets import required_env_secret

SERVICE = "sms"
VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json"   # as the SDK sends it (the body is UTF-8 JSON)
DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
DEFAULT_REGION = "ap-guangzhou"
MAX_NUMBERS = 200
# Request-level codes that mean "not now". The daily limits set in the console are SETTINGS_REFUSED (DAILY_LIMITS).
THROTTLED_PREFIXES = ("RequestLimitExceeded",)
# Tencent Cloud's common AuthFailure.* codes (the request refused unread): code → (what is wrong, what to fix);
# ${id} / ${key} become the environment variables. Another AuthFailure code gets AUTH_OTHER.
AUTH_REFUSED: dict[str, tuple[str, str]] = {
    "AuthFailure.SignatureExpire": ("the machine's clock is off by more than 5 minutes",
                                    "fix the clock (timedatectl set-ntp true, or NTP)"),
    "AuthFailure.SignatureFailure": ("the signature does not match",
                                     "check that ${key} (secret_key_env) holds the SecretKey of the SecretId in "
                                     "${id}, and that nothing between this machine and Tencent changes the request"),
    "AuthFailure.SecretIdNotFound": ("the SecretId does not exist or is disabled",
                                     "check that ${id} (secret_id_env) holds an active SecretId (Tencent Cloud "
                                     "console, API keys)"),
    "AuthFailure.InvalidSecretId": ("the SecretId is not a Tencent Cloud API key",
                                    "put an API key's SecretId in ${id} (secret_id_env)"),
    "AuthFailure.UnauthorizedOperation": ("the key's CAM user may not send SMS",
                                          "grant it sms:SendSms in Tencent Cloud's CAM console"),
}
AUTH_OTHER = ("the API key was not accepted", "check ${id} and ${key} (secret_id_env, secret_key_env)")
# Request-level codes about the settings or the account, which every number would get: refused like AuthFailure
# (recording each number `failed` would burn the audience for a setting: failed recipients are never resent).
SETTINGS_REFUSED: dict[str, tuple[str, str]] = {
    "FailedOperation.SmsSdkAppIdVerifyFail": ("the SdkAppId is not an SMS application of this account",
                                              "check [channels.sms] sdk_app_id (SMS console, 应用管理: SDKAppID)"),
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": ("the SdkAppId is not an SMS application of this account",
                                                    "check [channels.sms] sdk_app_id (SMS console, 应用管理: "
                                                    "SDKAppID)"),
    "InvalidParameterValue.SdkAppIdNotExist": ("the SdkAppId does not exist",
                                               "check [channels.sms] sdk_app_id (SMS console, 应用管理: SDKAppID)"),
    "FailedOperation.SignatureIncorrectOrUnapproved": (
        "the signature is not approved (or not written as approved)",
        "set [channels.sms] sign_name to an approved signature's content as the SMS console's 签名管理 shows it"),
    "FailedOperation.TemplateIncorrectOrUnapproved": (
        "the template ID is not approved, or not with this signature",
        "check the template's provider_template against the SMS console's 正文模板管理 (a mainland template for "
        "+86 numbers)"),
    "FailedOperation.InsufficientBalanceInSmsPackage": ("the SMS package is used up",
                                                        "buy a package (套餐包) in the SMS console"),
    "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny": (
        "an individual (non-enterprise) account may not send marketing SMS", "send from an enterprise-verified account"),
    "UnauthorizedOperation.SerivceSuspendDueToArrears": ("the SMS service is suspended for arrears",
                                                         "settle the account in the Tencent Cloud console"),
    "UnsupportedRegion": ("the SMS API does not serve this region",
                          "set [channels.sms] region to ap-guangzhou, ap-beijing or ap-nanjing (or leave it out)"),
    "UnauthorizedOperation.RequestIpNotInWhitelist": ("this machine's IP is not in the application's IP whitelist",
                                                      "add it in the SMS console (应用管理)"),
}
# The daily send limits set in the SMS console ("exceeds the set upper limit"): every number would get them until the
# limit is raised or the day turns — retried they burnt each number's attempts, or failed every number at once.
DAILY_LIMITS = ("LimitExceeded.AppDailyLimit", "LimitExceeded.DailyLimit", "LimitExceeded.AppMainlandChinaDailyLimit",
                "LimitExceeded.AppGlobalDailyLimit", "LimitExceeded.AppCountryOrRegionDailyLimit")
SETTINGS_REFUSED.update({code: ("the daily send limit set in the SMS console is reached",
                                "raise it in the SMS console (应用管理 > 基础配置, or the frequency policy) or resume the "
                                "next day (China time)") for code in DAILY_LIMITS})
# Refused for the signature or template: for +86 numbers a setting, for the others a template they cannot get.
MAINLAND_ONLY = ("FailedOperation.SignatureIncorrectOrUnapproved", "FailedOperation.TemplateIncorrectOrUnapproved")
# Tencent takes marketing SMS only from 08:00 to 22:00 China time: a request outside that is "not now", until 08:00.
MARKETING_HOURS = "FailedOperation.MarketingSendTimeConstraint"
CHINA_OFFSET = 8 * 3600
MARKETING_START = 8 * 3600


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _header_value(name: str, value: str) -> str:
    return value.strip().lower() if name == "x-tc-action" else value.strip()


def signature(secret_key: str, *, timestamp: int, host: str, body: bytes, content_type: str = CONTENT_TYPE,
              service: str = SERVICE, signed: Sequence[str] = ("content-type", "host"),
              headers: dict[str, str] | None = None) -> str:
    """The hex TC3-HMAC-SHA256 signature of a POST / with this JSON body."""
    values = {"content-type": content_type, "host": host, **{k.lower(): v for k, v in (headers or {}).items()}}
    # Tencent's docs lower-case the value of x-tc-action when it is signed; the others go as sent
    canonical_headers = "".join(f"{name}:{_header_value(name, values.get(name, ''))}\n" for name in signed)
    canonical = "\n".join(["POST", "/", "", canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_request(secret_id: str, secret_key: str, *, action: str, host: str, region: str, body: bytes,
                 when: int | None = None) -> dict[str, str]:
    """Every header of a signed SendSms-style POST /, Authorization included."""
    timestamp = now_ts() if when is None else when
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    sig = signature(secret_key, timestamp=timestamp, host=host, body=body)
    return {
        "Host": host,
        "Content-Type": CONTENT_TYPE,
        "X-TC-Action": action,
        "X-TC-Version": VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": region,
        "Authorization": (f"{ALGORITHM} Credential={secret_id}/{date}/{SERVICE}/tc3_request, "
                          f"SignedHeaders=content-type;host, Signature={sig}"),
    }


def seconds_to_marketing_hours() -> float:
    """Seconds from now (the business clock) to the next 08:00 China time, when Tencent takes marketing SMS again."""
    into_day = (now_ts() + CHINA_OFFSET) % 86400
    return float((MARKETING_START - into_day) % 86400 or 86400)


def ordered_params(params: dict[str, str]) -> list[str]:
    """Tencent's TemplateParamSet: the values of {1}, {2} … in order."""
    return [params[k] for k in sorted(params, key=lambda k: int(k) if k.isdigit() else 10**9)]


class TencentChannel(BatchChannel):
    transport = "tencent"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        where = f"[channels.{name}]"
        s = self.settings
        self.secret_id = required_env_secret(s, "secret_id_env", where)
        self._env = {"id": str(s.get("secret_id_env")), "key": str(s.get("secret_key_env"))}
        self.secret_key = required_env_secret(s, "secret_key_env", where)
        self._secrets.append(self.secret_key)
        self.app_id = required(s, "sdk_app_id", where, '"1400…" (the SdkAppId of your SMS application)')
        self.sign_name = sign_name(s, where, "Tencent Cloud")
        self.region = str(s.get("region") or DEFAULT_REGION)
        self.url = endpoint(s, DEFAULT_ENDPOINT, where)
        self.host = host_header(self.url)

    def requests(self, batch: Sequence[Message]) -> list[list[Message]]:
        """Numbers of one template with identical parameters share a request (≤ 200) — mainland (+86) numbers and
        the others apart: Tencent takes a PhoneNumberSet "all mainland or all outside", else refuses it whole."""
        groups: dict[str, list[Message]] = {}
        for m in batch:
            params = m.fields.get("template_params")
            mainland = str(m.to or "").startswith(MAINLAND)
            key = json.dumps([m.fields.get("provider_template"), params, mainland], sort_keys=True,
                             ensure_ascii=False, default=str)
            groups.setdefault(key, []).append(m)
        return [members[i:i + MAX_NUMBERS] for members in groups.values()
                for i in range(0, len(members), MAX_NUMBERS)]

    def send_request(self, chunk: list[Message]) -> dict[int, Outcome]:
        failed: dict[int, Outcome] = {}
        going: list[Message] = []
        code, params = "", dict[str, str]()
        for m in chunk:
            try:
                code, params = approved(m, self.transport)
                going.append(m)
            except PermanentFailure as exc:
                failed[m.send_id] = Outcome(FAILED, error=str(exc))
        if not going:
            return failed
        payload = {
            "PhoneNumberSet": [m.to for m in going],
            "SmsSdkAppId": self.app_id,
            "SignName": self.sign_name,
            "TemplateId": code,
            "TemplateParamSet": ordered_params(params),
            "SessionContext": going[0].message_id.strip("<>")[:500],
        }
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = sign_request(self.secret_id, self.secret_key, action="SendSms", host=self.host,
                               region=self.region, body=body)
        _status, reply, text = self.post(str(self.url.copy_with(path="/")), body, headers)
        response = reply.get("Response") if isinstance(reply, dict) else None
        if not isinstance(response, dict):
            raise AmbiguousFailure(f"Tencent SendSms: the reply has no Response: {text}")
        error = response.get("Error")
        if isinstance(error, dict):
            err_code, err_message = str(error.get("Code")), str(error.get("Message"))
            words = f"Tencent SendSms: {err_code}: {err_message}"
            if err_code.startswith(THROTTLED_PREFIXES):
                raise TemporaryFailure(words)
            if err_code.startswith("InternalError"):
                raise AmbiguousFailure(f"{words} — it may have been accepted, so it is not resent")
            if err_code == MARKETING_HOURS:
                raise TemporaryFailure(f"{words} — sent from 08:00 China time", seconds_to_marketing_hours())
            if err_code.startswith("AuthFailure"):
                problem, fix = AUTH_REFUSED.get(err_code, AUTH_OTHER)
                raise refusal("Tencent Cloud", err_code, err_message, problem, fix, going[0].campaign,
                              {"id": f"${self._env['id']}", "key": f"${self._env['key']}"})
            if err_code in MAINLAND_ONLY and not str(going[0].to or "").startswith(MAINLAND):
                # numbers outside +86 (a request of their own) need an international template: theirs alone fail,
                # else resuming would pause again on them for ever
                raise PermanentFailure(f"{words} — a mainland signature and template do not reach numbers outside "
                                       "+86 (international SMS needs its own template at Tencent)")
            if err_code in SETTINGS_REFUSED:
                problem, fix = SETTINGS_REFUSED[err_code]
                raise refusal("Tencent Cloud", err_code, err_message, problem, fix, going[0].campaign)
            raise PermanentFailure(words)
        statuses = response.get("SendStatusSet")
        if not isinstance(statuses, list):
            raise AmbiguousFailure(f"Tencent SendSms: the reply has no SendStatusSet: {text}")
        by_number: dict[str, list[Message]] = {}
        for m in going:
            by_number.setdefault(str(m.to), []).append(m)
        out = dict(failed)
        for status in statuses:
            if not isinstance(status, dict):
                continue
            waiting = by_number.get(str(status.get("PhoneNumber")))
            if not waiting:
                continue
            m = waiting.pop(0)
            if status.get("Code") == "Ok":
                out[m.send_id] = Outcome(SENT, provider_id=str(status.get("SerialNo") or "") or None)
            else:
                out[m.send_id] = Outcome(FAILED, error=f"{status.get('Code')}: {status.get('Message')}")
        return out
