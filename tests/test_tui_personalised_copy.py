"""The Messages screen's preview says which version a person who refused personalised marketing gets, and why
(PIPL Art. 24; console/personalised_copy.py) — at 80x24."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from console.personalisation import set_choice
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for

TEMPLATE = """name = "recs"
channel = "sms"
body = "{{ user.name }}，您可能喜欢{{ recommendations.also_bought | join('、') }}"
[fallback]
body = "{{ user.name }}，本周新品等您来看"
"""


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


async def test_the_preview_shows_the_fallback_and_why_for_who_refused(demo):
    db = demo.open()
    first, second = [r[0] for r in db.execute("SELECT external_id FROM users ORDER BY id LIMIT 2")]
    set_choice(db, first, refuse=True, source="test")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("n")
        app.screen.query_one("#editor", TextArea).load_text(TEMPLATE)
        await pilot.press("ctrl+g", "enter", *first, "enter", "enter")
        await wait_for(pilot, lambda: f"as {first}" in text_of(pilot, "#preview"), what="the preview as who refused")
        shown = text_of(pilot, "#preview")
        assert "本周新品等您来看" in shown and "您可能喜欢" not in shown
        assert "copy: fallback — refused personalised marketing (PIPL Art. 24)" in shown
        # the line is near the top of the pane, not below the fold at 80x24
        assert shown.splitlines()[1].startswith("copy: fallback")
        await pilot.press("ctrl+g", "enter", "ctrl+u", *second, "enter", "enter")
        await wait_for(pilot, lambda: f"as {second}" in text_of(pilot, "#preview"), what="the preview as another")
        assert "copy:" not in text_of(pilot, "#preview") and "您可能喜欢" in text_of(pilot, "#preview")
