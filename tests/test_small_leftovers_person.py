"""A person's messages never say "sent" for what was not sent: a dry run's row reads "would send", the demo's
made-up (simulated) row "simulated" — at 80×24 whole, beside the other columns, as at 160×45."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.tui_helpers import launched_demo, make_app, settle, wait_for


@pytest.fixture
def launched(tmp_path, monkeypatch):
    """The demo (its simulated campaign) and the dry run `nov-sms` sent to everyone."""
    return launched_demo(tmp_path, monkeypatch)


def _user_with_both(workspace) -> str:
    """Someone the simulated campaign made a 'sent' row for and the dry run `nov-sms` 'sent' to."""
    db = workspace.open()
    try:
        return db.execute(
            "SELECT u.external_id FROM users u WHERE EXISTS (SELECT 1 FROM sends s JOIN campaigns c ON c.id = "
            "s.campaign_id WHERE s.user_id = u.id AND c.simulated AND s.status = 'sent') AND EXISTS (SELECT 1 FROM "
            "sends s JOIN campaigns c ON c.id = s.campaign_id WHERE s.user_id = u.id AND c.name = 'nov-sms' "
            "AND s.status = 'sent' AND s.dry_run) ORDER BY u.id LIMIT 1").fetchone()[0]
    finally:
        db.close()


def _plain(cell: object) -> str:
    return str(getattr(cell, "plain", cell))


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_persons_dry_run_and_simulated_messages_never_read_sent(launched, size):
    from screens.person import PersonScreen

    user = _user_with_both(launched)
    app = make_app(launched)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)   # the console up first, as the operator finds it
        app.open_person(user)
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen) and app.screen.query("#person-messages"),
                       what="the person's page")
        table = app.screen.query_one("#person-messages", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 2, what="their messages")
        await settle(pilot)
        by_campaign = {_plain(name).rstrip("…"): _plain(state)
                       for name, state in zip(table.get_column("campaign"), table.get_column("state"), strict=True)}
        states = list(by_campaign.values())
        assert not [s for s in states if s.startswith("sent")], states   # nothing of it was sent
        assert by_campaign["nov-sms"] == "would send", by_campaign
        assert "simulated" in by_campaign.values(), by_campaign
        drawn = [table.render_line(y).text for y in range(1, table.row_count + 1)]
        nov = next(line for line in drawn if "nov-sms" in line)
        assert "would send" in nov and " sent " not in f"{nov} ", drawn   # whole, as drawn
        assert table.virtual_size.width <= table.scrollable_content_region.width   # the page still fits
