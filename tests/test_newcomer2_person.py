"""The person page's Messages table: its 'reason' column names the variant a message was sent with as a variant
('variant A'), not a bare 'A' that reads as the reason itself."""

from __future__ import annotations

from textual.widgets import DataTable

from console import templates
from console.campaigns import control, model
from console.policy import quiet_hours
from screens.dialogs import FormDialog
from screens.person import PersonScreen
from tests.tui_helpers import demo_workspace, make_app, text_of, type_text, wait_for


async def test_a_sent_messages_variant_is_named_as_a_variant(tmp_path, monkeypatch):
    workspace = demo_workspace(tmp_path, monkeypatch, users=120, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml('name = "miss-you"\nchannel = "sms"\nbody = "好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    model.create(db, "nov-sms", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, workspace.config, "nov-sms")
    user = db.execute("SELECT u.external_id FROM sends s JOIN users u ON u.id = s.user_id "
                      "JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = 'nov-sms' AND s.status = 'sent' "
                      "ORDER BY u.id LIMIT 1").fetchone()[0]
    db.close()
    app = make_app(workspace)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        await type_text(pilot, user)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen)
                       and "loading" not in text_of(pilot, "#person-profile"), what="the person page")
        table = app.screen.query_one("#person-messages", DataTable)
        row = [str(c) for c in table.get_row_at(0)]
        assert row[1] == "nov-sms" and row[3] == "would send", row   # a dry run's
        assert row[4] == "variant A", row
