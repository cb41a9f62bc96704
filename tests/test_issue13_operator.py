"""Issue #13 as an operator meets it (review): `winback init` shows where the new transports go, the launch line
says when recipients ended `unknown` and which command settles them, and `--help` of serve, templates add and plan
answers the questions the new features raise."""

from __future__ import annotations

import tomllib

from typer.testing import CliRunner

from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.provider_servers import AliyunServer

ALIYUN_TEMPLATE = '''
name = "notice-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100002"
approved_text = "会员日活动周五开始，详情见会员中心。拒收请回复R"
'''


def _run(*args: str):
    from console.cli import app

    return CliRunner().invoke(app, list(args), terminal_width=200)


def test_init_writes_a_config_that_names_every_new_transport_and_its_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run("init").exit_code == 0
    text = (tmp_path / "winback.toml").read_text(encoding="utf-8")
    tomllib.loads(text)   # still one valid file: the additions are comments
    for word in ('"aliyun"', '"tencent"', '"twilio"', '"sendgrid"', '"mailgun"',
                 "access_key_id_env", "secret_id_env", "sdk_app_id", "account_sid_env", "api_key_env",
                 'encoding = "form"', 'auth = "basic"', "[content_rules]", "[inbound.aliyun]", "[inbound.twilio]"):
        assert word in text, word


def test_a_launch_whose_requests_got_no_reply_says_how_many_are_unknown_and_how_to_settle_them(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    server = AliyunServer(key_id="LTAI-test", secret="ali-s3cret", sign_name="品牌", cut=True,
                          templates={"SMS_100002": "会员日活动周五开始，详情见会员中心。拒收请回复R"})
    with server as srv:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
            "sign_name": "品牌", "endpoint": srv.url, "backoff": 0.01, "retries": 1}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 3)
        add_template(db, ws.config, ALIYUN_TEMPLATE)
        base = ["--db", str(ws.db_path), "--config", str(cfg)]
        assert _run(*base, "campaign", "create", "c", "--segment", "all", "--channel", "sms",
                    "--template", "notice-ali", "--holdout", "0").exit_code == 0
        result = _run(*base, "campaign", "launch", "c", "--real", "--yes")
    assert [r[0] for r in db.execute("SELECT status FROM sends")] == ["unknown"] * 3
    assert "unknown 3" in result.output, result.output
    assert "winback campaign reconcile c" in result.output, result.output


def test_help_of_serve_templates_add_and_plan_names_the_new_features(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")   # one line per sentence: the words looked for are not wrapped apart
    serve = _run("serve", "--help").output
    assert "/callbacks/" in serve and "[inbound.PROVIDER]" in serve   # rich markup would swallow an unescaped [..]
    add = _run("templates", "add", "--help").output
    assert "approved_text" in add and "provider_template" in add and "[params]" in add
    plan = _run("campaign", "plan", "--help").output
    assert "--accept-warnings" in plan and "content" in plan


def test_tencent_shares_a_request_among_identical_parameters_up_to_200_numbers(monkeypatch):
    from console.channels.base import Message
    from console.channels.tencent import TencentChannel

    monkeypatch.setenv("WB_TC_ID", "AKID-test")
    monkeypatch.setenv("WB_TC_KEY", "tc-s3cret")
    channel = TencentChannel("sms", {"secret_id_env": "WB_TC_ID", "secret_key_env": "WB_TC_KEY",
                                     "sdk_app_id": "1400123456", "sign_name": "品牌"})

    def msg(i: int, params: dict) -> Message:
        return Message(i, i, f"+86139{i:08d}", "t", "c", f"<wb.1.1.{i}.x@winback.invalid>",
                       fields={"provider": "tencent", "provider_template": "3001", "template_params": params})

    shared = [msg(i, {"1": "周五"}) for i in range(450)]
    own = [msg(10_000 + i, {"1": str(i)}) for i in range(3)]
    sizes = sorted(len(r) for r in channel.requests(shared + own))
    channel.close()
    assert sizes == [1, 1, 1, 50, 200, 200]
