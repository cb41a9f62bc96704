"""A real recall program's step whose messages failed (or ended unknown) is no success for cron either: `winback
program run-due` and `winback campaign run-due` exit 1 with one line naming `winback campaign failures STEP`, as a
campaign's launch, resume and run-due do (tests/test_send_leftovers_cli.py). Against the local Aliyun stand-in."""

from __future__ import annotations

from tests.test_send_leftovers_cli import _cli, _failing, _server, _words, _workspace

DAY0 = "2026-11-25T11:00:00+08:00"
PROGRAM = """\
name = "recall"
entry = "all"
control = 0

[[steps]]
name = "nudge"
wait = "1d"
channel = "sms"
template = "care-ali"

[[steps]]
name = "again"
wait = "1d"
channel = "sms"
template = "care-ali"
"""


def test_program_and_campaign_run_due_exit_1_when_a_real_steps_messages_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", DAY0)
    with _server(code_for=_failing(4)) as srv:
        ws, _ = _workspace(tmp_path, monkeypatch, srv.url)
        (tmp_path / "recall.toml").write_text(PROGRAM, encoding="utf-8")
        assert _cli(ws, "program", "add", str(tmp_path / "recall.toml")).exit_code == 0
        started = _cli(ws, "program", "start", "recall", "--real", "--yes")
        assert started.exit_code == 0, started.output   # nobody is due yet: nothing sent, nothing failed
        monkeypatch.setenv("WINBACK_NOW", "2026-11-26T11:00:00+08:00")
        by_program = _cli(ws, "program", "run-due")
        monkeypatch.setenv("WINBACK_NOW", "2026-11-27T11:00:00+08:00")
        by_campaign = _cli(ws, "campaign", "run-due")
        failures = _cli(ws, "campaign", "failures", "program:recall/nudge/sms")
    text = _words(by_program)
    assert by_program.exit_code == 1, text
    assert "steps: nudge 4; sent 0, failed 4" in text, text   # the run's line counts them too
    assert ("program recall: program:recall/nudge/sms run 1: 4 failed — not every message went out (exit 1): "
            "`winback campaign failures program:recall/nudge/sms` shows the provider's reasons") in text, text
    text = _words(by_campaign)
    assert by_campaign.exit_code == 1, text
    assert "program recall: program:recall/again/sms run 1: 4 failed — not every message went out" in text, text
    assert failures.exit_code == 0 and "isv.MOBILE_NUMBER_ILLEGAL" in _words(failures), failures.output


def test_a_real_start_whose_first_step_failed_exits_1_as_a_real_launch_does(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", DAY0)
    with _server(code_for=_failing(4)) as srv:
        ws, _ = _workspace(tmp_path, monkeypatch, srv.url)
        (tmp_path / "recall.toml").write_text(PROGRAM.replace('wait = "1d"\n', "", 1), encoding="utf-8")
        assert _cli(ws, "program", "add", str(tmp_path / "recall.toml")).exit_code == 0
        started = _cli(ws, "program", "start", "recall", "--real", "--yes")
    assert started.exit_code == 1, started.output
    assert "`winback campaign failures program:recall/nudge/sms`" in _words(started), started.output


def test_a_dry_program_run_due_stays_exit_0(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", DAY0)
    ws, _ = _workspace(tmp_path, monkeypatch, "http://127.0.0.1:9/")   # a dry run connects to nothing
    (tmp_path / "recall.toml").write_text(PROGRAM, encoding="utf-8")
    assert _cli(ws, "program", "add", str(tmp_path / "recall.toml")).exit_code == 0
    assert _cli(ws, "program", "start", "recall").exit_code == 0
    monkeypatch.setenv("WINBACK_NOW", "2026-11-26T11:00:00+08:00")
    result = _cli(ws, "program", "run-due")
    assert result.exit_code == 0 and "would send 4" in _words(result), result.output
