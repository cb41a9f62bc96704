"""A real launch's typed count is the whole run's: who quiet hours defer is sent later by the same run (resume,
run-due) and paid for, so the operator types — and is told — the total, not only what goes now.

At 23:00 in Shanghai six users wait for quiet hours to end and four in Berlin (16:00 there) are sent at once, through
a real HTTP gateway on 127.0.0.1. Typing 4 (what goes now) is refused and nothing is sent; typing 10 launches.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

NIGHT_IN_SHANGHAI = "2026-11-25T23:00:00+08:00"
TOKEN = "WB_CONFIRM_TOTAL_TOKEN"


@pytest.fixture
def gateway():
    with HttpGateway() as gw:
        yield gw


@pytest.fixture
def ws(tmp_path, monkeypatch, gateway):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    monkeypatch.setenv("WINBACK_NOW", NIGHT_IN_SHANGHAI)
    monkeypatch.setenv(TOKEN, "secret")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "http", "url": gateway.url,
                                                          "token_env": TOKEN, "price": 0.04, "quiet_hours": True}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 6)                                        # Shanghai, 23:00: quiet
    add_users(db, 4, start=7, timezone="Europe/Berlin")     # 16:00 there: inside the sending window
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()
    return ws


def _winback(ws, *args: str, input: str | None = None):
    result = CliRunner().invoke(app, ["--config", str(ws.config.path), *args], input=input)
    result.flat = " ".join(result.output.split())   # rich wraps stderr at the terminal's width
    return result


def _launch(ws, typed: str):
    assert _winback(ws, "campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template",
                    "miss-you", "--holdout", "0").exit_code == 0
    return _winback(ws, "campaign", "launch", "c", "--real", "--accept-warnings", input=f"{typed}\n")


def test_the_count_of_what_goes_now_is_refused_and_nothing_is_sent(ws, gateway):
    refused = _launch(ws, "4")
    assert refused.exit_code == 2, refused.output
    assert "confirmation '4' does not match 10" in refused.flat, refused.flat
    assert "10 messages: 4 now, 6 after quiet hours end" in refused.flat
    assert "Traceback" not in refused.output
    assert gateway.state.accepted == []
    db = ws.open()
    assert db.execute("SELECT status FROM campaigns WHERE name = 'c'").fetchone()[0] == "draft"
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0


def test_the_total_is_asked_and_accepted_and_the_run_sends_what_goes_now(ws, gateway):
    launched = _launch(ws, "10")
    assert launched.exit_code == 0, launched.output
    assert "a REAL send now: 10 messages: 4 now, 6 after quiet hours end, ≈ 0.40 CNY in all" in launched.flat, \
        launched.flat
    assert "Type the number of messages this run sends in all (10) to confirm" in launched.flat
    assert len(gateway.state.accepted) == 4                 # Berlin now; Shanghai when its quiet hours end
    db = ws.open()
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'deferred'").fetchone()[0] == 6
