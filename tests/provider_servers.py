"""Local stand-ins for Aliyun SMS and Tencent Cloud SMS on 127.0.0.1 that check requests the way the providers do.

Each server recomputes the request's signature from the shared secret with its OWN code (nothing is imported from
console/channels, so a signer bug cannot be mirrored here; tests also check this code against the providers'
official SDKs), refuses a wrong, tampered or stale request with the provider's own error body, checks the content
type and the required fields, renders the approved template with the parameters it was given and logs every
number it takes (`state.taken`: phone, rendered text, provider id, the request's OutId / SessionContext).

- AliyunServer: V3 signature (ACS3-HMAC-SHA256), RPC parameters from the query and the form body, SendSms and
  SendBatchSms; refusals are HTTP 400 with {"Code": "SignatureDoesNotMatch", …} (as Aliyun answers), business
  errors HTTP 200 with their Code (`code_for` a number: the whole request gets that Code).
- TencentServer: TC3-HMAC-SHA256, JSON only, X-TC-Timestamp at most 5 minutes from the server's clock (the
  business clock, console.clock.now_ts, plus `skew` — or its own fixed `clock`, as Aliyun's for its 15 minutes);
  errors are HTTP 200 with Response.Error; per-number codes
  (`daily_limit`: LimitExceeded.PhoneNumberDailyLimit) in SendStatusSet.

`mangle(body) -> body` changes a request in transit (before the server reads it): a tampered request.
`cut=True`: the server takes the request (logged in `taken`), then closes the connection without a reply.
`stall=threading.Event()`: the server takes a send request (logged in `taken`), then answers only once the event is
set — a client with a shorter timeout gets no reply for a message that was taken (`stall_after=N`: only once more
than N numbers were taken, so a send can be killed mid-way with a request in flight).

Query APIs (signed and checked like the sends; `winback campaign reconcile`): Aliyun `QuerySendDetails`
(PhoneNumber, SendDate yyyyMMdd, PageSize ≤ 50, CurrentPage; optional BizId) answers SmsSendDetailDTOs from `taken`
(SendStatus 3 delivered, or `status_for[phone]`: 1 waiting for a receipt, 2 failed); Tencent
`PullSmsSendStatusByPhoneNumber` (SmsSdkAppId, PhoneNumber, BeginTime, EndTime, Offset, Limit ≤ 100) answers
PullSmsSendStatusSet (ReportStatus SUCCESS, or `status_for[phone]` "FAIL").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from console.clock import now_ts
from tests.servers import QuietHTTPServer


@dataclass
class Taken:
    phone: str
    text: str
    provider_id: str
    correlation: str          # OutId (Aliyun) / SessionContext (Tencent)
    action: str = "SendSms"
    template: str = ""        # the template code / ID it was sent with
    at: int = 0               # when it was taken (the business clock)


@dataclass
class ProviderState:
    key_id: str
    secret: str
    sign_name: str
    templates: dict[str, str]                       # template code → approved text
    mangle: Callable[[bytes], bytes] | None = None
    skew: int = 0                                    # seconds the server's clock is ahead of winback's
    clock: int | None = None                         # the server's own time, fixed (skew is then ignored): moving
                                                     # WINBACK_NOW is then the sending machine's clock going wrong
    cut: bool = False                                # take the request, then close the connection unanswered
    code_for: dict[str, tuple[str, str]] = field(default_factory=dict)   # phone → (Code, Message) of its request
    daily_limit: set[str] = field(default_factory=set)                   # Tencent: numbers over their daily limit
    app_id: str = "1400000001"
    lock: threading.Lock = field(default_factory=threading.Lock)
    taken: list[Taken] = field(default_factory=list)
    refused: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)         # action, numbers, body kind
    nonces: set[str] = field(default_factory=set)
    stall: threading.Event | None = None                                 # take a send, answer once it is set
    stall_after: int = 0                                                 # … once more than this many are taken
    status_for: dict[str, Any] = field(default_factory=dict)             # phone → query status (see module doc)
    queries: list[dict[str, Any]] = field(default_factory=list)          # every query request's parameters

    def now(self) -> int:
        """The server's clock: its own (`clock`), or the business clock plus `skew`."""
        return self.clock if self.clock is not None else now_ts() + self.skew


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ProviderState

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        return self.state.mangle(raw) if self.state.mangle else raw

    def _answer(self, status: int, reply: dict[str, Any]) -> None:
        data = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        if status != 200 or "Error" in reply.get("Response", {}) or reply.get("Code", "OK") != "OK":
            with self.state.lock:
                self.state.refused.append((status, reply))
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- Aliyun ------------------------------------------------------------------------------------------------------

def aliyun_signature(secret: str, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
                     signed: list[str], payload_hash: str) -> str:
    """ACS3-HMAC-SHA256 as Aliyun's documentation defines it (written apart from the transport's signer)."""
    enc = lambda s: quote(s, safe="~")  # noqa: E731 - RFC 3986
    canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query))
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    canonical_headers = "".join(f"{h}:{lower.get(h, '')}\n" for h in signed)
    canonical = f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{';'.join(signed)}\n{payload_hash}"
    to_sign = "ACS3-HMAC-SHA256\n" + _sha256(canonical.encode("utf-8"))
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


_ALIYUN_AUTH = re.compile(r"^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)$")


def _aliyun_error(code: str, message: str) -> dict[str, Any]:
    return {"Code": code, "Message": message, "RequestId": str(uuid.uuid4()).upper(),
            "HostId": "dysmsapi.aliyuncs.com", "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}"}


class _AliyunHandler(_Base):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self._body()
        status, reply = self._handle(body)
        if self.state.cut:
            self.close_connection = True
            return
        self._answer(status, reply)

    def _handle(self, body: bytes) -> tuple[int, dict[str, Any]]:
        st = self.state
        headers = {k.lower(): v for k, v in self.headers.items()}
        split = urlsplit(self.path)
        query = parse_qsl(split.query, keep_blank_values=True)
        for name in ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
                     "x-acs-content-sha256", "authorization", "host"):
            if not headers.get(name):
                return 400, _aliyun_error("MissingParameter", f"{name} is mandatory for this action.")
        if headers["x-acs-version"] != "2017-05-25":
            return 400, _aliyun_error("InvalidVersion", "Specified parameter Version is not valid.")
        match = _ALIYUN_AUTH.match(headers["authorization"])
        if not match:
            return 400, _aliyun_error("IncompleteSignature", "The request signature does not conform to Aliyun "
                                      "standards.")
        key_id, signed, given = match.group(1), match.group(2).split(";"), match.group(3)
        if key_id != st.key_id:
            return 404, _aliyun_error("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if "host" not in signed or any(h not in signed for h in headers if h.startswith("x-acs-")):
            return 400, _aliyun_error("IncompleteSignature", "host and every x-acs-* header must be signed.")
        if _sha256(body) != headers["x-acs-content-sha256"]:
            return 400, _aliyun_error("SignatureDoesNotMatch", "Specified signature does not match our "
                                      "calculation. (x-acs-content-sha256 is not the body's hash)")
        expected = aliyun_signature(st.secret, self.command, split.path or "/", query, headers, signed,
                                    headers["x-acs-content-sha256"])
        if not hmac.compare_digest(expected, given):
            return 400, _aliyun_error("SignatureDoesNotMatch", "Specified signature does not match our "
                                      "calculation.")
        try:
            stamp = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return 400, _aliyun_error("InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs(stamp.timestamp() - st.now()) > 900:
            return 400, _aliyun_error("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        with st.lock:
            if headers["x-acs-signature-nonce"] in st.nonces:
                return 400, _aliyun_error("SignatureNonceUsed", "Specified signature nonce was used already.")
            st.nonces.add(headers["x-acs-signature-nonce"])
        params = dict(query)
        content_type = headers.get("content-type", "")
        if body:
            if not content_type.startswith("application/x-www-form-urlencoded"):
                return 400, _aliyun_error("InvalidParameter", f"RPC parameters go in the query or a form body, "
                                          f"not {content_type or 'an untyped body'}.")
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        action = headers["x-acs-action"]
        if action == "SendSms":
            return self._send_sms(params)
        if action == "SendBatchSms":
            return self._send_batch(params)
        if action == "QuerySendDetails":
            return self._query(params)
        return 404, _aliyun_error("InvalidAction.NotFound", f"Specified api {action} is not found.")

    def _check(self, sign_names: list[str], code: str, params: list[dict[str, Any]]) -> tuple[int, dict] | None:
        st = self.state
        if any(s != st.sign_name for s in sign_names):
            return 200, _aliyun_error("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        text = st.templates.get(code)
        if text is None:
            return 200, _aliyun_error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        names = set(re.findall(r"\$\{(\w+)\}", text))
        for p in params:
            if set(p) != names:
                return 200, _aliyun_error("isv.TEMPLATE_PARAMS_ILLEGAL", "模板变量里包含非法关键字 / 缺少变量")
        return None

    def _render(self, code: str, params: dict[str, Any]) -> str:
        text = re.sub(r"\$\{(\w+)\}", lambda m: str(params[m.group(1)]), self.state.templates[code])
        return f"【{self.state.sign_name}】{text}"

    def _send_sms(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return 400, _aliyun_error("MissingParameter", f"{name} is mandatory for this action.")
        phones = params["PhoneNumbers"].split(",")
        if len(phones) > 1000:
            return 200, _aliyun_error("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return 200, _aliyun_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        problem = self._check([params["SignName"]], params["TemplateCode"], [values])
        return problem or self._take("SendSms", phones, params["TemplateCode"], [values] * len(phones),
                                     params.get("OutId", ""))

    def _send_batch(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        for name in ("PhoneNumberJson", "SignNameJson", "TemplateCode", "TemplateParamJson"):
            if not params.get(name):
                return 400, _aliyun_error("MissingParameter", f"{name} is mandatory for this action.")
        try:
            phones, signs = json.loads(params["PhoneNumberJson"]), json.loads(params["SignNameJson"])
            values = json.loads(params["TemplateParamJson"])
        except ValueError:
            return 200, _aliyun_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if not (len(phones) == len(signs) == len(values)):
            return 200, _aliyun_error("isv.INVALID_PARAMETERS", "PhoneNumberJson, SignNameJson and "
                                      "TemplateParamJson differ in length")
        if len(phones) > 100:
            return 200, _aliyun_error("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        problem = self._check(signs, params["TemplateCode"], values)
        return problem or self._take("SendBatchSms", phones, params["TemplateCode"], values,
                                     params.get("OutId", ""))

    def _take(self, action: str, phones: list[str], code: str, values: list[dict[str, Any]],
              out_id: str) -> tuple[int, dict[str, Any]]:
        st = self.state
        for phone in phones:
            if phone in st.code_for:
                return 200, _aliyun_error(*st.code_for[phone])
        biz_id = f"{uuid.uuid4().int % 10**18}^0"
        with st.lock:
            st.requests.append({"action": action, "numbers": phones, "out_id": out_id})
            st.taken.extend(Taken(p, self._render(code, v), biz_id, out_id, action, code, now_ts())
                            for p, v in zip(phones, values, strict=True))
        if st.stall is not None and len(st.taken) > st.stall_after:
            st.stall.wait(600)
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": str(uuid.uuid4()).upper()}

    def _query(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """QuerySendDetails: one number and one day (China time) per call, paged, optionally one BizId."""
        st = self.state
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not params.get(name):
                return 400, _aliyun_error("MissingParameter", f"{name} is mandatory for this action.")
        if not re.fullmatch(r"\d{8}", params["SendDate"]):
            return 200, _aliyun_error("isv.INVALID_PARAMETERS", "SendDate 格式为 yyyyMMdd")
        try:
            size, page = int(params["PageSize"]), int(params["CurrentPage"])
        except ValueError:
            return 200, _aliyun_error("isv.INVALID_PARAMETERS", "PageSize / CurrentPage must be numbers")
        if not 1 <= size <= 50 or page < 1:
            return 200, _aliyun_error("isv.INVALID_PARAMETERS", "PageSize 1-50, CurrentPage from 1")
        with st.lock:
            st.queries.append(dict(params))
            found = [t for t in st.taken if t.phone == params["PhoneNumber"]
                     and _china_day(t.at) == params["SendDate"]
                     and (not params.get("BizId") or t.provider_id == params["BizId"])]
        shown = found[(page - 1) * size:page * size]
        dtos = [{"PhoneNum": t.phone, "SendStatus": int(st.status_for.get(t.phone, 3)),
                 "ErrCode": "DELIVERED" if int(st.status_for.get(t.phone, 3)) == 3 else "UNDELIV",
                 "TemplateCode": t.template, "Content": t.text, "OutId": t.correlation,
                 "SendDate": _china_time(t.at), "ReceiveDate": _china_time(t.at)} for t in shown]
        return 200, {"Code": "OK", "Message": "OK", "RequestId": str(uuid.uuid4()).upper(),
                     "TotalCount": len(found), "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos}}


def _china_day(ts: int) -> str:
    return datetime.fromtimestamp(ts + 8 * 3600, UTC).strftime("%Y%m%d")


def _china_time(ts: int) -> str:
    return datetime.fromtimestamp(ts + 8 * 3600, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- Tencent -----------------------------------------------------------------------------------------------------

def tencent_signature(secret_key: str, timestamp: int, canonical_headers: str, signed: str, body: bytes,
                      service: str = "sms") -> str:
    """TC3-HMAC-SHA256 as Tencent Cloud's documentation defines it (written apart from the transport's signer)."""
    canonical = f"POST\n/\n\n{canonical_headers}\n{signed}\n{_sha256(body)}"
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{_sha256(canonical.encode())}"

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


_TC3_AUTH = re.compile(r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
                       r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


def _tencent_error(code: str, message: str) -> dict[str, Any]:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}


class _TencentHandler(_Base):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self._body()
        reply = self._handle(body)
        if self.state.cut:
            self.close_connection = True
            return
        self._answer(200, reply)   # Tencent answers HTTP 200, errors in Response.Error

    def _handle(self, body: bytes) -> dict[str, Any]:
        st = self.state
        headers = {k.lower(): v for k, v in self.headers.items()}
        for name in ("authorization", "x-tc-action", "x-tc-timestamp", "x-tc-version", "host", "content-type"):
            if not headers.get(name):
                return _tencent_error("MissingParameter", f"The request is missing a required header `{name}`.")
        match = _TC3_AUTH.match(headers["authorization"])
        if not match:
            return _tencent_error("AuthFailure.InvalidAuthorization", "Authorization is invalid.")
        secret_id, date, service, signed, given = match.groups()
        if secret_id != st.key_id:
            return _tencent_error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            timestamp = int(headers["x-tc-timestamp"])
        except ValueError:
            return _tencent_error("InvalidParameter", "X-TC-Timestamp is not a number.")
        if abs(timestamp - st.now()) > 300:
            return _tencent_error("AuthFailure.SignatureExpire", "Signature expired. Timestamp is more than 5 "
                                  "minutes off the server time.")
        names = signed.split(";")
        if "content-type" not in names or "host" not in names:
            return _tencent_error("AuthFailure.SignatureFailure", "content-type and host must be signed.")
        canonical_headers = "".join(
            f"{n}:{headers.get(n, '').strip().lower() if n == 'x-tc-action' else headers.get(n, '').strip()}\n"
            for n in names)
        expected = tencent_signature(st.secret, timestamp, canonical_headers, signed, body, service)
        if service != "sms" or date != datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") \
                or not hmac.compare_digest(expected, given):
            return _tencent_error("AuthFailure.SignatureFailure", "The provided credentials could not be "
                                  "validated. Please check your signature is correct.")
        if headers["x-tc-version"] != "2021-01-11" or headers["x-tc-action"] not in (
                "SendSms", "PullSmsSendStatusByPhoneNumber"):
            return _tencent_error("InvalidAction", "The action or version is not supported.")
        if not headers["content-type"].startswith("application/json"):
            return _tencent_error("InvalidParameter", "POST requests to this API take a JSON body.")
        try:
            params = json.loads(body)
        except ValueError:
            return _tencent_error("InvalidParameter", "The request body is not JSON.")
        if headers["x-tc-action"] == "PullSmsSendStatusByPhoneNumber":
            return self._pull_status(params)
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId"):
            if not params.get(name):
                return _tencent_error("MissingParameter", f"The request is missing a required parameter `{name}`.")
        if params["SmsSdkAppId"] != st.app_id:
            return _tencent_error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verification failed.")
        if params.get("SignName") != st.sign_name:
            return _tencent_error("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误")
        text = st.templates.get(str(params["TemplateId"]))
        if text is None:
            return _tencent_error("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配")
        values = params.get("TemplateParamSet") or []
        if len(values) != len(set(re.findall(r"\{(\d+)\}", text))):
            return _tencent_error("InvalidParameterValue.TemplateParameterFormatError",
                                  "验证码模板参数格式错误 / 模板变量个数不匹配")
        phones = params["PhoneNumberSet"]
        if len(phones) > 200:
            return _tencent_error("LimitExceeded.PhoneNumberCountLimit", "调用接口单次提交的手机号个数超过200个")
        rendered = "【" + st.sign_name + "】" + re.sub(r"\{(\d+)\}", lambda m: str(values[int(m.group(1)) - 1]),
                                                      text)
        statuses = []
        with st.lock:
            st.requests.append({"action": "SendSms", "numbers": phones, "out_id": params.get("SessionContext")})
            for phone in phones:
                if phone in st.daily_limit:
                    statuses.append({"SerialNo": "", "PhoneNumber": phone, "Fee": 0,
                                     "SessionContext": params.get("SessionContext", ""),
                                     "Code": "LimitExceeded.PhoneNumberDailyLimit",
                                     "Message": "the number of sms messages sent from a single mobile number every "
                                                "day exceeds the upper limit", "IsoCode": "CN"})
                    continue
                serial = f"2433:{uuid.uuid4().int % 10**20}"
                st.taken.append(Taken(phone, rendered, serial, params.get("SessionContext", ""), "SendSms",
                                      str(params["TemplateId"]), now_ts()))
                statuses.append({"SerialNo": serial, "PhoneNumber": phone, "Fee": 1,
                                 "SessionContext": params.get("SessionContext", ""), "Code": "Ok",
                                 "Message": "send success", "IsoCode": "CN"})
        if st.stall is not None and len(st.taken) > st.stall_after:
            st.stall.wait(600)   # a generous limit that only stops a hung test
        return {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}

    def _pull_status(self, params: dict[str, Any]) -> dict[str, Any]:
        """PullSmsSendStatusByPhoneNumber: the status reports of one number between BeginTime and EndTime."""
        st = self.state
        for name in ("SmsSdkAppId", "PhoneNumber", "BeginTime", "Limit"):
            if params.get(name) in (None, ""):
                return _tencent_error("MissingParameter", f"The request is missing a required parameter `{name}`.")
        if params["SmsSdkAppId"] != st.app_id:
            return _tencent_error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verification failed.")
        if not isinstance(params["Limit"], int) or not 1 <= params["Limit"] <= 100:
            return _tencent_error("InvalidParameterValue", "Limit is 1 to 100.")
        begin, end = int(params["BeginTime"]), int(params.get("EndTime") or 2**31)
        offset = int(params.get("Offset") or 0)
        with st.lock:
            st.queries.append(dict(params))
            found = [t for t in st.taken if t.phone == params["PhoneNumber"] and begin <= t.at <= end]
        reports = [{"UserReceiveTime": t.at, "CountryCode": "86", "SubscriberNumber": t.phone[-11:],
                    "PhoneNumber": t.phone, "SerialNo": t.provider_id,
                    "ReportStatus": st.status_for.get(t.phone, "SUCCESS"),
                    "Description": "DELIVRD" if st.status_for.get(t.phone, "SUCCESS") == "SUCCESS" else "UNDELIV",
                    "SessionContext": t.correlation}
                   for t in found[offset:offset + params["Limit"]]]
        return {"Response": {"PullSmsSendStatusSet": reports, "RequestId": str(uuid.uuid4())}}


class ProviderServer:
    """A threading HTTP server on 127.0.0.1 in this process: `with AliyunServer(...) as srv: srv.url`."""

    handler: type[_Base]

    def __init__(self, **options: Any):
        self.state = ProviderState(**options)
        handler = type("Handler", (self.handler,), {"state": self.state})
        self.server = QuietHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ProviderServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class AliyunServer(ProviderServer):
    handler = _AliyunHandler


class TencentServer(ProviderServer):
    handler = _TencentHandler
