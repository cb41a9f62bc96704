"""Approved SMS templates (issue 13): the provider renders the text; winback sends a code and parameters.

`winback templates add` refuses a mapping that leaves a placeholder unfilled or fills one the approved text does
not have (exit 2, naming the placeholder); preview, length, parts and cost are those of the text the provider
renders (【sign_name】 + approved text with the parameters), and the code and parameters travel in the fields.
"""

from __future__ import annotations

import json
import textwrap

from typer.testing import CliRunner

from console import messages, templates
from tests.campaign_support import add_template, add_users, load_workspace, write_config

ALIYUN = '''
name = "care-ali"
channel = "sms"
provider = "aliyun"
provider_template = "SMS_100001"
approved_text = "尊敬的会员${name}，您的${what}将于月底到期，详情见会员中心。拒收请回复R"
[params]
name = "user.name"
what = "'积分'"
'''

TENCENT = '''
name = "care-tc"
channel = "sms"
provider = "tencent"
provider_template = "2001"
approved_text = "尊敬的会员{1}，您本月有{2}张券未使用。拒收请回复R"
[params]
1 = "user.name"
2 = "{{ 2 + 1 }}"
'''


def _workspace(tmp_path, transport="aliyun"):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": transport, "sign_name": "品牌", "price": 0.05, "access_key_id_env": "X",
        "access_key_secret_env": "Y"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    return ws, db


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args])


def _file(tmp_path, text: str):
    path = tmp_path / "t.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_add_refuses_an_unfilled_placeholder_naming_it(tmp_path):
    ws, db = _workspace(tmp_path)
    result = _cli(ws, "templates", "add", str(_file(tmp_path, ALIYUN.replace("what = \"'积分'\"\n", ""))))
    assert result.exit_code == 2, result.output
    assert "${what}" in result.output and "not filled" in result.output
    assert db.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 0


def test_add_refuses_a_parameter_the_text_does_not_have_naming_it(tmp_path):
    ws, db = _workspace(tmp_path)
    result = _cli(ws, "templates", "add", str(_file(tmp_path, TENCENT + '3 = "user.name"\n')))
    assert result.exit_code == 2, result.output
    assert "{3}" in result.output and "does not have" in result.output
    assert db.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 0


def test_a_parameter_is_checked_like_any_template_expression(tmp_path):
    ws, db = _workspace(tmp_path)
    result = _cli(ws, "templates", "add", str(_file(tmp_path, ALIYUN.replace('name = "user.name"',
                                                                              'name = "user.nmae"'))))
    assert result.exit_code == 2, result.output
    assert "params.name" in result.output and "nmae" in result.output


def test_a_body_beside_approved_text_is_refused(tmp_path):
    ws, db = _workspace(tmp_path)
    result = _cli(ws, "templates", "add", str(_file(tmp_path, ALIYUN.replace(
        'provider = "aliyun"', 'provider = "aliyun"\nbody = "free text"'))))
    assert result.exit_code == 2 and "no body" in result.output


def test_preview_length_parts_and_cost_are_those_of_the_text_the_provider_renders(tmp_path):
    ws, db = _workspace(tmp_path)
    added = _cli(ws, "templates", "add", str(_file(tmp_path, ALIYUN)))
    assert added.exit_code == 0, added.output
    msg, _info = messages.preview(db, ws.config, "care-ali", "u2")
    assert msg.error is None, msg.error
    assert msg.text == "【品牌】尊敬的会员用户2，您的积分将于月底到期，详情见会员中心。拒收请回复R"
    assert msg.units == len(msg.text) and msg.parts == 1 and msg.cost == 0.05
    assert not [w for w in msg.warnings if w.code == "no_opt_out"]   # the approved text carries it
    assert msg.fields == {"provider": "aliyun", "provider_template": "SMS_100001",
                          "template_params": {"name": "用户2", "what": "积分"}}
    # kept as saved: the template read back from the database is still the approved one
    t = templates.get(db, "care-ali")
    assert t.approved is not None and t.approved.code == "SMS_100001"
    shown = _cli(ws, "preview", "care-ali", "--user", "u2", "--json")
    assert shown.exit_code == 0, shown.output
    assert "【品牌】尊敬的会员用*" in shown.output and "SMS_100001" in shown.output   # masked on screen
    assert "用户2" not in shown.output


def test_tencent_numbered_placeholders_and_a_long_text_billed_in_parts(tmp_path):
    ws, db = _workspace(tmp_path, transport="tencent")
    long_text = TENCENT.replace("您本月有{2}张券未使用。", "您本月有{2}张券未使用。" + "会员权益说明" * 12)
    add_template(db, ws.config, long_text)
    msg, _info = messages.preview(db, ws.config, "care-tc", "u1")
    assert msg.text.startswith("【品牌】尊敬的会员用户1，您本月有3张券未使用。")
    assert msg.units == len(msg.text) > 70 and msg.parts == 2 and msg.cost == 0.1
    assert msg.fields["template_params"] == {"1": "用户1", "2": "3"}


def test_literal_braces_in_the_approved_text_are_not_read_as_jinja(tmp_path):
    ws, db = _workspace(tmp_path)
    add_template(db, ws.config, ALIYUN.replace("详情见会员中心", "详情见{{会员中心}}{% x %}"))
    msg, _info = messages.preview(db, ws.config, "care-ali", "u1")
    assert "详情见{{会员中心}}{% x %}" in msg.text


def _recipes() -> dict[str, dict]:
    """The toml blocks of docs/channels.md's China SMS section: the template and each provider's settings."""
    import re
    import tomllib
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "channels.md").read_text(encoding="utf-8")
    section = doc.split("## SMS in mainland China", 1)[1].split("\n## ", 1)[0]
    blocks = [tomllib.loads(b) for b in re.findall(r"```toml\n(.*?)```", section, re.S)]
    return {"template": blocks[0], "aliyun": blocks[1]["channels"]["sms"], "tencent": blocks[2]["channels"]["sms"]}


def test_the_recipes_in_docs_channels_work_against_the_local_servers(tmp_path, monkeypatch):
    from console.campaigns import control, model
    from tests.provider_servers import AliyunServer, TencentServer

    recipes = _recipes()
    template = recipes["template"]
    assert template["provider"] == "aliyun" and "${name}" in template["approved_text"]
    cases = [
        ("aliyun", AliyunServer(key_id="id", secret="secret", sign_name="品牌",
                                templates={template["provider_template"]: template["approved_text"]})),
        ("tencent", TencentServer(key_id="id", secret="secret", sign_name="品牌", app_id="1400123456",
                                  templates={"777": template["approved_text"].replace("${name}", "{1}")})),
    ]
    for provider, server in cases:
        settings = dict(recipes[provider])
        for key, value in settings.items():
            if key.endswith("_env"):
                monkeypatch.setenv(value, "id" if key in ("access_key_id_env", "secret_id_env") else "secret")
        folder = tmp_path / provider
        folder.mkdir()
        with server as srv:
            settings["endpoint"] = srv.url   # the recipe's public endpoint, wherever the test's server listens
            cfg = write_config(folder / "winback.toml", {"sms": settings})
            ws = load_workspace(cfg)
            db = ws.open()
            add_users(db, 2)
            if provider == "aliyun":
                toml = "\n".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in template.items()
                                 if k != "params") + "\n[params]\nname = \"user.first_name\"\n"
            else:
                toml = (f'name = "t"\nchannel = "sms"\nprovider = "tencent"\nprovider_template = "777"\n'
                        f'approved_text = {json.dumps(template["approved_text"].replace("${name}", "{1}"), ensure_ascii=False)}\n'
                        '[params]\n1 = "user.first_name"\n')
            saved = add_template(db, ws.config, toml)
            model.create(db, "c", segment="all", channel="sms", template=saved.name, holdout=0)
            # the recipe's ${name} is a variable Aliyun forbids in marketing templates: a content warning (R)
            assert control.launch(db, ws.config, "c", real=True, accept_warnings=True).sent == 2, provider
        assert len(srv.state.taken) == 2 and all(t.text.startswith("【品牌】尊敬的会员") for t in srv.state.taken)
