"""A bad winback.toml met while sending (console.config.ConfigError, a WinbackError since it is an operator's error)
is the file's fault, never the recipients': the send stops with nothing recorded against whoever was not sent yet,
a batch already with the provider is recorded as it came back, and the fixed file sends the rest — nothing sent
twice, nothing lost. Time is frozen with WINBACK_NOW; the real send goes to a real HTTP gateway on 127.0.0.1."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from console.config import ConfigError, load_config
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

NOW = "2026-12-07T10:00:00+08:00"


@pytest.fixture(autouse=True)
def _frozen(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", NOW)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.delenv("WINBACK_DEBUG", raising=False)


def _states(db) -> Counter[tuple[str, str | None]]:
    return Counter({(status, reason): n for status, reason, n in db.execute(
        "SELECT status, reason, COUNT(*) FROM sends GROUP BY status, reason")})


def _cli(config: Path, *args: str):
    return CliRunner().invoke(app, ["--config", str(config), "--db", str(config.parent / "winback.db"), *args])


def test_a_bad_sms_mode_stops_the_launch_with_everyone_still_planned_and_the_fixed_file_sends_them(tmp_path):
    good = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(good)
    db = ws.open()
    add_users(db, 6)
    add_template(db, ws.config, SMS_TEMPLATE)
    assert _cli(good, "campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
                "--holdout", "0").exit_code == 0
    # the operator then mistypes the SMS counting mode: every message is rendered with it, none can be
    bad = write_config(tmp_path / "bad.toml", {"sms": {"transport": "csv", "price": 0.04, "mode": "bogus"}})

    launched = _cli(bad, "campaign", "launch", "c")
    # exit 1, not a bad file's usual 2 ("nothing changed"): the audience is frozen and the campaign running
    assert launched.exit_code == 1, launched.output
    assert "Traceback" not in launched.output
    line, = launched.stderr.strip().splitlines()   # one line naming the file and the field
    assert line.startswith(f"error: {bad} line "), line
    assert ": [channels.sms] mode: 'bogus'; choose one of cn, gsm" in line, line
    assert "winback campaign resume c" in line
    # not "render_error" against six people who did nothing wrong: nobody is recorded, the campaign waits
    assert _states(db) == {("planned", None): 6}
    assert db.execute("SELECT status FROM campaigns WHERE name = 'c'").fetchone()[0] == "running"

    still_bad = _cli(bad, "campaign", "resume", "c")   # nothing changes: a bad file's exit 2
    assert still_bad.exit_code == 2, still_bad.output
    assert still_bad.stderr.startswith(f"error: {bad} line ") and "[channels.sms] mode: 'bogus'" in still_bad.stderr
    assert _states(db) == {("planned", None): 6}

    resumed = _cli(good, "campaign", "resume", "c")
    assert resumed.exit_code == 0, resumed.output
    assert _states(db) == {("sent", None): 6}
    assert db.execute("SELECT status FROM campaigns WHERE name = 'c'").fetchone()[0] == "completed"


def test_a_config_error_at_the_second_batch_of_a_real_send_records_the_first_and_leaves_the_rest_for_the_next_run(
        tmp_path, monkeypatch):
    from console.campaigns import control, integrations, model

    monkeypatch.setenv("WB_CFG_TOKEN", "t")
    with HttpGateway(tmp_path / "gateway.jsonl") as gw:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_CFG_TOKEN", "price": 0.04, "batch": 4,
            "concurrency": 1}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 10)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        real_renderer = integrations.renderer
        renders = Counter[str]()

        def renderer(*args, **kwargs):
            render = real_renderer(*args, **kwargs)

            def second_batch_fails(user_ids):
                # the file read while rendering the second batch turns out bad (an edit between batches): the
                # first batch is with the provider at that moment
                renders["batches"] += 1
                if renders["batches"] == 2:
                    raise ConfigError(f"{cfg}: [channels.sms] price = 'cheap' is not a number")
                return render(user_ids)

            return second_batch_fails

        monkeypatch.setattr(integrations, "renderer", renderer)
        with pytest.raises(ConfigError, match=r"price = 'cheap' is not a number — 'c' stays running"):
            control.launch(db, ws.config, "c", real=True)
        # the first batch was sent and recorded as such; the six others are untouched, none failed or claimed
        assert _states(db) == {("sent", None): 4, ("planned", None): 6}
        assert len(gw.state.accepted) == 4

        monkeypatch.setattr(integrations, "renderer", real_renderer)
        summary = control.resume(db, load_config(cfg), "c")
        assert summary.outcome == "completed" and summary.sent == 6
        assert _states(db) == {("sent", None): 10}
        # each of the ten reached the gateway exactly once
        numbers = [m["to"] for m in gw.state.accepted]
        assert len(numbers) == 10 and len(set(numbers)) == 10


def test_run_due_reports_a_bad_file_for_the_campaign_and_the_next_run_due_sends_everyone_once_it_is_fixed(
        tmp_path, monkeypatch):
    good = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(good)
    db = ws.open()
    add_users(db, 6)
    add_template(db, ws.config, SMS_TEMPLATE)
    assert _cli(good, "campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
                "--holdout", "0", "--at", "2026-12-08 09:00").exit_code == 0
    bad = write_config(tmp_path / "bad.toml", {"sms": {"transport": "csv", "price": 0.04, "mode": "bogus"}})
    monkeypatch.setenv("WINBACK_NOW", "2026-12-08T09:10:00+08:00")

    cron = _cli(bad, "campaign", "run-due", "--json")
    assert cron.exit_code == 1, cron.output   # run-due's "one of them failed", as for any campaign's error
    result, = json.loads(cron.stdout)
    assert result["outcome"] == "error" and result["campaign"] == "c"
    assert result["error"].startswith(f"{bad} line ") and "[channels.sms] mode: 'bogus'; choose one of cn, gsm" in result["error"]
    assert "Traceback" not in cron.output
    assert _states(db) == {("planned", None): 6}

    fixed = _cli(good, "campaign", "run-due")
    assert fixed.exit_code == 0, fixed.output
    assert _states(db) == {("sent", None): 6}
    assert db.execute("SELECT status FROM campaigns WHERE name = 'c'").fetchone()[0] == "completed"


PROGRAM = """\
name = "ladder"
entry = "all"
control = 0

[[steps]]
name = "nudge"
channel = "sms"
template = "miss-you"

[[steps]]
name = "again"
wait = "7d"
channel = "sms"
template = "miss-you"
"""


def test_program_run_due_stopped_by_a_bad_file_records_nobody_and_the_next_run_due_sends_the_step(
        tmp_path, monkeypatch):
    good = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(good)
    db = ws.open()
    add_users(db, 4)
    add_template(db, ws.config, SMS_TEMPLATE)
    (tmp_path / "ladder.toml").write_text(PROGRAM, encoding="utf-8")
    assert _cli(good, "program", "add", str(tmp_path / "ladder.toml")).exit_code == 0
    started = _cli(good, "program", "start", "ladder")
    assert started.exit_code == 0, started.output
    assert _states(db) == {("sent", None): 4}   # step "nudge", at the start
    bad = write_config(tmp_path / "bad.toml", {"sms": {"transport": "csv", "price": 0.04, "mode": "bogus"}})
    monkeypatch.setenv("WINBACK_NOW", "2026-12-15T10:00:00+08:00")   # step "again" is due for all four

    cron = _cli(bad, "program", "run-due", "--json")
    assert cron.exit_code == 1, cron.output
    result, = json.loads(cron.stdout)
    assert result["outcome"] == "error" and "[channels.sms] mode: 'bogus'" in result["error"] and str(bad) in result["error"]
    assert _states(db) == {("sent", None): 4, ("planned", None): 4}   # nobody recorded for the file's fault

    fixed = _cli(good, "program", "run-due", "--json")
    assert fixed.exit_code == 0, fixed.output
    assert _states(db) == {("sent", None): 8}   # both steps, each of the four once
