"""Send-path leftovers as an operator meets them, with the CLI against the local Aliyun stand-in
(tests/provider_servers.py): a real launch, resume or run-due whose messages failed or ended unknown exits 1 and
says what to do next; `campaign failures` shows the provider's error per recipient and grouped; `launch --real
--yes` prints the warnings the interactive launch shows above its plan; a plan without --real says what a real
aliyun launch would refuse or not reach."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from console import offers
from console.campaigns import control, model
from console.policy import quiet_hours
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.test_provider_aliyun import APPROVED, PER_USER

ILLEGAL = ("isv.MOBILE_NUMBER_ILLEGAL", "号码格式错误")


def _server(**options):
    from tests.provider_servers import AliyunServer

    return AliyunServer(key_id="LTAI-test", secret="ali-s3cret", sign_name="品牌", templates=APPROVED, **options)


def _workspace(tmp_path, monkeypatch, url: str, users: int = 4, **settings):
    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
        "sign_name": "品牌", "endpoint": url, "retries": 1, "backoff": 0.01, "content_rules": False, **settings}}))
    db = ws.open()
    add_users(db, users)
    add_template(db, ws.config, PER_USER)
    return ws, db


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args],
                              terminal_width=200)


def _words(result) -> str:
    return " ".join(result.output.split())


def _failing(users: int) -> dict[str, tuple[str, str]]:
    return {f"138{i:08d}": ILLEGAL for i in range(1, users + 1)}


def test_a_real_launch_whose_messages_all_failed_exits_1_and_failures_says_why(tmp_path, monkeypatch):
    with _server(code_for=_failing(4)) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url)
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        result = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
    text = _words(result)
    assert result.exit_code == 1, text
    assert "c run 1: 4 failed — not every message went out (exit 1)" in text, text
    assert "`winback campaign failures c`" in text, text
    shown = _cli(ws, "campaign", "failures", "c")
    said = _words(shown)
    assert shown.exit_code == 0, said
    assert "c: 4 failed — the provider's answers:" in said, said
    assert "failed isv.MOBILE_NUMBER_ILLEGAL ×4 — 号码格式错误" in said, said
    assert "+8613800000001" not in said and "u1 " in said, said   # masked, as on the Deliveries screen
    data = json.loads(_cli(ws, "campaign", "failures", "c", "--json").stdout)
    assert data["counts"] == {"failed": 4, "bounced": 0, "unknown": 0}
    assert data["groups"] == [{"state": "failed", "code": "isv.MOBILE_NUMBER_ILLEGAL", "text": "号码格式错误",
                               "count": 4}]
    assert len(data["recipients"]) == 4 and {r["code"] for r in data["recipients"]} == {ILLEGAL[0]}
    assert all("0000000" not in r["address"] for r in data["recipients"]), data["recipients"]
    assert _cli(ws, "campaign", "failures", "c", "--state", "sent").exit_code == 2   # not a failure state


def test_a_real_launch_that_sent_everyone_it_could_exits_0(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url)
        db.execute("DELETE FROM consents WHERE user_id = (SELECT id FROM users WHERE external_id = 'u1')")
        db.conn.commit()
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        result = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 0, result.output
    assert "sent 3" in result.output and "no_consent 1" in result.output, result.output
    assert "no failed, bounced or unknown" in _cli(ws, "campaign", "failures", "c").output


def test_resume_and_run_due_exit_1_when_the_messages_they_sent_failed(tmp_path, monkeypatch):
    # quiet hours defer everyone at launch; their messages fail when run-due (or resume) sends them — fewer than
    # the brakes' 50 sends, so no brake pauses the run: the exit code alone has to tell cron
    with _server(code_for=_failing(4)) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, quiet_hours="on")
        quiet_hours.set_quiet_hours(db, "09:00-11:00", at_night=True)   # the frozen clock, 10:00 UTC+8, is quiet
        for name in ("a", "b"):
            model.create(db, name, segment="all", channel="sms", template="care-ali", holdout=0)
            assert control.launch(db, ws.config, name, real=True).outcome == "waiting"
        monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:01:00+08:00")
        resumed = _cli(ws, "campaign", "resume", "a")
        due = _cli(ws, "campaign", "run-due")
    assert resumed.exit_code == 1, resumed.output
    assert "a run 1: 4 failed — not every message went out" in _words(resumed), resumed.output
    assert due.exit_code == 1, due.output
    assert "b run 1: 4 failed — not every message went out" in _words(due), due.output


def test_launch_real_yes_prints_the_warnings_the_interactive_launch_shows(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, content_rules=True)
        add_users(db, 1, start=10)
        db.execute("UPDATE users SET phone = '+14155550110' WHERE external_id = 'u10'")
        db.conn.commit()
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        refused = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        result = _cli(ws, "campaign", "launch", "c", "--real", "--yes", "--accept-warnings")
    # ${name} in an Aliyun marketing template breaks its content rules (tests/test_content_rules.py)
    assert refused.exit_code == 1 and "launch with --accept-warnings" in _words(refused), refused.output
    text = _words(result)
    assert "content warning" in text and "a real launch needs --accept-warnings" in text, text
    assert "warning: 1 recipient has a number outside mainland China" in text, text
    assert "Type the number" not in text   # --yes: the warnings, not the confirmation


def test_a_plan_without_real_says_what_a_real_aliyun_launch_would_refuse_and_not_reach(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    ws, db = _workspace(tmp_path, monkeypatch, "http://127.0.0.1:9/")   # a plan connects to nothing
    db.execute("UPDATE users SET phone = '+1415555010' || id WHERE external_id IN ('u3', 'u4')")
    db.conn.commit()
    offers.add(db, offers.Offer(name="back20", kind="coupon", threshold=100, amount=20, currency="CNY",
                                validity_days=7))
    model.create(db, "c", segment="all", channel="sms", template="care-ali", offer="back20", holdout=0)
    result = _cli(ws, "campaign", "plan", "c")
    text = _words(result)
    assert result.exit_code == 0, text
    assert "warning: a real launch would be refused: offer back20 gives each recipient a coupon code" in text, text
    assert ("warning: a real launch would not reach everyone: 2 recipients have numbers outside mainland China"
            in text), text
    data = json.loads(_cli(ws, "campaign", "plan", "c", "--json").stdout)
    assert len(data["real_launch_warnings"]) == 2 and data["reach_warnings"] == []


def test_the_providers_codes_are_read_out_of_each_channels_error_words():
    from console.campaigns.send_errors import split_error

    assert split_error("Aliyun SendBatchSms: isv.MOBILE_NUMBER_ILLEGAL: 号码格式错误") == (
        "isv.MOBILE_NUMBER_ILLEGAL", "号码格式错误")
    assert split_error("LimitExceeded.PhoneNumberDailyLimit: over the limit") == (
        "LimitExceeded.PhoneNumberDailyLimit", "over the limit")
    assert split_error('HTTP 400 {"error": "bad"}') == ("HTTP 400", '{"error": "bad"}')
    assert split_error("SMTP 550 5.1.1 no such user") == ("SMTP 550", "5.1.1 no such user")
    assert split_error("no reply: ReadTimeout: timed out") == (None, "no reply: ReadTimeout: timed out")
    assert split_error(None) == (None, "")


def test_a_providers_words_in_brackets_are_printed_as_they_are(capsys):
    from console.cli.campaign_ledger_cmds import print_failures

    print_failures("c", {"failed": 2}, [{"state": "failed", "code": "HTTP 400", "text": "[bold]bad[/] [x]",
                                         "count": 2}], [])
    assert "failed   HTTP 400 ×2 — [bold]bad[/] [x]" in capsys.readouterr().err
