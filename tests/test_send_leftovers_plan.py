"""The plan's cost counts who quiet hours defer: they are sent later, but they are sent — and paid for.

At 23:00 in Shanghai six users wait for quiet hours to end and four in Berlin (16:00) can be sent now. The plan
says what goes now, what goes after quiet hours and the total, in the CLI, --json and the console's Plan pane; the
dry run then records (and costs) exactly the total. With a budget, the deferred are booked after those sent now
(the dispatcher books in claim order), so the ones the budget no longer covers are counted over budget.
"""

from __future__ import annotations

import json

import pytest

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

NIGHT_IN_SHANGHAI = "2026-11-25T23:00:00+08:00"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", NIGHT_IN_SHANGHAI)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 0.04,
                                                            "quiet_hours": True}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 6)                                        # Shanghai, 23:00: quiet
    add_users(db, 4, start=7, timezone="Europe/Berlin")     # 16:00 there: inside the sending window
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()
    return ws


def _cli(ws, *args: str):
    from typer.testing import CliRunner

    from console.cli import app

    result = CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args],
                                catch_exceptions=False)
    result.flat = " ".join(result.output.split())
    return result


def test_the_plan_costs_the_deferred_and_the_total_is_what_the_dry_run_records(ws):
    from console.campaigns import control, model, plan, tallies

    db = ws.open()
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    p = plan.plan(db, ws.config, "c")
    assert (p["to_send"], p["est_cost"]) == (4, pytest.approx(0.16))            # now
    assert (p["deferred_quiet_hours"], p["deferred_cost"]) == (6, pytest.approx(0.24))   # after quiet hours
    assert (p["total_to_send"], p["total_cost"]) == (10, pytest.approx(0.40))
    assert p["total_parts"] == p["est_parts"] + p["deferred_parts"] == 10
    [variant] = p["variants"]
    assert (variant["deferred"], variant["deferred_cost"]) == (6, pytest.approx(0.24))

    control.launch(db, ws.config, "c")
    t = tallies.tally(db, "c")
    assert t["sent"] == p["total_to_send"] and t["cost"] == pytest.approx(p["total_cost"])


def test_with_a_budget_the_deferred_get_what_the_sends_of_now_leave(ws):
    from console.campaigns import control, model, plan, tallies

    db = ws.open()
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0, budget=0.28)
    p = plan.plan(db, ws.config, "c")
    funnel = {f["step"]: f["count"] for f in p["funnel"]}
    # 4 now (0.16), then 0.12 left for 3 of the 6 who wait; the other 3 would be over budget when their turn comes
    assert (p["to_send"], p["deferred_quiet_hours"], p["total_to_send"]) == (4, 3, 7)
    assert (funnel["quiet hours (deferred)"], funnel["over budget"], funnel["to send"]) == (3, 3, 4)
    assert p["total_cost"] == pytest.approx(0.28)
    assert sum(f["count"] for f in p["funnel"][1:]) == funnel["segment"]   # every member in one step
    # the dry run spends the same budget on as many (which ones may differ: it does not wait for the morning)
    control.launch(db, ws.config, "c")
    t = tallies.tally(db, "c")
    assert t["sent"] == p["total_to_send"] and t["skipped"] == funnel["over budget"]


def test_the_cli_plan_says_cost_now_deferred_and_total(ws):
    from console.campaigns import model

    db = ws.open()
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    db.close()
    out = _cli(ws, "campaign", "plan", "c")
    assert out.exit_code == 0, out.output
    assert "cost now ~0.16 CNY (4 messages), deferred to after quiet hours ~0.24 CNY (6 messages), total ~0.40 CNY " \
           "(10 messages, ~10 parts)" in out.flat, out.flat
    data = json.loads(_cli(ws, "campaign", "plan", "c", "--json").stdout)
    assert (data["est_cost"], data["deferred_cost"], data["total_cost"]) == (0.16, 0.24, 0.4)
    assert (data["to_send"], data["deferred_quiet_hours"], data["total_to_send"]) == (4, 6, 10)


def test_the_console_plan_pane_says_cost_now_deferred_and_total(ws):
    from console.campaigns import model, plan
    from screens.new_campaign import render_plan

    db = ws.open()
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    text = " ".join(render_plan(plan.plan(db, ws.config, "c"), "CNY", 80).plain.split())
    assert "would cost ¥0.16 now" in text, text
    assert "6 wait for quiet hours: ≈ ¥0.24 when they end · total ≈ ¥0.40" in text, text
