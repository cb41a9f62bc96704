"""A first real SMS campaign through Aliyun (approved templates): what the plan, preview and launch must say.

A coupon offer whose code no parameter of the approved template carries never reaches the customer: preview warns,
`campaign plan --real` lists it among what stops a real launch, and `launch --real` refuses before anything is
written. Numbers outside +86 do not get a mainland template: the real plan says how many.
"""

from __future__ import annotations

from typer.testing import CliRunner

from console import messages, offers
from console.campaigns import model
from tests.campaign_support import add_template, add_users, load_workspace, write_config

NO_COUPON = '''
name = "care-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100001"
approved_text = "尊敬的会员，您的积分将于月底到期，详情见会员中心。拒收请回复R"
'''

WITH_COUPON = '''
name = "coupon-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100002"
approved_text = "尊敬的会员，您的专属券码${code}已到账。拒收请回复R"
[params]
code = "offer.code"
'''


def _workspace(tmp_path):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "aliyun", "sign_name": "品牌", "price": 0.05, "access_key_id_env": "SL_AK",
        "access_key_secret_env": "SL_SK"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, NO_COUPON)
    add_template(db, ws.config, WITH_COUPON)
    offers.add(db, offers.Offer(name="back20", kind="coupon", threshold=100, amount=20, currency="CNY",
                                validity_days=7))
    return ws, db


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args],
                              env={"SL_AK": "ak", "SL_SK": "sk"})


def test_preview_warns_that_the_coupon_is_not_in_the_approved_text(tmp_path):
    ws, db = _workspace(tmp_path)
    msg, _info = messages.preview(db, ws.config, "care-ali", "u1", offer="back20")
    assert msg.coupon_code and msg.coupon_code not in msg.text
    assert [w for w in msg.warnings if w.code == "coupon_not_in_template"], msg.warnings
    carried, _info = messages.preview(db, ws.config, "coupon-ali", "u1", offer="back20")
    assert carried.coupon_code in carried.text
    assert not [w for w in carried.warnings if w.code == "coupon_not_in_template"]


def test_plan_and_launch_refuse_a_coupon_the_approved_template_cannot_carry(tmp_path):
    ws, db = _workspace(tmp_path)
    model.create(db, "c1", segment="all", channel="sms", template="care-ali", offer="back20", holdout=0)
    planned = _cli(ws, "campaign", "plan", "c1", "--real")
    assert planned.exit_code == 1, planned.output
    assert "back20" in planned.output and "care-ali" in planned.output and "offer.code" in planned.output
    launched = _cli(ws, "campaign", "launch", "c1", "--real", "--yes")
    assert launched.exit_code == 1, launched.output
    assert "offer.code" in launched.output
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0


def test_a_template_that_carries_the_code_is_not_refused(tmp_path):
    ws, db = _workspace(tmp_path)
    model.create(db, "c2", segment="all", channel="sms", template="coupon-ali", offer="back20", holdout=0)
    planned = _cli(ws, "campaign", "plan", "c2", "--real")
    assert "offer.code" not in planned.output, planned.output
