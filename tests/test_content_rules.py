"""Content rules for marketing SMS (issue #13; console/content_rules.py): each rule warns in `templates lint` and
`campaign plan` (counted in --json), and a real launch with warnings is refused (exit 1, naming them) unless
`--accept-warnings` — against a local Tencent server that would have taken the messages."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from console import content_rules
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.provider_servers import TencentServer

RULES = content_rules.Rules(dict(content_rules.DEFAULT_WORDS), "拒收请回复R", (),
                            content_rules.DEFAULT_SHORT_HOSTS, ("aliyun", "huawei"))


def _rules(text: str, provider: str | None = "tencent", rules: content_rules.Rules = RULES) -> list[str]:
    return [w.rule for w in content_rules.check_text(text, rules, provider=provider)]


def test_a_clean_member_notice_has_no_warning() -> None:
    assert _rules("会员日活动周五开始，详情见会员中心 https://shop.example.com/day 。拒收请回复R") == []


def test_each_rejected_category_is_named() -> None:
    cases = {
        "尊敬的会员，用户召回专享。拒收请回复R": "words:user_recall",
        "新用户拉新活动开始。拒收请回复R": "words:acquisition",
        "您有一张优惠券待领取。拒收请回复R": "words:coupon",
        "领券立减，红包翻倍。拒收请回复R": "words:coupon",
        "积分兑换即将截止。拒收请回复R": "words:points",
        "下载App享会员价。拒收请回复R": "words:app_promotion",
        "邀您参与问卷。拒收请回复R": "words:survey",
        "欢迎到店体验。拒收请回复R": "words:store_invitation",
    }
    for text, rule in cases.items():
        assert _rules(text) == [rule], text
    words = content_rules.check_text("领券立减，红包翻倍。拒收请回复R", RULES, provider=None)[0].message
    assert "coupon and card promotion" in words and "「领券」" in words and "「红包」" in words


def test_a_marketing_sms_must_end_with_the_opt_out_text() -> None:
    assert _rules("会员日活动周五开始。") == ["opt_out"]
    assert _rules("拒收请回复R 会员日活动周五开始。") == ["opt_out"]   # anywhere but the end is not enough
    own = content_rules.Rules(RULES.words, "回T退订", (), (), ())
    assert _rules("会员日活动周五开始。回T退订", rules=own) == []


def test_variables_are_refused_only_where_the_provider_forbids_them() -> None:
    text = "尊敬的会员${name}，会员日开始。拒收请回复R"
    assert _rules(text, provider="aliyun") == ["variables"]
    assert _rules("尊敬的会员{1}，会员日开始。拒收请回复R", provider="huawei") == ["variables"]
    assert _rules("尊敬的会员{1}，会员日开始。拒收请回复R", provider="tencent") == []
    assert _rules("尊敬的会员{{ user.name }}，会员日开始。拒收请回复R", provider="aliyun") == ["variables"]


def test_links_must_be_fixed_registered_domains() -> None:
    assert _rules("详情 https://t.cn/A6x 拒收请回复R") == ["link"]                       # a short-link host
    assert _rules("详情 shop.example.com/{1}/p 拒收请回复R") == ["link"]                # a variable in the URL
    assert _rules("详情 https://shop.example.com/{{ user.id }} 拒收请回复R") == ["link"]
    assert _rules("详情 {{ offer.url }} 拒收请回复R") == ["link"]                        # the whole link a variable
    listed = content_rules.Rules(RULES.words, "拒收请回复R", ("example.com",), (), ())
    assert _rules("详情 https://shop.example.com/a 拒收请回复R", rules=listed) == []      # a subdomain of a listed one
    assert _rules("详情 https://evil.example.net/a 拒收请回复R", rules=listed) == ["link"]


def test_the_rules_come_from_winback_toml_with_per_channel_opt_out(tmp_path) -> None:
    from console.config import ConfigError
    from console.config import load_config as load

    path = tmp_path / "winback.toml"
    path.write_text('[workspace]\nname = "t"\n[content_rules]\nallowed_link_domains = ["example.com"]\n'
                    '[content_rules.words]\ncoupon = ["福利"]\n'
                    '[channels.sms]\ntransport = "tencent"\nopt_out_text = "回T退订"\n', encoding="utf-8")
    cfg = load(path)
    rules = content_rules.rules(cfg, "sms")
    assert rules.opt_out_text == "回T退订" and rules.allowed_link_domains == ("example.com",)
    assert rules.words["coupon"] == ("福利",) and "用户召回" in rules.words["user_recall"]   # others keep defaults
    path.write_text('[workspace]\nname = "t"\n[content_rules]\nshort_link_hosts = "t.cn"\n', encoding="utf-8")
    try:
        content_rules.rules(load(path))
    except ConfigError as exc:
        assert str(exc) == f"{path} line 4: [content_rules] short_link_hosts: 't.cn' must be a list of strings"
    else:
        raise AssertionError("a string where a list belongs was accepted")


# -- through the CLI: lint, plan, launch -------------------------------------------------------------------------

RISKY = '''
name = "risky"
channel = "sms"
provider = "tencent"
provider_template = "4001"
approved_text = "尊敬的会员{1}，领券到店享好礼 https://t.cn/x"
[params]
1 = "user.name"
'''
CLEAN = '''
name = "clean"
channel = "sms"
provider = "tencent"
provider_template = "4002"
approved_text = "会员日活动{1}开始，详情见会员中心。拒收请回复R"
[params]
1 = "'周五'"
'''
APPROVED = {"4001": "尊敬的会员{1}，领券到店享好礼 https://t.cn/x", "4002": "会员日活动{1}开始，详情见会员中心。拒收请回复R"}


def _setup(tmp_path, monkeypatch, url: str):
    from console.campaigns import model

    monkeypatch.setenv("WB_TC_ID", "AKID-test")
    monkeypatch.setenv("WB_TC_KEY", "tc-s3cret")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "tencent", "secret_id_env": "WB_TC_ID", "secret_key_env": "WB_TC_KEY",
        "sdk_app_id": "1400123456", "sign_name": "品牌", "endpoint": url, "price": 0.05}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, RISKY)
    add_template(db, ws.config, CLEAN)
    model.create(db, "risky-c", segment="all", channel="sms", template="risky", holdout=0)
    model.create(db, "clean-c", segment="all", channel="sms", template="clean", holdout=0)
    return ws, db


def _server() -> TencentServer:
    return TencentServer(key_id="AKID-test", secret="tc-s3cret", sign_name="品牌", templates=APPROVED,
                         app_id="1400123456")


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args])


def test_lint_and_plan_show_and_count_the_warnings(tmp_path, monkeypatch) -> None:
    with _server() as srv:
        ws, _db = _setup(tmp_path, monkeypatch, srv.url)
        lint = _cli(ws, "templates", "lint", "risky", "--segment", "all", "--json")
        assert lint.exit_code == 0, lint.output           # warnings do not fail the lint
        report = json.loads(lint.output)
        assert report["warning_count"] == 4
        assert sorted(w["rule"] for w in report["content_warnings"]) == ["link", "opt_out", "words:coupon",
                                                                         "words:store_invitation"]
        assert "warning (link)" in _cli(ws, "templates", "lint", "risky", "--segment", "all").output
        plan = _cli(ws, "campaign", "plan", "risky-c", "--json")
        data = json.loads(plan.output)
        assert data["warning_count"] == len(data["warnings"]) == 4
        assert any("「领券」" in w for w in data["warnings"]) and any("拒收请回复R" in w for w in data["warnings"])
        shown = _cli(ws, "campaign", "plan", "risky-c")
        assert "content warning" in shown.output and "--accept-warnings" in shown.output
        assert json.loads(_cli(ws, "campaign", "plan", "clean-c", "--json").output)["warning_count"] == 0


def test_a_real_launch_with_warnings_is_refused_naming_them_and_nothing_is_sent(tmp_path, monkeypatch) -> None:
    from console.campaigns import control
    from console.campaigns.control import ContentWarnings

    with _server() as srv:
        ws, db = _setup(tmp_path, monkeypatch, srv.url)
        refused = _cli(ws, "campaign", "launch", "risky-c", "--real", "--yes")
        assert refused.exit_code == 1
        assert "4 content warnings" in refused.output and "「领券」" in refused.output
        assert "--accept-warnings" in refused.output
        try:
            control.launch(db, ws.config, "risky-c", real=True)
        except ContentWarnings as exc:
            assert "t.cn" in str(exc)
        else:
            raise AssertionError("the service launched past the warnings")
        asked = _cli(ws, "campaign", "launch", "risky-c", "--real")   # the interactive path refuses before asking
        assert asked.exit_code == 1 and "Type the number" not in asked.output
        assert srv.state.requests == []
        assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0
        assert db.execute("SELECT status FROM campaigns WHERE name = 'risky-c'").fetchone()[0] == "draft"
        dry = _cli(ws, "campaign", "launch", "risky-c")                 # a dry run sends nothing: not refused
        assert dry.exit_code == 0, dry.output


def test_accept_warnings_launches_and_is_audited(tmp_path, monkeypatch) -> None:
    with _server() as srv:
        ws, db = _setup(tmp_path, monkeypatch, srv.url)
        done = _cli(ws, "campaign", "launch", "risky-c", "--real", "--yes", "--accept-warnings")
        assert done.exit_code == 0, done.output
        clean = _cli(ws, "campaign", "launch", "clean-c", "--real", "--yes")   # no warnings: no flag needed
        assert clean.exit_code == 0, clean.output
    assert len(srv.state.taken) == 6
    (details,) = db.execute("SELECT details FROM audit WHERE action = 'campaign.accept_warnings'").fetchone()
    accepted = json.loads(details)
    assert accepted["campaign"] == "risky-c" and len(accepted["warnings"]) == 4
    # run-due's recurring runs go on only with every current warning accepted before
    from console.campaigns import control

    assert control.accepted_before(db, ws.config, "risky-c")
    # a new version of the template, with wording of a new category
    add_template(db, ws.config, RISKY.replace("https://t.cn/x", "https://t.cn/x 问卷"))
    assert not control.accepted_before(db, ws.config, "risky-c")


def test_rules_apply_to_chinese_provider_channels_or_where_a_channel_asks(tmp_path) -> None:
    from console.templates import parse_toml

    class Cfg:
        path = None

        def __init__(self, channels: dict) -> None:
            self.raw = {"channels": channels}

    plain = parse_toml('name = "p"\nchannel = "sms"\nbody = "领券啦"\n')
    assert content_rules.template_warnings(Cfg({"sms": {"transport": "csv"}}), plain) == []
    assert content_rules.template_warnings(Cfg({"sms": {"transport": "csv", "content_rules": True}}), plain)
    assert content_rules.template_warnings(Cfg({"sms": {"transport": "tencent"}}), plain)
    assert content_rules.template_warnings(Cfg({"sms": {"transport": "aliyun", "content_rules": False}}), plain) == []


def test_a_free_text_sms_is_checked_with_the_opt_out_winback_appends(tmp_path) -> None:
    from console.config import load_config
    from console.templates import parse_toml

    path = tmp_path / "winback.toml"
    plain = parse_toml('name = "p"\nchannel = "sms"\nbody = "会员日活动周五开始"\n')
    path.write_text('[workspace]\nname = "t"\nlocale = "zh_CN"\n[channels.sms]\ntransport = "tencent"\n',
                    encoding="utf-8")
    assert content_rules.template_warnings(load_config(path), plain) == []   # 拒收请回复R is appended
    path.write_text('[workspace]\nname = "t"\n[channels.sms]\ntransport = "tencent"\nopt_out_text = ""\n',
                    encoding="utf-8")   # nothing appended: the rule asks for the default 拒收请回复R
    assert [w.rule for w in content_rules.template_warnings(load_config(path), plain)] == ["opt_out"]
