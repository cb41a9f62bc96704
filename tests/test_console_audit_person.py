"""A newcomer's audit of the person page at 80×24: `U` (unmask, audited) keeps the unmasked name and phone in
view, even after Enter on a message scrolled the page down to its `why`."""

from __future__ import annotations

import pytest
from textual.widget import Widget

from console import templates
from console.campaigns import control, model
from console.policy import quiet_hours
from screens.dialogs import FormDialog
from screens.person import PersonScreen
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, type_text, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """400 demo users, three dry-run campaigns launched to them all: with the demo's simulated campaign, each
    person has four messages, and their table and `why` are taller than 24 rows can show with the profile (as for
    the 20,000-user demo's people in its simulated program)."""
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml(
        'name = "miss-you"\nchannel = "sms"\nbody = "{{ user.name | default(\'您\') }}，好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    for name in ("oct-sms", "nov-sms", "dec-sms"):
        model.create(db, name, segment="all", channel="sms", template="miss-you", holdout=0)
        control.launch(db, workspace.config, name)
    user, phone = db.execute("SELECT u.external_id, u.phone FROM sends s JOIN users u ON u.id = s.user_id "
                             "GROUP BY u.id ORDER BY COUNT(*) DESC, u.id LIMIT 1").fetchone()
    db.close()
    return workspace, user, phone


def _first_line_in_view(widget: Widget, scroller: Widget) -> bool:
    """Is the widget's first line inside what the scrolling container shows?"""
    top = widget.virtual_region.y
    return scroller.scroll_y <= top < scroller.scroll_y + scroller.scrollable_content_region.height


async def test_unmasking_keeps_the_unmasked_line_in_view(demo):
    workspace, user, phone = demo
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        await type_text(pilot, user)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen)
                       and "loading" not in text_of(pilot, "#person-profile"), what="the person page")
        await pilot.press("enter")   # why for the message under the cursor: the page scrolls down to it
        await wait_for(pilot, lambda: user in text_of(pilot, "#person-why")
                       and "asking" not in text_of(pilot, "#person-why"), what="the why panel")
        await settle(pilot)
        body, profile = app.screen.query_one("#person-body"), app.screen.query_one("#person-profile")
        # the page scrolls down to the why panel: the profile goes up out of view
        await wait_for(pilot, lambda: body.scroll_y > 0, what="the page scrolled down to the why panel")
        await pilot.press("U")
        await wait_for(pilot, lambda: phone in text_of(pilot, "#person-profile")
                       and phone in text_of(pilot, "#person-why"), what="the unmasked page and why")
        await settle(pilot)
        await wait_for(pilot, lambda: _first_line_in_view(profile, body), what="the unmasked line scrolled into view")
        await settle(pilot)   # (nothing shown later scrolls it away again)
        assert _first_line_in_view(profile, body), (body.scroll_y, profile.virtual_region)
