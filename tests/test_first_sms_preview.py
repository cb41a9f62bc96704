"""`winback preview` of an approved SMS template shows the providers' content rules that `campaign plan` and a real
launch will hold it to. Found in a first real Aliyun campaign: preview warned only of 回归 (sms_length's short word
list), then plan refused the launch for 「好久不见」 and ${name} — two warnings preview never showed."""

from __future__ import annotations

import json

from console import templates
from tests.outcomes_ledger import add_users

APPROVED = """
name = "care-back"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_900001"
approved_text = "尊敬的会员${name}，好久不见，详情见会员中心。拒收请回复R"
[params]
name = "user.name"
"""


def test_preview_of_an_approved_template_shows_the_content_warnings_a_real_launch_refuses(cli, db):
    add_users(db, 1)
    templates.save(db, templates.parse_toml(APPROVED))
    result = cli("preview", "care-back", "--user", "u1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "content warning: wording the providers reject (user recall): 「好久不见」" in text
    assert "content warning: aliyun allows no variables in marketing templates; this one has ${name}" in text
    assert "a real launch needs --accept-warnings" in text
    data = json.loads(cli("preview", "care-back", "--user", "u1", "--json").output)
    assert [w["rule"] for w in data["content_warnings"]] == ["words:user_recall", "variables"]


def test_preview_shows_template_params_as_the_json_the_provider_gets(cli, db):
    # it printed Python's repr, {'name': 'U**'}: not what Aliyun's TemplateParam (JSON) or its console shows
    add_users(db, 1)
    templates.save(db, templates.parse_toml(APPROVED))
    result = cli("preview", "care-back", "--user", "u1")
    assert 'template_params: {"name": "U**"}' in result.output, result.output
