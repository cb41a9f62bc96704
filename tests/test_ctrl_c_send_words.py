"""Ctrl-C during a send says what happened and what to do (click said only "Aborted!"), exit 130 as shells expect.

A real `winback campaign launch` runs in a subprocess against a local HTTP gateway that holds its reply to the
second message; SIGINT lands while the send waits on it. Then the same for `resume`. run-due and program run-due
share the words (tested in-process: what they say when the send they run is interrupted).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.campaign_support import (
    SMS_TEMPLATE,
    add_template,
    add_users,
    load_workspace,
    wait_until,
    write_config,
)
from tests.servers import HttpGateway

WINBACK = [str(Path(sys.executable).parent / "winback")]
ROOT = Path(__file__).resolve().parent.parent
HANG = 300.0   # only stops a hung test


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_") or k == "WINBACK_NOW"}
    env.update({"WB_CTRL_C_TOKEN": "t0ken", "WINBACK_OPERATOR": "tester", "PYTHONPATH": str(ROOT)})
    return env


def _interruptible() -> None:
    # a background job of a non-interactive shell ignores SIGINT, and Python keeps an ignored SIGINT ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(cfg: Path, gw: HttpGateway, tmp_path: Path, *command: str) -> tuple[int, str]:
    """Run `winback campaign COMMAND`, press Ctrl-C while the gateway holds a reply, let that reply come."""
    proc = subprocess.Popen([*WINBACK, "--config", str(cfg), "campaign", *command], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible)
    try:
        held = gw.state.hold_after
        assert held is not None
        wait_until(lambda: proc.poll() is not None or len(gw.state.accepted) > held, "a reply held", hang=HANG)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGINT)
    finally:
        gw.state.release.set()   # what is on the wire is answered, and recorded before the process leaves
    _out, err = proc.communicate(timeout=HANG)
    return proc.returncode, " ".join(err.split())


@pytest.mark.slow
def test_ctrl_c_during_launch_and_resume_says_what_stopped_and_how_to_go_on(tmp_path, monkeypatch):
    from console.campaigns import control, model

    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=1) as gw:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_CTRL_C_TOKEN", "price": 0.04, "concurrency": 1,
            "batch": 2, "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}'}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 8)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)

        code, said = _interrupt(cfg, gw, tmp_path, "launch", "c", "--real", "--yes")
        assert code == 130, said
        assert "Aborted" not in said and "Traceback" not in said
        assert "interrupted: run 1 of 'c' stopped" in said, said
        assert "`winback campaign resume c` continues it" in said, said
        statuses = [s for (s,) in db.execute("SELECT status FROM sends ORDER BY id")]
        assert set(statuses) <= {"sent", "planned"} and "planned" in statuses, statuses
        assert statuses.count("sent") == len(gw.state.accepted)
        assert f"{statuses.count('sent')} sent, {statuses.count('planned')} still to send" in said, said
        assert model.get(db, "c").status == "running"

        gw.state.release.clear()
        gw.state.hold_after = len(gw.state.accepted) + 1
        code, said = _interrupt(cfg, gw, tmp_path, "resume", "c")
        assert code == 130 and "interrupted: run 1 of 'c' stopped" in said, said
        statuses = [s for (s,) in db.execute("SELECT status FROM sends ORDER BY id")]
        assert statuses.count("sent") == len(gw.state.accepted) and "planned" in statuses, statuses

        monkeypatch.setenv("WB_CTRL_C_TOKEN", "t0ken")
        assert control.resume(db, ws.config, "c", max_wait=0).outcome == "completed"
    assert sorted(b["to"] for b in gw.state.accepted) == sorted(set(b["to"] for b in gw.state.accepted))
    assert len(gw.state.accepted) == 8   # everyone once


@pytest.mark.parametrize(("command", "next_step"), [
    (("campaign", "run-due"), "the next `winback campaign run-due` continues"),
    (("program", "run-due"), "the next `winback program run-due` continues"),
])
def test_ctrl_c_during_run_due_says_the_next_run_due_continues(cli, monkeypatch, command, next_step):
    from console.campaigns import control
    from console.programs import runner

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_due", interrupted)
    monkeypatch.setattr(control, "run_due", interrupted)
    result = cli(*command)
    said = " ".join(result.output.split())
    assert result.exit_code == 130, said
    assert "Aborted" not in said and said.startswith("interrupted:"), said
    assert next_step in said, said
