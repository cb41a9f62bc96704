"""The console's real launch asks a second confirmation listing the content warnings (issue #13), before the typed
count; declining sends nothing, accepting launches (audited like --accept-warnings)."""

from __future__ import annotations

import json

from console import templates
from console.campaigns import model
from console.policy import quiet_hours
from screens.dialogs import ConfirmDialog, TypedCountDialog
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for


async def test_a_real_launch_with_content_warnings_asks_twice(tmp_path, monkeypatch):
    from console.workspace import Workspace
    from tests.campaign_support import write_config

    demo = demo_workspace(tmp_path, monkeypatch, users=60, now="2026-11-25T11:00:00+08:00")
    db = demo.open()
    templates.save(db, templates.parse_toml('name = "miss-you"\nchannel = "sms"\nbody = "好久不见，领券回来看看"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    # a call-list file really "sends"; content_rules = true: this channel goes to a Chinese carrier
    cfg = write_config(demo.db_path.parent / "winback.toml", {"sms": {"transport": "csv", "content_rules": True}})
    demo = Workspace.load(config=cfg, db=demo.db_path)
    model.create(db, "risky", segment="all", channel="sms", template="miss-you", holdout=10)
    app = make_app(demo)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        body = text_of(pilot, ".dialog-body")
        assert "「好久不见」" in body and "「领券」" in body
        await pilot.press("n")                  # "Fix first": nothing is asked, nothing sent
        await settle(pilot)
        assert not isinstance(app.screen, (ConfirmDialog, TypedCountDialog))
        assert model.get(db, "risky").status == "draft"
        await pilot.press("L")
        await settle(pilot)
        await pilot.press("y")                  # "Send anyway" → the typed count as for every real launch
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedCountDialog)
        await pilot.press(*str(dialog.expected), "enter")
        await wait_for(pilot, lambda: "completed" in text_of(pilot, "#deliveries-title"),
                       what="Deliveries: completed")
    assert model.get(db, "risky").status == "completed"
    (details,) = db.execute("SELECT details FROM audit WHERE action = 'campaign.accept_warnings'").fetchone()
    assert json.loads(details)["campaign"] == "risky"
