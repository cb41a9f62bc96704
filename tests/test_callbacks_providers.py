"""Aliyun, Tencent and Twilio callbacks against a real `winback serve` (uvicorn on 127.0.0.1): each answered with its
provider's exact acknowledgement; receipts matched by the stored provider id or winback's message id (an unknown id
counted, never an error page); replies R/TD/退订/STOP suppress the number at once; a Twilio request without a valid
X-Twilio-Signature is refused (403) and changes nothing."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from console.inbound.server import BackgroundServer
from console.workspace import Workspace
from tests.outcomes_ledger import add_campaign, add_sends, add_users

LAUNCH = 1_780_000_000
ALIYUN_TOKEN = "aliyun-cb-token-1234"
TENCENT_TOKEN = "tencent-cb-token-5678"
TWILIO_TOKEN = "twilio-auth-token-abcdef"
PUBLIC = "https://winback.example.com"   # what Twilio calls; the proxy forwards to 127.0.0.1:<port>

CONFIG = f"""
[inbound]
secret_env = "WINBACK_TEST_INBOUND_SECRET"

[inbound.aliyun]
token_env = "WB_TEST_ALIYUN_CB"

[inbound.tencent]
token_env = "WB_TEST_TENCENT_CB"

[inbound.twilio]
auth_token_env = "WB_TEST_TWILIO_TOKEN"
public_url = "{PUBLIC}/"
"""


def _phone(i: int) -> str:
    return f"+86138{i:08d}"


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_TEST_INBOUND_SECRET", "unused-here")
    monkeypatch.setenv("WB_TEST_ALIYUN_CB", ALIYUN_TOKEN)
    monkeypatch.setenv("WB_TEST_TENCENT_CB", TENCENT_TOKEN)
    monkeypatch.setenv("WB_TEST_TWILIO_TOKEN", TWILIO_TOKEN)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    (tmp_path / "winback.toml").write_text(CONFIG, encoding="utf-8")
    workspace = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = workspace.open()
    add_users(db, 20)
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 20, "A", sent_at=LAUNCH + 60)   # message_id m<i>, provider_id p<i>
    # Aliyun: users 1-3 went in one SendBatchSms request: one BizId for the three, OutId = the first's message id
    db.execute("UPDATE sends SET provider_id = 'biz-123' WHERE user_id IN (1, 2, 3)")
    db.execute("UPDATE sends SET message_id = '<wb.1.1.1.abcdef@winback.invalid>' WHERE user_id = 1")
    db.close()
    return workspace


@pytest.fixture
def server(ws):
    with BackgroundServer(ws) as url:
        yield url


def statuses(ws: Workspace) -> dict[int, tuple[str, str | None]]:
    db = ws.open()
    try:
        return {r[0]: (r[1], r[2]) for r in db.execute("SELECT user_id, status, error FROM sends")}
    finally:
        db.close()


def state(ws: Workspace) -> dict:
    """Everything a refused request must leave alone."""
    db = ws.open()
    try:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("receipts", "suppressions", "consents", "audit")} | {"sends": statuses(ws)}
    finally:
        db.close()


def suppressed(ws: Workspace, address: str) -> list[tuple[str, str, str]]:
    db = ws.open()
    try:
        return db.execute("SELECT channel, reason, source FROM suppressions WHERE address = ? AND removed_at IS NULL",
                          [address]).fetchall()
    finally:
        db.close()


# -- Aliyun ----------------------------------------------------------------------------------------------------

def test_aliyun_receipts_are_acknowledged_exactly_and_matched_per_number_of_a_shared_biz_id(ws, server):
    report = [
        {"phone_number": "13800000001", "send_time": "2026-11-25 10:00:01", "report_time": "2026-11-25 10:00:08",
         "success": True, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "biz-123",
         "out_id": "wb.1.1.1.abcdef@winback.invalid"},
        {"phone_number": "13800000002", "success": False, "err_code": "MK:0001", "err_msg": "空号",
         "biz_id": "biz-123", "out_id": "wb.1.1.1.abcdef@winback.invalid"},
        {"phone_number": "13800000003", "success": True, "err_code": "DELIVERED", "biz_id": "biz-123",
         "out_id": "wb.1.1.1.abcdef@winback.invalid"},
        {"phone_number": "13800000004", "success": True, "err_code": "DELIVERED", "biz_id": "p4"},
        {"phone_number": "13800000019", "success": True, "err_code": "DELIVERED", "biz_id": "no-such-biz-id"},
    ]
    url = f"{server}/callbacks/aliyun/receipts?token={ALIYUN_TOKEN}"
    response = httpx.post(url, json=report)
    assert response.status_code == 200
    assert response.content == '{"code":0,"msg":"接收成功"}'.encode()
    got = statuses(ws)
    assert got[1] == ("delivered", None) and got[3] == ("delivered", None) and got[4] == ("delivered", None)
    assert got[2] == ("failed", "MK:0001: 空号")
    assert got[19] == ("sent", None) and got[5] == ("sent", None)
    db = ws.open()
    # the unknown BizId is kept, unmatched, and counted in the audit log — not an error page
    assert db.execute("SELECT COUNT(*) FROM receipts WHERE send_id IS NULL").fetchone()[0] == 1
    details = json.loads(db.execute("SELECT details FROM audit WHERE action = 'inbound.receipts'").fetchone()[0])
    assert details["matched"] == 4 and details["unmatched"] == 1 and details["source"] == "aliyun"
    db.close()

    # Aliyun retries a push it thinks failed: the same receipts again add nothing (receipts.dedup_key)
    before = state(ws)
    again = httpx.post(url, json=report)
    assert again.content == '{"code":0,"msg":"接收成功"}'.encode()
    assert state(ws)["receipts"] == before["receipts"] and state(ws)["sends"] == before["sends"]


def test_an_aliyun_receipt_for_a_number_outside_the_mainland_matches_its_send(ws, server):
    # winback sends such a number to Aliyun as country code + number without '+' (provider_number), and Aliyun's
    # SmsReport gives it back in that form: read in the default region (CN) alone it matched no send.
    db = ws.open()
    db.execute("UPDATE sends SET address = '+61440855866', provider_id = 'biz-au' WHERE user_id = 6")
    db.execute("UPDATE sends SET address = '+12125842530', provider_id = 'biz-us' WHERE user_id = 7")
    db.close()
    report = [{"phone_number": "61440855866", "success": True, "err_code": "DELIVERED", "biz_id": "biz-au"},
              {"phone_number": "12125842530", "success": False, "err_code": "UNDELIV", "biz_id": "biz-us"}]
    response = httpx.post(f"{server}/callbacks/aliyun/receipts?token={ALIYUN_TOKEN}", json=report)
    assert response.status_code == 200
    got = statuses(ws)
    assert got[6] == ("delivered", None) and got[7] == ("failed", "UNDELIV")


def test_an_aliyun_callback_without_its_token_is_refused_and_changes_nothing(ws, server):
    before = state(ws)
    body = [{"phone_number": "13800000005", "success": True, "biz_id": "p5"}]
    for url in (f"{server}/callbacks/aliyun/receipts", f"{server}/callbacks/aliyun/receipts?token=wrong",
                f"{server}/callbacks/aliyun/replies?token=wrong"):
        response = httpx.post(url, json=body)
        assert response.status_code == 401, url
        assert response.json()["code"] != 0
    assert state(ws) == before


def test_an_aliyun_reply_r_suppresses_the_number_recording_the_signature(ws, server):
    uplink = [{"phone_number": "13800000007", "content": "R", "sign_name": "某某商城", "dest_code": "1234",
               "sequence_id": 1234567, "send_time": "2026-11-25 10:05:00"},
              {"phone_number": "13800000008", "content": "什么时候到货？", "sign_name": "某某商城",
               "sequence_id": 1234568, "send_time": "2026-11-25 10:06:00"}]
    response = httpx.post(f"{server}/callbacks/aliyun/replies?token={ALIYUN_TOKEN}", json=uplink)
    assert response.status_code == 200
    assert response.content == '{"code":0,"msg":"接收成功"}'.encode()
    # suppressions are per channel, not per signature: the number is stopped on sms, the signature is the source
    assert suppressed(ws, _phone(7)) == [("sms", "opt_out", "inbound:sms (aliyun sign 某某商城)")]
    assert suppressed(ws, _phone(8)) == []
    db = ws.open()
    kinds = db.execute("SELECT kind, user_id, source FROM receipts ORDER BY id").fetchall()
    assert kinds == [("opt_out", 7, "aliyun"), ("reply", 8, "aliyun")]
    assert db.execute("SELECT status FROM consents WHERE user_id = 7 AND channel = 'sms' ORDER BY id DESC "
                      "LIMIT 1").fetchone()[0] == "withdrawn"
    db.close()


# -- Tencent ---------------------------------------------------------------------------------------------------

def test_tencent_receipts_and_replies_are_acknowledged_exactly(ws, server):
    reports = [
        {"user_receive_time": "2026-11-25 10:00:08", "nationcode": "86", "mobile": "13800000009",
         "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功", "sid": "p9"},
        {"user_receive_time": "2026-11-25 10:00:09", "nationcode": "86", "mobile": "13800000010",
         "report_status": "FAIL", "errmsg": "MK:0005", "description": "运营商内部错误", "sid": "p10"},
        {"nationcode": "86", "mobile": "13800000011", "report_status": "SUCCESS", "sid": "unknown-serial"},
    ]
    response = httpx.post(f"{server}/callbacks/tencent/receipts?token={TENCENT_TOKEN}", json=reports)
    assert response.status_code == 200
    assert response.content == b'{"result":0,"errmsg":"OK"}'
    got = statuses(ws)
    assert got[9] == ("delivered", None) and got[10] == ("failed", "MK:0005: 运营商内部错误")
    assert got[11] == ("sent", None)

    reply = {"extend": "", "mobile": "13800000012", "nationcode": "86", "sign": "某某商城", "text": "退订",
             "time": 1780000000}
    response = httpx.post(f"{server}/callbacks/tencent/replies?token={TENCENT_TOKEN}", json=reply)
    assert response.status_code == 200
    assert response.content == b'{"result":0,"errmsg":"OK"}'
    assert suppressed(ws, _phone(12)) == [("sms", "opt_out", "inbound:sms (tencent sign 某某商城)")]

    before = state(ws)
    refused = httpx.post(f"{server}/callbacks/tencent/replies", json=reply)
    assert refused.status_code == 401 and refused.json()["result"] != 0
    assert state(ws) == before


# -- Twilio ----------------------------------------------------------------------------------------------------

def twilio_post(server: str, path: str, form: dict[str, str], *, signed_url: str | None = None,
                token: str = TWILIO_TOKEN, signature: str | None = None) -> httpx.Response:
    """POST a form to winback serve as Twilio would (to `server` + path, which the proxy maps from PUBLIC + path),
    signed by the official twilio package's RequestValidator for the public URL."""
    url = signed_url or f"{PUBLIC}{path}"
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, form)
    return httpx.post(f"{server}{path}", content=urlencode(form).encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


STATUS = {"SmsSid": "p13", "SmsStatus": "undelivered", "MessageStatus": "undelivered", "To": _phone(13),
          "MessageSid": "p13", "AccountSid": "AC0123", "From": "+15005550006", "ApiVersion": "2010-04-01",
          "ErrorCode": "30003", "ErrorMessage": "Unreachable destination handset"}


def test_a_signed_twilio_status_callback_updates_the_ledger(ws, server):
    response = twilio_post(server, "/callbacks/twilio/status", STATUS)
    assert response.status_code == 200
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert statuses(ws)[13] == ("failed", "error 30003: Unreachable destination handset")
    # matched by winback's message id from the callback URL (wb=…) when the MessageSid was never stored
    delivered = {**STATUS, "MessageSid": "SMnever-stored", "SmsSid": "SMnever-stored", "MessageStatus": "delivered",
                 "SmsStatus": "delivered", "To": _phone(14)}
    delivered.pop("ErrorCode")
    delivered.pop("ErrorMessage")
    assert twilio_post(server, "/callbacks/twilio/status?wb=m14", delivered).status_code == 200
    assert statuses(ws)[14] == ("delivered", None)
    # in-flight states change nothing
    queued = {**delivered, "MessageSid": "p15", "MessageStatus": "sent", "SmsStatus": "sent"}
    assert twilio_post(server, "/callbacks/twilio/status", queued).status_code == 200
    assert statuses(ws)[15] == ("sent", None)


def test_a_twilio_callback_without_a_valid_signature_is_refused_and_changes_nothing(ws, server):
    stop = {"MessageSid": "SMin1", "From": _phone(16), "To": "+15005550006", "Body": "STOP", "AccountSid": "AC0123"}
    before = state(ws)
    refusals = {
        "no signature": httpx.post(f"{server}/callbacks/twilio/status", data=STATUS),
        "signed with another token": twilio_post(server, "/callbacks/twilio/status", STATUS, token="not-the-token"),
        # signed for the URL winback sees locally, not the public one Twilio calls: a replay from elsewhere
        "signed for another URL": twilio_post(server, "/callbacks/twilio/status", STATUS,
                                              signed_url=f"{server}/callbacks/twilio/status"),
        "body changed after signing": httpx.post(
            f"{server}/callbacks/twilio/status", content=urlencode({**STATUS, "MessageStatus": "delivered"}),
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(
                         f"{PUBLIC}/callbacks/twilio/status", STATUS)}),
        "inbound STOP unsigned": twilio_post(server, "/callbacks/twilio/inbound", stop, signature=""),
    }
    for what, response in refusals.items():
        assert response.status_code == 403, (what, response.text)
    assert state(ws) == before
    assert suppressed(ws, _phone(16)) == []


def test_a_signed_twilio_stop_is_answered_with_empty_twiml_and_suppresses_the_number(ws, server):
    stop = {"MessageSid": "SMin2", "From": _phone(17), "To": "+15005550006", "Body": "Stop ", "AccountSid": "AC0123",
            "NumMedia": "0"}
    response = twilio_post(server, "/callbacks/twilio/inbound", stop)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert suppressed(ws, _phone(17)) == [("sms", "opt_out", "inbound:sms (twilio to +15005550006)")]


def test_twilio_callbacks_are_refused_503_until_configured(ws, server, monkeypatch):
    monkeypatch.delenv("WB_TEST_TWILIO_TOKEN")
    before = state(ws)
    response = twilio_post(server, "/callbacks/twilio/status", STATUS)
    assert response.status_code == 503 and "WB_TEST_TWILIO_TOKEN" in response.json()["error"]
    assert state(ws) == before


def test_the_access_log_keeps_callback_tokens_out():
    import logging

    from console.inbound.server import REDACT_TOKENS

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "POST", f"/callbacks/aliyun/replies?token={ALIYUN_TOKEN}&x=1",
                                "1.1", 200), None)
    REDACT_TOKENS.filter(record)
    assert ALIYUN_TOKEN not in record.getMessage()
    assert "/callbacks/aliyun/replies?token=…&x=1" in record.getMessage()


def test_serve_warns_at_start_about_provider_callbacks_that_would_be_refused(ws, monkeypatch):
    from console.inbound.callbacks import startup_warnings

    assert startup_warnings(ws.config) == []
    monkeypatch.delenv("WB_TEST_ALIYUN_CB")
    monkeypatch.delenv("WB_TEST_TWILIO_TOKEN")
    warnings = startup_warnings(ws.config)
    assert len(warnings) == 2
    assert "$WB_TEST_ALIYUN_CB is not set" in warnings[0] and "WB_TEST_TWILIO_TOKEN" in warnings[1]


def test_a_reply_the_provider_posts_again_is_recorded_once(ws, server):
    uplink = [{"phone_number": "13800000018", "content": "TD", "sign_name": "某某商城", "sequence_id": 777,
               "send_time": "2026-11-25 10:05:00"}]
    stop = {"MessageSid": "SMin3", "From": _phone(20), "To": "+15005550006", "Body": "STOP"}
    for _ in range(2):   # the provider did not see our answer in time and posts the same callback again
        assert httpx.post(f"{server}/callbacks/aliyun/replies?token={ALIYUN_TOKEN}", json=uplink).status_code == 200
        assert twilio_post(server, "/callbacks/twilio/inbound", stop).status_code == 200
    db = ws.open()
    # one opt-out each: the brakes' opt-out rate counts people, not the provider's retries
    assert db.execute("SELECT user_id, kind FROM receipts ORDER BY user_id").fetchall() == [(18, "opt_out"),
                                                                                           (20, "opt_out")]
    db.close()
    # a different reply from the same number later is a new one
    later = [{**uplink[0], "sequence_id": 778, "content": "谢谢"}]
    assert httpx.post(f"{server}/callbacks/aliyun/replies?token={ALIYUN_TOKEN}", json=later).status_code == 200
    db = ws.open()
    assert db.execute("SELECT COUNT(*) FROM receipts WHERE user_id = 18").fetchone()[0] == 2
    db.close()


def test_unknown_ids_and_unusable_records_are_named_in_serves_log_not_refused(ws, server):
    import logging

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("uvicorn.error.winback")
    logger.addHandler(handler)
    try:
        reports = [{"mobile": "13800000011", "report_status": "SUCCESS", "sid": "no-such-serial"},
                   {"mobile": "13800000011", "report_status": "SUCCESS"},                 # no sid
                   {"mobile": "13800000011", "report_status": "TELEPORTED", "sid": "p11"}]
        response = httpx.post(f"{server}/callbacks/tencent/receipts?token={TENCENT_TOKEN}", json=reports)
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 200 and response.content == b'{"result":0,"errmsg":"OK"}'
    assert "tencent receipts: 1 of 1 receipts matched no send (unknown id; recorded unmatched)" in lines
    assert any("2 record(s) skipped: record 2: no sid; record 3: report_status is 'TELEPORTED'" in line
               for line in lines), lines
    assert statuses(ws)[11] == ("sent", None)


def test_a_callback_channel_that_is_not_a_channel_is_refused_503_and_changes_nothing(ws, tmp_path):
    (tmp_path / "winback.toml").write_text(CONFIG.replace('token_env = "WB_TEST_ALIYUN_CB"',
                                                          'token_env = "WB_TEST_ALIYUN_CB"\nchannel = "txt"'),
                                           encoding="utf-8")
    broken = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    before = state(ws)
    with BackgroundServer(broken) as url:
        response = httpx.post(f"{url}/callbacks/aliyun/replies?token={ALIYUN_TOKEN}",
                              json=[{"phone_number": "13800000005", "content": "R"}])
    assert response.status_code == 503 and "channel = 'txt'" in response.json()["msg"]
    assert state(ws) == before


def test_serve_warns_about_the_callback_token_of_a_channel_that_sends_through_aliyun(monkeypatch):
    # docs/inbound.md gives [inbound.aliyun] token_env a default, so an operator who followed docs/channels.md has
    # no such table: serve said nothing, and every receipt Aliyun pushed was refused (503).
    from console.config import config_from_dict
    from console.inbound.callbacks import startup_warnings

    monkeypatch.delenv("WINBACK_ALIYUN_CALLBACK_TOKEN", raising=False)
    config = config_from_dict({"channels": {"sms": {"transport": "aliyun"}, "email": {"transport": "dryrun"}}})
    assert startup_warnings(config) == [
        "$WINBACK_ALIYUN_CALLBACK_TOKEN is not set: /callbacks/aliyun/… will be refused (503) until it is"]
    monkeypatch.setenv("WINBACK_ALIYUN_CALLBACK_TOKEN", "set")
    assert startup_warnings(config) == []


def test_serve_s_inbound_secret_warning_names_the_paths_it_guards(monkeypatch):
    # the warning read "receipts and replies will be refused": an Aliyun operator took it for their callbacks,
    # which carry their own token
    from console.config import config_from_dict
    from console.inbound.server import inbound_secret_warning

    monkeypatch.delenv("WINBACK_INBOUND_SECRET", raising=False)
    warning = inbound_secret_warning(config_from_dict({}))
    assert warning is not None
    assert "/receipts/… and /replies/…" in warning and "/callbacks/" in warning
    monkeypatch.setenv("WINBACK_INBOUND_SECRET", "set")
    assert inbound_secret_warning(config_from_dict({})) is None
