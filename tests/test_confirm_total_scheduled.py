"""A real send scheduled for later is confirmed on the whole run — now and after quiet hours — and run-due holds it
only when that total grew past the 10% margin.

Confirmed at 23:00 in Shanghai for 09:00 the next morning: at confirmation six Shanghai users wait for quiet hours
and four in Berlin could go; at 09:00 it is the other way round (02:00 in Berlin). The total, 10, is what the run
sends either way: confirming it, then launching at 09:00, is not "an audience grown from 4 to 6".

A confirmation stored before the total was asked (`counts = 'now'`: only what went at once) is not voided: run-due
compares the run's total with the count the operator typed, and says so when it holds it.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway

NIGHT_IN_SHANGHAI = "2026-11-25T23:00:00+08:00"
AT = "2026-11-26 09:00"
DUE = "2026-11-26T09:10:00+08:00"
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
    add_users(db, 6)                                        # Shanghai: quiet at 23:00, sent at 09:00
    add_users(db, 4, start=7, timezone="Europe/Berlin")     # 16:00 there at confirmation, 02:00 when due
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()
    return ws


def _winback(ws, *args: str, input: str | None = None):
    result = CliRunner().invoke(app, ["--config", str(ws.config.path), *args], input=input)
    result.flat = " ".join(result.output.split())   # rich wraps stderr at the terminal's width
    return result


def _schedule(ws, *how: str, input: str | None = None):
    return _winback(ws, "campaign", "create", "later", "--segment", "all", "--channel", "sms", "--template",
                    "miss-you", "--holdout", "0", "--accept-warnings", "--at", AT, "--real", *how, input=input)


def _run_due(ws, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", DUE)
    return _winback(ws, "campaign", "run-due", "--json")


def _confirmation(ws) -> dict:
    return json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)["schedule"]["confirmation"]


def test_the_total_is_typed_and_stored_with_its_parts(ws):
    refused = _schedule(ws, input="4\n")                 # what goes at once: not the run's count
    assert refused.exit_code == 1 and "confirmation '4' does not match 10" in refused.flat, refused.flat
    typed = _winback(ws, "campaign", "schedule", "later", "--at", AT, "--real", "--accept-warnings", input="10\n")
    assert typed.exit_code == 0, typed.output
    assert "10 messages: 4 at once, 6 after quiet hours end (as of now), ≈ 0.40 CNY in all" in typed.flat, typed.flat
    confirmed = _confirmation(ws)
    assert (confirmed["to_send"], confirmed["est_cost"], confirmed["counts"]) == (10, pytest.approx(0.40), "total")
    assert (confirmed["deferred"], confirmed["deferred_cost"]) == (6, pytest.approx(0.24))


@pytest.mark.parametrize("newcomers, sent_now", [(0, 6), (1, 7), (2, None)])
def test_run_due_holds_it_only_when_the_total_grew_past_the_margin(ws, gateway, monkeypatch, newcomers, sent_now):
    """10 confirmed: at 09:00 6 go at once and 4 wait for Berlin's morning — 10, as confirmed; 11 (+10%) goes too;
    12 is held."""
    assert _schedule(ws, "--yes").exit_code == 0
    db = ws.open()
    add_users(db, newcomers, start=100)
    db.conn.commit()
    db.close()
    due = _run_due(ws, monkeypatch)
    [result] = json.loads(due.stdout)
    if sent_now is not None:
        assert due.exit_code == 0 and result["outcome"] != "held", result
        assert (result["dry_run"], result["sent"], result["deferred"]) == (False, sent_now, 4)
        assert len(gateway.state.accepted) == sent_now
    else:
        assert due.exit_code == 1 and result["outcome"] == "held"
        assert result["reason"] == ("the audience grew: 12 messages to send (8 at once, 4 after quiet hours end), "
                                    "10 confirmed (the 10% margin allows 11)")
        assert gateway.state.accepted == []


def _as_stored_before(ws, to_send: int, est_cost: float) -> None:
    """The confirmation in force replaced by one as winback wrote it before the total was asked: no `counts`,
    `deferred` or `deferred_cost` given (what went at once only)."""
    db = ws.open()
    db.execute("INSERT INTO launch_confirmations (campaign_id, due_at, to_send, est_cost, currency, transport, "
               "warnings, basis, how, confirmed_at, confirmed_by, host) SELECT campaign_id, due_at, ?, ?, currency, "
               "transport, warnings, basis, how, confirmed_at, confirmed_by, host FROM launch_confirmations",
               [to_send, est_cost])
    db.conn.commit()
    db.close()


def test_a_confirmation_stored_before_is_read_as_the_count_typed_and_checked_against_the_total(ws, gateway,
                                                                                                  monkeypatch):
    assert _schedule(ws, "--yes").exit_code == 0
    _as_stored_before(ws, 4, 0.16)                       # the 4 Berlin users the old prompt asked for
    confirmed = _confirmation(ws)
    assert (confirmed["to_send"], confirmed["counts"], confirmed["deferred"]) == (4, "now", None)
    shown = json.loads(_winback(ws, "campaign", "show", "later", "--json").stdout)["schedule"]
    assert shown["void"] == []                           # not voided ...
    assert "4 messages confirmed by tester" in shown["text"]
    assert "before messages deferred by quiet hours were counted" in shown["text"], shown["text"]
    due = _run_due(ws, monkeypatch)                      # ... but the run would send 10: held, saying why
    [held] = json.loads(due.stdout)
    assert due.exit_code == 1 and held["outcome"] == "held"
    assert held["reason"].startswith("the audience grew: 10 messages to send (6 at once, 4 after quiet hours "
                                     "end), 4 confirmed before messages deferred by quiet hours were counted"), \
        held["reason"]
    assert gateway.state.accepted == []


def test_a_confirmation_stored_before_that_covers_the_whole_run_still_goes(ws, gateway, monkeypatch):
    assert _schedule(ws, "--yes").exit_code == 0
    _as_stored_before(ws, 10, 0.40)                      # confirmed when nobody waited for quiet hours
    assert (_confirmation(ws)["counts"], _confirmation(ws)["to_send"]) == ("now", 10)
    [run] = json.loads(_run_due(ws, monkeypatch).stdout)
    assert (run["outcome"], run["dry_run"], run["sent"], run["deferred"]) == ("waiting", False, 6, 4), run


def test_the_migration_marks_the_rows_already_stored_as_counting_what_went_at_once(tmp_path):
    """A database confirmed by the winback before m020, then opened by this one: the row is kept as it was and
    read as 'now' (no parts known), not voided and not taken for a total."""
    import sqlite_utils

    from console.campaigns import confirmation
    from storage.migrations import MIGRATIONS

    db = sqlite_utils.Database(tmp_path / "old.db")
    MIGRATIONS.apply(db, stop_before="m020_confirmation_total")
    db.execute("INSERT INTO launch_confirmations (campaign_id, due_at, to_send, est_cost, currency, transport, "
               "warnings, basis, how, confirmed_at, confirmed_by, host) "
               "VALUES (1, 1764118800, 4, 0.16, 'CNY', 'http', '[]', '{}', 'typed', 1764082800, 'tester', 'h')")
    db.conn.commit()
    MIGRATIONS.apply(db)
    confirmed = confirmation.current(db, 1)
    assert confirmed is not None
    assert (confirmed["to_send"], confirmed["est_cost"], confirmed["counts"]) == (4, 0.16, "now")
    assert (confirmed["deferred"], confirmed["deferred_cost"]) == (None, None)
