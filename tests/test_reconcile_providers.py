"""`winback campaign reconcile` (issue #13, at-most-once): a request that times out after the provider took it
leaves its recipients `unknown`; a resume sends nobody a second message; reconcile asks the provider's query API
(the local servers check its signature like the sends') and settles them; the ones it has no record of are marked
and, with --requeue, sent once by resume."""

from __future__ import annotations

import json
import threading
from collections import Counter

from typer.testing import CliRunner

from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.provider_servers import AliyunServer, TencentServer

TENCENT_TEMPLATE = '''
name = "notice-tc"
channel = "sms"
provider = "tencent"
provider_template = "3001"
approved_text = "会员日活动{1}开始，详情见会员中心。拒收请回复R"
[params]
1 = "'周五'"
'''
ALIYUN_TEMPLATE = '''
name = "notice-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100002"
approved_text = "会员日活动周五开始，详情见会员中心。拒收请回复R"
'''


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args])


def _statuses(db) -> Counter:
    return Counter(r[0] for r in db.execute("SELECT status FROM sends"))


def _tencent(tmp_path, monkeypatch, url: str, **extra):
    from console.campaigns import model

    monkeypatch.setenv("WB_TC_ID", "AKID-test")
    monkeypatch.setenv("WB_TC_KEY", "tc-s3cret")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "tencent", "secret_id_env": "WB_TC_ID", "secret_key_env": "WB_TC_KEY",
        "sdk_app_id": "1400123456", "sign_name": "品牌", "endpoint": url, "price": 0.05, "backoff": 0.01,
        "timeout": 0.5, **extra}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 4)
    add_template(db, ws.config, TENCENT_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="notice-tc", holdout=0)
    return ws, db


def test_a_timed_out_request_stays_unknown_is_not_resent_and_reconcile_settles_it(tmp_path, monkeypatch):
    from console.campaigns import control

    stall = threading.Event()
    server = TencentServer(key_id="AKID-test", secret="tc-s3cret", sign_name="品牌", app_id="1400123456",
                           templates={"3001": "会员日活动{1}开始，详情见会员中心。拒收请回复R"}, stall=stall)
    with server as srv:
        try:
            ws, db = _tencent(tmp_path, monkeypatch, srv.url)
            control.launch(db, ws.config, "c", real=True)   # the server takes all 4, then never answers in time
        finally:
            stall.set()
        srv.state.stall = None
        assert len(srv.state.taken) == 4
        assert _statuses(db) == {"unknown": 4}
        resumed = _cli(ws, "campaign", "resume", "c")
        assert len(srv.state.taken) == 4, resumed.output   # nobody got a second message
        assert _statuses(db) == {"unknown": 4}

        # the provider lost one of them (no record): reported too early first — a report may still come
        lost = srv.state.taken.pop()
        first = _cli(ws, "campaign", "reconcile", "c", "--json")
        assert first.exit_code == 0, first.output
        data = json.loads(first.output)
        assert (data["asked"], data["delivered"], data["too_early"], data["no_record"]) == (4, 3, 1, 0)
        assert _statuses(db) == {"delivered": 3, "unknown": 1}
        assert {q["PhoneNumber"] for q in srv.state.queries} == {t.phone for t in srv.state.taken} | {lost.phone}

        monkeypatch.setenv("WINBACK_NOW", "2026-11-25T12:00:00+08:00")   # two hours on: still no report
        second = _cli(ws, "campaign", "reconcile", "c")
        assert second.exit_code == 0, second.output
        assert "no record 1" in second.output and "--requeue" in second.output
        row = db.execute("SELECT status, reason FROM sends WHERE address = ?", [lost.phone]).fetchone()
        assert tuple(row) == ("unknown", "no_provider_record")
        assert len(srv.state.taken) == 3   # reconcile itself sends nothing

        third = _cli(ws, "campaign", "reconcile", "c", "--requeue", "--json")
        assert json.loads(third.output)["requeued"] == 1
        again = _cli(ws, "campaign", "resume", "c")
        assert again.exit_code == 0, again.output
    assert Counter(t.phone for t in srv.state.taken) == Counter({t: 1 for t in
                                                                 (f"+86138{i:08d}" for i in range(1, 5))})
    assert _statuses(db) == {"delivered": 3, "sent": 1}
    serials = {r[0] for r in db.execute("SELECT provider_id FROM sends")}
    assert serials == {t.provider_id for t in srv.state.taken}
    actions = [r[0] for r in db.execute("SELECT action FROM audit WHERE action LIKE 'campaign.re%' ORDER BY id")]
    assert actions.count("campaign.reconcile") == 3 and "campaign.requeue" in actions


def test_aliyun_query_send_details_settles_unknown_rows_by_number_and_day(tmp_path, monkeypatch):
    from console.campaigns import control, model

    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    stall = threading.Event()
    server = AliyunServer(key_id="LTAI-test", secret="ali-s3cret", sign_name="品牌", stall=stall,
                          templates={"SMS_100002": "会员日活动周五开始，详情见会员中心。拒收请回复R"},
                          status_for={"13800000002": 2, "13800000003": 1})
    with server as srv:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
            "sign_name": "品牌", "endpoint": srv.url, "price": 0.045, "backoff": 0.01, "timeout": 0.5}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 4)
        add_template(db, ws.config, ALIYUN_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="notice-ali", holdout=0)
        try:
            control.launch(db, ws.config, "c", real=True)
        finally:
            stall.set()
        srv.state.stall = None
        assert _statuses(db) == {"unknown": 4}
        srv.state.taken = [t for t in srv.state.taken if t.phone != "13800000004"]   # never reached them
        result = _cli(ws, "campaign", "reconcile", "c", "--json")
        assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["delivered"], data["failed"], data["sent"], data["no_record"]) == (1, 1, 1, 1)
    by_phone = {r["address"]: r for r in db.query("SELECT address, status, reason, error FROM sends")}
    assert by_phone["+8613800000001"]["status"] == "delivered"
    assert by_phone["+8613800000002"]["status"] == "failed" and "UNDELIV" in by_phone["+8613800000002"]["error"]
    assert by_phone["+8613800000003"]["status"] == "sent"                      # waiting for its receipt
    assert (by_phone["+8613800000004"]["status"], by_phone["+8613800000004"]["reason"]) == ("unknown",
                                                                                             "no_provider_record")
    for query in srv.state.queries:   # one number and one day (China time) per call, as Aliyun wants
        assert query["SendDate"] == "20261125" and query["PageSize"] == "50" and "," not in query["PhoneNumber"]


def test_a_query_refused_by_the_provider_settles_nothing_and_exits_1(tmp_path, monkeypatch):
    stall = threading.Event()
    server = TencentServer(key_id="AKID-test", secret="tc-s3cret", sign_name="品牌", app_id="1400123456",
                           templates={"3001": "会员日活动{1}开始，详情见会员中心。拒收请回复R"}, stall=stall)
    with server as srv:
        ws, db = _tencent(tmp_path, monkeypatch, srv.url, reconcile_after=0)
        try:
            _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        finally:
            stall.set()
        srv.state.stall = None
        monkeypatch.setenv("WB_TC_KEY", "wrong-key")   # the query's signature no longer verifies
        result = _cli(ws, "campaign", "reconcile", "c")
    assert result.exit_code == 1
    assert "AuthFailure.SignatureFailure" in result.output
    assert _statuses(db) == {"unknown": 4}


def test_a_transport_without_a_query_api_is_refused_with_the_manual_path(tmp_path):
    from console.campaigns import model

    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.05}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 1)
    add_template(db, ws.config, 'name = "t"\nchannel = "sms"\nbody = "会员日"\n')
    model.create(db, "c", segment="all", channel="sms", template="t", holdout=0)
    assert "no unknown recipients" in _cli(ws, "campaign", "reconcile", "c").output
    _cli(ws, "campaign", "launch", "c", "--real", "--yes")
    db.conn.execute("UPDATE sends SET status = 'unknown'")
    db.conn.commit()
    result = _cli(ws, "campaign", "reconcile", "c")
    assert result.exit_code == 2 and "requeue NAME --not-sent FILE" in result.output


def test_twilio_lookup_settles_by_sid_or_by_listing_the_number(tmp_path, monkeypatch):
    from console.campaigns import control, model
    from tests.campaign_support import SMS_TEMPLATE
    from tests.twilio_fake import ACCOUNT, AUTH_TOKEN, CUT, FakeTwilio

    def phone(i: int) -> str:
        return f"+86138{i:08d}"

    monkeypatch.setenv("WB_TWILIO_SID", ACCOUNT)
    monkeypatch.setenv("WB_TWILIO_TOKEN", AUTH_TOKEN)
    # 2: answered 500 but queued by Twilio; 3: cut, Twilio has no record of it; 4: the sid was stored, then a lost
    # answer is simulated by setting the row back to unknown — looked up by its sid
    with FakeTwilio(answers={phone(2): 500, phone(3): CUT}) as twilio:
        twilio.forget.add(phone(3))
        twilio.status[phone(4)] = "delivered"
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "twilio", "account_sid_env": "WB_TWILIO_SID", "auth_token_env": "WB_TWILIO_TOKEN",
            "from": "+15005550006", "endpoint": twilio.url, "concurrency": 1, "backoff": 0.01,
            "max_backoff": 0.05}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 4)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        control.launch(db, ws.config, "c", real=True, max_wait=0)
        db.conn.execute("UPDATE sends SET status = 'unknown' WHERE address = ?", [phone(4)])
        db.conn.commit()
        result = _cli(ws, "campaign", "reconcile", "c", "--requeue", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert (data["asked"], data["sent"], data["delivered"], data["no_record"], data["requeued"]) == (3, 1, 1, 1, 1)
        rows = {r["address"]: r for r in db.query("SELECT address, status, provider_id FROM sends")}
        assert rows[phone(2)]["status"] == "sent" and rows[phone(2)]["provider_id"].startswith("SM")
        assert rows[phone(4)]["status"] == "delivered"
        assert rows[phone(3)]["status"] == "planned"
        twilio.answers.clear()
        resumed = _cli(ws, "campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
    assert sorted(f["To"] for f in twilio.accepted) == [phone(1), phone(3), phone(4)]   # 2 was never resent
    assert [f["To"] for f in twilio.arrived].count(phone(3)) == 2 and rows[phone(1)]["status"] == "sent"
