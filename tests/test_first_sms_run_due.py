"""`winback campaign run-due` continuing a first real Aliyun campaign whose deferred messages all failed: the line
read 'c run 1: paused, sent 0, deferred 0' and the exit code was 0 — cron mailed nobody, and neither the failures
nor the brake that paused the campaign were said."""

from __future__ import annotations

from console.campaigns import control, model
from console.policy import quiet_hours
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.test_provider_aliyun import PER_USER, _cli, _server

USERS = 60   # over the brakes' min_sends (50)


def test_run_due_says_the_failures_and_the_pause_of_a_campaign_it_continued_and_exits_1(tmp_path, monkeypatch):
    broke = {f"138{i:08d}": ("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误") for i in range(1, USERS + 1)}
    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    with _server(code_for=broke) as srv:
        ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
            "sign_name": "品牌", "endpoint": srv.url, "retries": 1, "content_rules": False, "quiet_hours": "on"}}))
        db = ws.open()
        add_users(db, USERS)
        add_template(db, ws.config, PER_USER)
        quiet_hours.set_quiet_hours(db, "09:00-11:00", at_night=True)   # the frozen clock, 10:00 UTC+8, is quiet
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        assert control.launch(db, ws.config, "c", real=True).outcome == "waiting"
        monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:01:00+08:00")
        result = _cli(ws, "campaign", "run-due")
    text = " ".join(result.output.split())
    assert "c run 1: paused, sent 0, failed 60, deferred 0" in text, text
    assert "paused: brake:" in text and "`winback campaign resume c`" in text, text
    assert result.exit_code == 1, text
