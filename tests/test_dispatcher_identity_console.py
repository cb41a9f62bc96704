"""Review: the console resuming a campaign that another worker of the same app is sending must say it is being sent,
not start a second dispatcher in the same process.

A send the console did not start from its own launch/resume keys — a program step run from the Programs page, say —
is not in the app's list of sends in progress, so Deliveries' `r` asks "resume here only if that process died" and,
on yes, resumes. The dispatcher's id was `host:pid` and `active_dispatcher` ignored its own process: that resume was
not refused. Now it is, and the operator reads why. The gateway's own log shows nobody got two messages.
"""

from __future__ import annotations

import pytest

from console import templates
from console.campaigns import control, model
from console.policy import quiet_hours
from screens.dialogs import ErrorDialog
from tests.servers import HttpGateway
from tests.tui_helpers import demo_workspace, make_app, wait_for

BATCH = 10


@pytest.fixture
def demo(tmp_path, monkeypatch):
    workspace = demo_workspace(tmp_path, monkeypatch, users=60, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml('name = "miss-you"\nchannel = "sms"\nbody = "好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    db.close()
    return workspace


async def test_resuming_a_campaign_another_worker_of_the_app_sends_says_it_is_being_sent(demo, tmp_path,
                                                                                         monkeypatch):
    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "t0ken")
    db = demo.open()
    model.create(db, "busy", segment="all", channel="sms", template="miss-you", holdout=0)
    app = make_app(demo)
    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=BATCH) as gw:
        async with app.run_test(size=(80, 24)) as pilot:
            app.workspace.config.channels["sms"] = {
                "transport": "http", "url": gw.url, "token_env": "WB_TEST_SMS_TOKEN", "batch": BATCH,
                "timeout": 600, "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}'}

            def step_send() -> None:   # a worker of the app that is not one of its campaign sends
                conn = demo.open()
                try:
                    control.launch(conn, app.workspace.config, "busy", real=True)
                finally:
                    conn.close()

            worker = app.run_worker(step_send, name="start_program", group="program:ladder", thread=True,
                                    exit_on_error=False)
            try:
                await wait_for(pilot, lambda: len(gw.state.accepted) > BATCH, what="its second batch on the wire")
                assert "busy" not in app.sends_in_progress()
                app.start_dispatch("resume", "busy")   # Deliveries' r, answered "Resume here"
                await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog), what="the resume to be refused")
                assert "being sent right now" in app.screen.message
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog), what="the dialog to close")
            finally:
                gw.state.release.set()   # (before the fix a second dispatcher waited on the gateway here)
            await wait_for(pilot, lambda: worker.is_finished, what="the step's send to finish")
            assert worker.error is None, worker.error
        numbers = [m["to"] for m in gw.state.accepted]
    assert len(numbers) == len(set(numbers)), "someone got two messages"
    # the step's send finished on its own: nobody left in hand, nobody unknown
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status IN ('planned', 'claimed', 'deferred', 'unknown')"
                      ).fetchone()[0] == 0
