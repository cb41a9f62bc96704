"""The transports' request signers against the providers' official Python SDKs (test-only dependencies), and the
local provider servers against requests the SDKs themselves make.

Same inputs → the same Authorization header from winback's signer and from the SDK's; and a request sent by the
SDK is accepted by tests/provider_servers.py, so the servers check signatures the way the providers do.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from console.channels import aliyun, tencent
from tests.provider_servers import AliyunServer, TencentServer

WHEN = 1_795_572_000   # 2026-11-25T02:00:00Z, the suite's frozen clock


def test_aliyun_v3_signature_matches_the_sdk_signer():
    pytest.importorskip("alibabacloud_tea_openapi")
    from alibabacloud_tea_openapi.utils import Utils

    body = b"PhoneNumbers=13800000001&SignName=%E5%93%81%E7%89%8C&TemplateCode=SMS_1"
    query = {"OutId": "wb.1.1.2.abc@x", "TemplateParam": '{"name": "王 *~"}', "A": "b c"}
    headers = aliyun.sign_request("AKID", "s3cret-key", action="SendSms", host="dysmsapi.aliyuncs.com",
                                  body=body, query=query, when=WHEN, nonce="n-1")
    mine = headers.pop("authorization")
    request = SimpleNamespace(pathname="/", method="POST", query=query, headers=headers)
    theirs = Utils.get_authorization(request, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], "AKID",
                                     "s3cret-key")
    assert mine == theirs
    assert headers["x-acs-date"] == "2026-11-25T02:00:00Z"


def test_tencent_tc3_signature_matches_the_sdk_signer(monkeypatch):
    pytest.importorskip("tencentcloud.common")
    from tencentcloud.common import abstract_client, credential
    from tencentcloud.common.http.request import RequestInternal
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import sms_client

    monkeypatch.setattr(abstract_client.time, "time", lambda: WHEN)
    profile = ClientProfile(httpProfile=HttpProfile(endpoint="sms.tencentcloudapi.com"))
    client = sms_client.SmsClient(credential.Credential("AKIDtc", "tc-secret"), "ap-guangzhou", profile)
    params = {"PhoneNumberSet": ["+8613800000001"], "SmsSdkAppId": "1400000001", "SignName": "品牌",
              "TemplateId": "1234", "TemplateParamSet": ["王", "3"], "SessionContext": "wb.1.1.2"}
    req = RequestInternal("sms.tencentcloudapi.com", "POST", "/")
    client._build_req_with_tc3_signature("SendSms", params, req)
    theirs = req.header["Authorization"]
    mine = tencent.sign_request("AKIDtc", "tc-secret", action="SendSms", host="sms.tencentcloudapi.com",
                                region="ap-guangzhou", body=req.data.encode("utf-8"), when=WHEN)
    assert mine["Authorization"] == theirs
    assert mine["X-TC-Timestamp"] == req.header["X-TC-Timestamp"]


def test_the_local_aliyun_server_accepts_what_the_sdk_sends_and_refuses_a_wrong_secret(monkeypatch):
    pytest.importorskip("alibabacloud_dysmsapi20170525")
    from alibabacloud_dysmsapi20170525 import models
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_tea_openapi.utils import Utils

    from console.clock import now

    # the SDK stamps x-acs-date from the machine's clock; the server checks against the suite's frozen one
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: now().strftime("%Y-%m-%dT%H:%M:%SZ")))

    with AliyunServer(key_id="AKID", secret="s3cret", sign_name="品牌",
                      templates={"SMS_1": "亲爱的${name}，您好。拒收请回复R"}) as srv:
        def send(secret: str) -> object:
            config = open_api_models.Config(access_key_id="AKID", access_key_secret=secret,
                                            endpoint=f"127.0.0.1:{srv.port}", protocol="http")
            request = models.SendSmsRequest(phone_numbers="13800000001", sign_name="品牌", template_code="SMS_1",
                                            template_param=json.dumps({"name": "王"}), out_id="wb.1")
            return Client(config).send_sms(request)

        reply = send("s3cret")
        assert reply.body.code == "OK" and reply.body.biz_id
        assert [(t.phone, t.text) for t in srv.state.taken] == [("13800000001", "【品牌】亲爱的王，您好。拒收请回复R")]
        with pytest.raises(Exception, match="SignatureDoesNotMatch"):
            send("wrong")
        assert len(srv.state.taken) == 1


def test_the_local_tencent_server_accepts_what_the_sdk_sends(monkeypatch):
    pytest.importorskip("tencentcloud.sms")
    from tencentcloud.common import abstract_client, credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import models, sms_client

    from console.clock import now_ts

    monkeypatch.setattr(abstract_client.time, "time", lambda: now_ts())   # the server's (frozen) clock
    with TencentServer(key_id="AKIDtc", secret="tc-secret", sign_name="品牌",
                       templates={"1234": "亲爱的{1}，您有{2}积分。拒收请回复R"}) as srv:
        profile = ClientProfile(httpProfile=HttpProfile(endpoint=f"127.0.0.1:{srv.port}", protocol="http"))
        client = sms_client.SmsClient(credential.Credential("AKIDtc", "tc-secret"), "ap-guangzhou", profile)
        request = models.SendSmsRequest()
        request.from_json_string(json.dumps({
            "PhoneNumberSet": ["+8613800000001"], "SmsSdkAppId": "1400000001", "SignName": "品牌",
            "TemplateId": "1234", "TemplateParamSet": ["王", "3"]}))
        reply = client.SendSms(request)
        assert [s.Code for s in reply.SendStatusSet] == ["Ok"]
        assert [t.text for t in srv.state.taken] == ["【品牌】亲爱的王，您有3积分。拒收请回复R"]


# The providers' published worked examples (Aliyun "V3 signature" doc: ECS RunInstances; Tencent "signature v3"
# doc: CVM DescribeInstances — the key is printed with its asterisks, and that string is the key of the example).
ALIYUN_EXAMPLE = {
    "query": {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"},
    "headers": {"host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances",
                "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "x-acs-date": "2023-10-26T10:22:32Z", "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
                "x-acs-version": "2014-05-26"},
    "signature": "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0",
}
TENCENT_EXAMPLE = {
    "key": "Gu5t9xGARNpq86cd98joQYCN3*******", "timestamp": 1551113065, "host": "cvm.tencentcloudapi.com",
    "payload": rb'{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}',
    "signature": "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
}


def test_both_signers_and_both_servers_reproduce_the_providers_published_examples():
    from tests.provider_servers import aliyun_signature, tencent_signature

    a = ALIYUN_EXAMPLE
    names = aliyun.signed_header_names(a["headers"])
    assert aliyun.signature("YourAccessKeySecret", "POST", "/", a["query"], a["headers"], names,
                            a["headers"]["x-acs-content-sha256"]) == a["signature"]
    assert aliyun_signature("YourAccessKeySecret", "POST", "/", list(a["query"].items()), a["headers"], names,
                            a["headers"]["x-acs-content-sha256"]) == a["signature"]
    t = TENCENT_EXAMPLE
    assert tencent.signature(t["key"], timestamp=t["timestamp"], host=t["host"], body=t["payload"],
                             content_type="application/json; charset=utf-8", service="cvm") == t["signature"]
    canonical_headers = f"content-type:application/json; charset=utf-8\nhost:{t['host']}\n"
    assert tencent_signature(t["key"], t["timestamp"], canonical_headers, "content-type;host", t["payload"],
                             "cvm") == t["signature"]
