"""transport = "aliyun" against a local server that verifies requests the way Aliyun does (tests/provider_servers.py).

A real launch from the CLI sends each number once, per-user parameters by SendBatchSms and a shared parameter set
by SendSms; the text the server renders is the text preview showed; BizId is stored as the provider id and OutId
carries winback's message id. A Code other than OK (HTTP 200) is a permanent failure with the provider's Code and
Message for every number of that request; a throttling Code is "retry later"; a request changed in transit or
signed with a wrong secret is refused by the server (SignatureDoesNotMatch) unread: nothing sent, every number
planned again and the run paused with what to fix (more in tests/test_provider_auth_refusals.py).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from console import messages
from console.channels import open_channel
from console.channels.base import DEFERRED, Message
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.provider_servers import AliyunServer

PER_USER = '''
name = "care-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100001"
approved_text = "尊敬的会员${name}，您的积分将于月底到期，详情见会员中心。拒收请回复R"
[params]
name = "user.name"
'''

SHARED = '''
name = "notice-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100002"
approved_text = "会员日活动${day}开始，详情见会员中心。拒收请回复R"
[params]
day = "'周五'"
'''

APPROVED = {"SMS_100001": "尊敬的会员${name}，您的积分将于月底到期，详情见会员中心。拒收请回复R",
            "SMS_100002": "会员日活动${day}开始，详情见会员中心。拒收请回复R"}


def _server(**options):
    return AliyunServer(key_id="LTAI-test", secret="ali-s3cret", sign_name="品牌", templates=APPROVED, **options)


def _workspace(tmp_path, monkeypatch, url: str, users: int = 12):
    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
        "sign_name": "品牌", "endpoint": url, "price": 0.045, "backoff": 0.01, "retries": 1,
        # the transport is under test here, not the content rules (its templates carry ${name}, a variable Aliyun
        # forbids in marketing templates: tests/test_content_rules.py)
        "content_rules": False}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, users)
    add_template(db, ws.config, PER_USER)
    add_template(db, ws.config, SHARED)
    return ws, db


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args])


def _ledger(db, campaign):
    return {r["user_id"]: r for r in db.query(
        "SELECT s.* FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = ?", [campaign])}


def test_a_real_launch_from_the_cli_sends_batch_and_shared_requests_each_number_once(tmp_path, monkeypatch):
    from console.campaigns import model

    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url)
        model.create(db, "per-user", segment="all", channel="sms", template="care-ali", holdout=0)
        model.create(db, "shared", segment="all", channel="sms", template="notice-ali", holdout=0)
        for name in ("per-user", "shared"):
            result = _cli(ws, "campaign", "launch", name, "--real", "--yes")
            assert result.exit_code == 0, result.output
        tally = _cli(ws, "campaign", "tally", "per-user", "--json")

    # per-user parameters: SendBatchSms; one shared parameter set: SendSms (each ≤ its maximum per request)
    actions = Counter(r["action"] for r in srv.state.requests)
    assert actions == {"SendBatchSms": 1, "SendSms": 1}
    assert all(len(r["numbers"]) == 12 for r in srv.state.requests)
    by_action = Counter((t.action, t.phone) for t in srv.state.taken)
    assert len(by_action) == 24 and set(by_action.values()) == {1}   # every number once per campaign
    # what the provider rendered is what preview showed
    preview, _ = messages.preview(db, ws.config, "care-ali", "u3")
    rendered = {t.phone: t.text for t in srv.state.taken if t.action == "SendBatchSms"}
    assert rendered["13800000003"] == preview.text == "【品牌】尊敬的会员用户3，您的积分将于月底到期，详情见会员中心。拒收请回复R"
    ledger = _ledger(db, "per-user")
    assert Counter(r["status"] for r in ledger.values()) == {"sent": 12}
    biz = {t.provider_id for t in srv.state.taken if t.action == "SendBatchSms"}
    assert {r["provider_id"] for r in ledger.values()} == biz and len(biz) == 1   # the request's BizId
    out_id = srv.state.requests[0]["out_id"] if srv.state.requests[0]["action"] == "SendBatchSms" \
        else srv.state.requests[1]["out_id"]
    assert out_id in {r["message_id"].strip("<>") for r in ledger.values()}
    counts = json.loads(tally.output)
    assert (counts["sent"], counts["failed"]) == (12, 0)


def test_a_code_other_than_ok_is_a_permanent_failure_with_the_providers_message(tmp_path, monkeypatch):
    from console.campaigns import control, model, tallies

    # a Code about the message (a blacklisted keyword in a parameter), not the account or a setting
    with _server(code_for={"13800000002": ("isv.BLACK_KEY_CONTROL_LIMIT", "模板变量中存在黑名单关键字")}) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=5)
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        control.launch(db, ws.config, "c", real=True)

    assert srv.state.taken == []
    assert srv.state.refused and srv.state.refused[0][0] == 200   # Aliyun: HTTP 200, the error is in Code
    ledger = _ledger(db, "c")
    # the batch request's fate applies to all its numbers
    assert {r["status"] for r in ledger.values()} == {"failed"}
    assert all(r["error"] == "Aliyun SendBatchSms: isv.BLACK_KEY_CONTROL_LIMIT: 模板变量中存在黑名单关键字" for r in ledger.values())
    tally = tallies.tally(db, "c")
    assert (tally["sent"], tally["failed"]) == (0, 5)


def test_a_request_changed_in_transit_is_refused_and_nothing_is_recorded_failed(tmp_path, monkeypatch):
    from console.campaigns import control, model

    # an on-path change of one number (same length): the signature no longer matches the body
    with _server(mangle=lambda body: body.replace(b"13800000001", b"13900000001")) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3)
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        control.launch(db, ws.config, "c", real=True)

    assert srv.state.taken == []
    assert [(s, r["Code"]) for s, r in srv.state.refused] == [(400, "SignatureDoesNotMatch")]
    # refused unread: nothing was sent, so nobody is failed — planned again, and the run paused with the reason
    ledger = _ledger(db, "c")
    assert {r["status"] for r in ledger.values()} == {"planned"}
    assert all("SignatureDoesNotMatch: Specified signature does not match our calculation." in r["error"]
               for r in ledger.values())
    paused = model.get(db, "c")
    assert paused.status == "paused" and "nothing between this machine and Aliyun changes the request" in \
        (paused.pause_reason or "")


def test_a_wrong_secret_is_refused_by_the_server_and_pauses_the_run(tmp_path, monkeypatch):
    from console.campaigns import control, model

    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=2)
        monkeypatch.setenv("WB_ALI_SECRET", "not-the-secret")
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        control.launch(db, ws.config, "c", real=True)
    assert srv.state.taken == []
    assert {r["status"] for r in _ledger(db, "c").values()} == {"planned"}
    assert model.get(db, "c").status == "paused"
    assert "not-the-secret" not in json.dumps(srv.state.refused)


def test_a_throttling_code_is_retry_later_not_failed(tmp_path, monkeypatch):
    with _server(code_for={"13800000001": ("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控")}) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=1)
        channel = open_channel("sms", ws.config, dry_run=False)
        channel._sleep = lambda s: None
        message = Message(1, 1, "+8613800000001", "t", "c", "<wb.1.1.1.x@winback.invalid>",
                          fields={"provider": "aliyun", "provider_template": "SMS_100001",
                                  "template_params": {"name": "王"}})
        seen = []
        [result] = channel.send([message], before_each=lambda m: seen.append(m.send_id), on_result=seen.append)
        channel.close()
    assert result.status == DEFERRED and "isv.BUSINESS_LIMIT_CONTROL" in (result.error or "")
    assert len(srv.state.refused) == 2   # the first try and one retry (retries = 1)
    assert seen[-1] is result


def test_before_each_can_hold_back_one_number_of_a_batch(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=1)
        channel = open_channel("sms", ws.config, dry_run=False)
        batch = [Message(i, i, f"+86138000000{i:02d}", "t", "c", f"<wb.1.1.{i}.x@winback.invalid>",
                         fields={"provider": "aliyun", "provider_template": "SMS_100001",
                                 "template_params": {"name": f"n{i}"}}) for i in (1, 2, 3)]
        results = channel.send(batch, before_each=lambda m: "suppressed" if m.send_id == 2 else None)
        channel.close()
    assert [r.status for r in results] == ["sent", "skipped", "sent"]
    assert results[1].reason == "suppressed" and not results[1].attempted
    assert sorted(t.phone for t in srv.state.taken) == ["13800000001", "13800000003"]


@pytest.mark.parametrize("missing", ["access_key_secret_env", "sign_name"])
def test_a_missing_setting_is_named_before_anything_is_sent(tmp_path, monkeypatch, missing):
    from console.config import ConfigError

    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    settings = {"transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
                "sign_name": "品牌"}
    settings.pop(missing)
    cfg = write_config(tmp_path / "winback.toml", {"sms": settings})
    with pytest.raises(ConfigError, match=rf"line \d+: \[channels.sms\] {missing}: missing"):   # winback.toml's
        open_channel("sms", load_workspace(cfg).config, dry_run=False)


def test_requests_respect_each_actions_maximum(monkeypatch):
    from console.channels.aliyun import AliyunChannel

    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    channel = AliyunChannel("sms", {"access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
                                    "sign_name": "品牌"})

    def msg(i: int, params: dict) -> Message:
        return Message(i, i, f"+86139{i:08d}", "t", "c", f"<wb.1.1.{i}.x@winback.invalid>",
                       fields={"provider": "aliyun", "provider_template": "SMS_1", "template_params": params})

    shared = [msg(i, {"day": "周五"}) for i in range(2500)]
    single = [msg(10_000 + i, {"day": str(i)}) for i in range(150)]
    sizes = sorted(len(r) for r in channel.requests(shared + single))
    channel.close()
    assert sizes == [50, 100, 500, 1000, 1000]   # SendSms ≤ 1,000 (one parameter set), SendBatchSms ≤ 100


def test_a_real_launch_of_a_template_not_approved_at_aliyun_is_refused_before_anything_is_written(tmp_path,
                                                                                                   monkeypatch):
    from console.campaigns import model
    from tests.campaign_support import SMS_TEMPLATE

    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=2)
        add_template(db, ws.config, SMS_TEMPLATE)   # free text: Aliyun cannot send it
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        result = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        plan = _cli(ws, "campaign", "plan", "c", "--real")
    assert result.exit_code == 1, result.output
    words = " ".join(result.output.split())
    assert "template 'miss-you' is not an approved aliyun template" in words
    assert "not an approved aliyun template" in " ".join(plan.output.split())
    assert srv.state.requests == []
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0


@pytest.mark.parametrize(("header", "seconds"), [("3600", 3600), ("9" * 400, 7 * 86400)], ids=["an-hour", "400-digits"])
def test_a_429_from_the_gateway_is_a_provider_wait_for_the_whole_batch(tmp_path, monkeypatch, header, seconds):
    """A 429's Retry-After is read as http.py reads it: a digit string too long for a time (it made float('inf'),
    which the recorder and the hand-off writer cannot store) is read as a week, like 'inf' from a broken proxy."""
    import tests.provider_servers as ps

    def throttled(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(429)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Retry-After", header)
        self.send_header("Content-Length", "17")
        self.end_headers()
        self.wfile.write(b"Too Many Requests")

    monkeypatch.setattr(ps._AliyunHandler, "do_POST", throttled)
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=1)
        channel = open_channel("sms", ws.config, dry_run=False)
        batch = [Message(i, i, f"+86138000000{i:02d}", "t", "c", f"<wb.1.1.{i}.x@winback.invalid>",
                         fields={"provider": "aliyun", "provider_template": f"SMS_10000{i}",
                                 "template_params": {"name": "n"}}) for i in (1, 2)]
        results = channel.send(batch)
        channel.close()
    # two templates: two requests; the first is told to wait an hour, the second is not attempted
    assert [(r.status, r.provider_wait, r.attempted) for r in results] == [(DEFERRED, True, True),
                                                                           (DEFERRED, True, False)]
    assert results[0].retry_after == seconds and "HTTP 429" in (results[0].error or "")
