"""The Messages preview of an approved Aliyun template, as a newcomer saw it in a first real campaign: the rendered
text ran into the first provider field ('…拒收请回复Rprovider: aliyun'), and only sms_length's word list was
warned of (回归) — not the content rules (「好久不见」, ${name}) that the plan and a real launch then held it to."""

from __future__ import annotations

from console import templates
from tests.outcomes_ledger import add_users
from tests.tui_helpers import make_app, settle, text_of, wait_for

APPROVED = """
name = "care-back"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_900001"
approved_text = "尊敬的会员${name}，好久不见，详情见会员中心。拒收请回复R"
[params]
name = "user.name"
"""


async def test_the_preview_of_an_approved_template_keeps_text_and_fields_apart_and_shows_content_rules(workspace,
                                                                                                        db):
    add_users(db, 1)
    templates.save(db, templates.parse_toml(APPROVED))
    app = make_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "provider_template" in text_of(pilot, "#preview"), what="the preview")
        shown = text_of(pilot, "#preview")
        assert "拒收请回复R\nprovider: aliyun\n" in shown, shown
        assert "⚠ content rule: wording the providers reject (user recall): 「好久不见」" in shown, shown
        assert "⚠ content rule: aliyun allows no variables in marketing templates; this one has ${name}" in shown
        assert 'template_params: {"name": "U**"}' in shown, shown
