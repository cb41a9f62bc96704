"""Campaigns: the creation flow to a dry-run launch, watched to completion on Deliveries; pause and resume."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from console import templates
from console.audit import recent
from console.campaigns import control, model, tallies
from console.policy import quiet_hours
from screens.deliveries import DeliveriesScreen
from screens.dialogs import ConfirmDialog, TypedCountDialog
from screens.new_campaign import NewCampaignScreen
from tests.servers import HttpGateway
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    # 11:00 in Shanghai: inside the sending window.
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml(
        'name = "miss-you"\nchannel = "sms"\nbody = "{{ user.name | default(\'您\') }}，好久不见"\n'))
    # Demo users live in several time zones; with quiet hours on, some would (rightly) wait for their morning.
    quiet_hours.set_quiet_hours(db, "off")
    db.close()
    return workspace


async def test_create_plan_and_launch_a_dry_run_then_watch_it_complete(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NewCampaignScreen)
        await pilot.press(*"we-miss-you")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        plan = text_of(pilot, "#plan")
        assert "segment" in plan and "to send" in plan
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "completed" in text_of(pilot, "#deliveries-title"), what="Deliveries: completed")
        table = app.screen.query_one("#tally-table", DataTable)
        total = [str(c) for c in table.get_row_at(table.row_count - 1)]
        db = demo.open()
        tally = tallies.tally(db, "we-miss-you")
        assert total[0] == "total" and total[2] == f"{tally['sent']:,}"  # the screen shows the ledger's tally
        assert tally["waiting"] == 0 and tally["sent"] > 0
        assert "dry-run" in text_of(pilot, "#deliveries-title")
        await pilot.press("c")  # the flow is finished: Campaigns shows its list, with the new campaign in it
        await settle(pilot)
        assert not isinstance(app.screen, NewCampaignScreen)
        # The list loads in a worker and polls; on a busy machine the first poll may still be on its way.
        await wait_for(pilot, lambda: "we-miss-you" in [
            str(k.value) for k in app.screen.query_one("#campaigns-table", DataTable).rows],
            what="we-miss-you in the campaigns list")


async def test_a_bad_answer_in_the_flow_is_explained_and_nothing_is_created(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c", "n")
        await settle(pilot)
        await pilot.press(*"x")
        app.screen.query_one("#f-holdout", Input).value = "lots"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "holdout 'lots'" in text_of(pilot, "#error-message")
    # only the demo's simulated past campaign (fixtures/demo_uplift.py) is there
    assert [c["name"] for c in model.list_campaigns(demo.open())] == ["simulated"]


BATCH = 50


@pytest.fixture
def held_gateway(tmp_path, monkeypatch):
    """A real SMS gateway on 127.0.0.1 that answers the first batch, then holds every reply until the test lets go
    (`.state.release.set()`): a real send stays part-way, running, for sure, however slow the machine."""
    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "t0ken")
    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=BATCH) as gateway:
        try:
            yield gateway
        finally:
            gateway.state.release.set()


def send_through(app, gateway: HttpGateway) -> None:
    """Real sends of the app's sms channel go to `gateway`, one batch of BATCH at a time."""
    app.workspace.config.channels["sms"] = {
        "transport": "http", "url": gateway.url, "token_env": "WB_TEST_SMS_TOKEN", "batch": BATCH, "timeout": 600,
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}'}


def second_batch_held(gateway: HttpGateway) -> bool:
    return len(gateway.state.accepted) > BATCH


async def test_pause_and_resume_a_running_send(demo, held_gateway):
    db = demo.open()
    model.create(db, "slow", segment="all", channel="sms", template="miss-you", holdout=0)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        send_through(app, held_gateway)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("L")  # a real launch from the Campaigns list: the typed count first
        await wait_for(pilot, lambda: isinstance(app.screen, TypedCountDialog), what="the typed-count dialog")
        await pilot.press(*str(app.screen.expected), "enter")
        # The gateway answered the first batch and holds the second: running, part-way.
        await wait_for(pilot, lambda: second_batch_held(held_gateway) and isinstance(app.screen, DeliveriesScreen)
                       and "running" in text_of(pilot, "#deliveries-title"), what="Deliveries: running, part-way")
        assert tallies.tally(db, "slow")["waiting"] > 0
        await pilot.press("space")
        await wait_for(pilot, lambda: "paused" in text_of(pilot, "#deliveries-title"), what="Deliveries: paused")
        held_gateway.state.release.set()  # the batch in flight is answered; the dispatcher reads the status, stops
        await wait_for(pilot, lambda: not app.sends_in_progress(), what="the send to stop")
        paused = tallies.tally(db, "slow")
        assert paused["status"] == "paused" and paused["waiting"] > 0
        await pilot.press("r")
        await wait_for(pilot, lambda: "completed" in text_of(pilot, "#deliveries-title"), what="Deliveries: completed")
    done = tallies.tally(db, "slow")
    assert done["waiting"] == 0
    assert done["sent"] + done["skipped"] + done["failed"] == done["planned"]  # everyone exactly once
    assert [e["action"] for e in recent(db, action="campaign.*")][:3] == [
        "campaign.resume", "campaign.pause", "campaign.launch"]


async def test_outcomes_against_the_holdout_in_the_campaigns_panel(demo):
    db = demo.open()
    model.create(db, "measured", segment="all", channel="sms", template="miss-you", holdout=10)
    control.launch(db, demo.config, "measured")
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        assert "to send" in text_of(pilot, "#campaign-plan-text")
        await pilot.press("t")
        await settle(pilot)
        outcome = text_of(pilot, "#campaign-plan-text")
        assert "A vs holdout" in outcome and "dry run" in outcome


async def test_a_real_launch_from_the_list_asks_for_the_typed_count_first(demo):
    from console.workspace import Workspace
    from tests.campaign_support import write_config

    # a real launch needs a transport that really sends (the demo's dry-run one is refused): a call-list file
    cfg = write_config(demo.db_path.parent / "winback.toml", {"sms": {"transport": "csv"}})
    demo = Workspace.load(config=cfg, db=demo.db_path)
    db = demo.open()
    model.create(db, "for-real", segment="all", channel="sms", template="miss-you", holdout=10)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedCountDialog)
        expected = dialog.expected
        assert f"{expected:,} messages" in text_of(pilot, ".dialog-body")
        await pilot.press("escape")  # going back sends nothing
        await settle(pilot)
        assert model.get(db, "for-real").status == "draft"
        await pilot.press("L")
        await settle(pilot)
        await pilot.press(*str(expected), "enter")
        await wait_for(pilot, lambda: "completed" in text_of(pilot, "#deliveries-title"), what="Deliveries: completed")
        assert "REAL" in text_of(pilot, "#deliveries-title")
    launched = model.get(db, "for-real")
    assert launched.status == "completed" and not launched.dry_run


async def test_enter_on_a_skipped_recipient_says_why(demo):
    db = demo.open()
    model.create(db, "why-not", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, demo.config, "why-not")
    app = make_app(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        app.followed_campaign = "why-not"
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("f", "f", "f")  # failed → deferred → unknown → skipped
        await settle(pilot)
        assert "Recipients: skipped" in str(app.screen.query_one("#recipients-box").border_title)
        app.screen.query_one("#recipients-table").focus()
        await pilot.press("enter")
        await settle(pilot)
        why = text_of(pilot, "#info-body")
        assert why.startswith("ledger: skipped") and "× why-not" in why and "consent" in why


async def test_quitting_while_a_send_runs_here_asks_first(demo, held_gateway):
    db = demo.open()
    model.create(db, "busy", segment="all", channel="sms", template="miss-you", holdout=0)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        send_through(app, held_gateway)
        app.start_dispatch("launch", "busy", real=True)
        await wait_for(pilot, lambda: app.sends_in_progress() and second_batch_held(held_gateway),
                       what="the send to be running, its second batch in flight")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="ctrl+q to ask first")
        assert "winback campaign resume busy" in str(app.screen.body)
        await pilot.press("n")  # stay
        held_gateway.state.release.set()
        await wait_for(pilot, lambda: not app.sends_in_progress(), what="the send to finish")
    assert tallies.tally(db, "busy")["waiting"] == 0


async def test_the_rate_chart_is_drawn_from_the_ledger_the_moment_a_campaign_is_opened(demo):
    db = demo.open()
    model.create(db, "earlier", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, demo.config, "earlier")  # sent before the console was opened
    sent = tallies.tally(db, "earlier")["sent"]
    db.close()
    assert sent
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        app.followed_campaign = "earlier"
        await pilot.press("d")
        await settle(pilot)
        line = text_of(pilot, "#rate-line")
        chart = line.split("rate ", 1)[1][:16]
        assert "█" in chart  # the last 10 s bucket holds the whole send (frozen clock): full height
        assert f"{sent / 10:,.0f}/s" in line
