"""Review: `campaign resume` of a PAUSED campaign on a winback.toml that is bad in a way found only while rendering
(an unknown SMS counting mode). Resume has moved the campaign to running by then, so the CLI may not answer a bad
file's exit 2 ("nothing changed"): like a launch stopped by the file (control.StoppedByConfig) it exits 1 and says
the campaign is running now and how the fixed file sends the rest. Before the fix: exit 2, the campaign running
unsaid (run-due would send it once the file was fixed). Resuming an already running one stays exit 2
(tests/test_config_error_send.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config


@pytest.fixture(autouse=True)
def _frozen(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T10:00:00+08:00")
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.delenv("WINBACK_DEBUG", raising=False)


def _cli(config: Path, *args: str):
    return CliRunner().invoke(app, ["--config", str(config), "--db", str(config.parent / "winback.db"), *args])


def test_resume_of_a_paused_campaign_stopped_by_a_bad_file_exits_1_and_says_it_is_running(tmp_path: Path) -> None:
    good = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(good)
    db = ws.open()
    add_users(db, 4)
    add_template(db, ws.config, SMS_TEMPLATE)
    assert _cli(good, "campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
                "--holdout", "0").exit_code == 0
    bad = write_config(tmp_path / "bad.toml", {"sms": {"transport": "csv", "price": 0.04, "mode": "bogus"}})
    assert _cli(bad, "campaign", "launch", "c").exit_code == 1          # stopped by the file: running, all planned
    assert _cli(good, "campaign", "pause", "c").exit_code == 0

    still_bad = _cli(bad, "campaign", "resume", "c")
    assert "[channels.sms] mode: 'bogus'" in still_bad.stderr, still_bad.output
    assert "'c' was resumed and stays running" in still_bad.stderr and "Traceback" not in still_bad.output
    states = Counter(r[0] for r in db.execute("SELECT status FROM sends"))
    status = db.execute("SELECT status FROM campaigns WHERE name = 'c'").fetchone()[0]
    assert states == {"planned": 4}
    assert (still_bad.exit_code, status) == (1, "running"), "the campaign changed: not a bad file's exit 2"

    resumed = _cli(good, "campaign", "resume", "c")
    assert resumed.exit_code == 0, resumed.output
    assert Counter(r[0] for r in db.execute("SELECT status FROM sends")) == {"sent": 4}
