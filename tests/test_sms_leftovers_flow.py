"""A first real SMS campaign through Aliyun, in the console and the plan: the creation flow offers approved
templates first, its real plan pane says what the CLI plan says, numbers outside +86 are counted, and the plan's
words are right for one part and for a campaign not loaded yet."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Select

from console import offers
from console.campaigns import model
from screens.new_campaign import NewCampaignScreen
from screens.plan_pane import render_plan
from screens.sources.campaigns import plan_campaign
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.tui_helpers import make_app, settle, wait_for

FREE = '''
name = "aaa-free"
channel = "sms"
body = "会员您好，好久不见！"
'''

APPROVED = '''
name = "care-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100001"
approved_text = "尊敬的会员，您的积分将于月底到期，详情见会员中心。拒收请回复R"
'''


def _workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("SL_AK", "ak")
    monkeypatch.setenv("SL_SK", "sk")
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "aliyun", "sign_name": "品牌", "price": 0.05, "access_key_id_env": "SL_AK",
        "access_key_secret_env": "SL_SK"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_users(db, 2, start=10)
    db.execute("UPDATE users SET phone = '+1415555010' || id WHERE external_id IN ('u10', 'u11')")
    db.conn.commit()
    add_template(db, ws.config, FREE)
    add_template(db, ws.config, APPROVED)
    return ws, db


def test_a_real_plan_counts_numbers_outside_the_mainland(tmp_path, monkeypatch):
    ws, db = _workspace(tmp_path, monkeypatch)
    model.create(db, "c1", segment="all", channel="sms", template="care-ali", holdout=0)
    plan = plan_campaign(db, ws.config, "c1", real=True)
    assert len(plan["reach_warnings"]) == 1 and plan["reach_warnings"][0].startswith("2 recipients"), plan
    assert "outside mainland China" in plan["reach_warnings"][0]
    assert not plan_campaign(db, ws.config, "c1")["reach_warnings"]   # a dry run reaches nobody
    shown = render_plan(plan, "CNY").plain
    assert "2 recipients have numbers outside mainland China" in shown


def test_the_real_plan_pane_shows_the_problems_and_warnings_the_cli_plan_prints(tmp_path, monkeypatch):
    ws, db = _workspace(tmp_path, monkeypatch)
    offers.add(db, offers.Offer(name="back20", kind="coupon", threshold=100, amount=20, currency="CNY",
                                validity_days=7))
    model.create(db, "c2", segment="all", channel="sms", template="aaa-free", offer="back20", holdout=0)
    plan = plan_campaign(db, ws.config, "c2", real=True)
    assert plan["problems"] and plan["warnings"], plan
    shown = render_plan(plan, "CNY").plain
    assert "a real launch is refused: " + plan["problems"][0] in shown
    assert plan["warnings"][0] in shown


def test_one_part_is_one_part(tmp_path, monkeypatch):
    ws, db = _workspace(tmp_path, monkeypatch)
    db.execute("DELETE FROM consents WHERE user_id IN (SELECT id FROM users WHERE external_id != 'u1')")
    db.conn.commit()
    model.create(db, "c3", segment="all", channel="sms", template="care-ali", holdout=0)
    plan = plan_campaign(db, ws.config, "c3")
    assert plan["est_parts"] == 1
    shown = render_plan(plan, "CNY").plain
    assert "≈ 1 part ·" in shown and "1 parts" not in shown


async def test_the_flow_offers_the_approved_template_first_and_says_why(tmp_path, monkeypatch):
    ws, _db = _workspace(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and app.screen.query_one("#f-template", Select).value != Select.NULL, what="the form")
        assert app.screen.query_one("#f-template", Select).value == "care-ali"
        hint = app.screen.query_one("#plan").content
        assert isinstance(hint, Text) and "sends only templates approved there" in hint.plain, hint
        # the campaigns list's plan pane is not titled dry-run before a campaign's plan is loaded
        assert "dry-run" not in str(app.screen_stack[-2].query_one("#campaign-plan").border_title)
