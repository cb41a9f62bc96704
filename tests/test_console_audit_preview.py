"""A newcomer's audit of the Messages screen: the preview's figures are the template's channel's — no SMS
characters, parts and price under a gift list, a call script or an email."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def _figures(pilot) -> str:
    """The preview's last line before any warnings: its figures."""
    lines = [line for line in text_of(pilot, "#preview").splitlines() if line.strip()]
    return next(line for line in reversed(lines) if not line.lstrip().startswith("⚠"))


async def _open(pilot, name: str) -> str:
    table = pilot.app.screen.query_one("#templates-table", DataTable)
    await wait_for(pilot, lambda: name in [str(k.value) for k in table.rows], what=f"{name} in the list")
    table.focus()
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("enter")
    await wait_for(pilot, lambda: f'name = "{name}"' in pilot.app.screen.query_one("#editor").text
                   and "member 1/" in text_of(pilot, "#preview"), what=f"{name}'s preview")
    await settle(pilot)
    return _figures(pilot)


async def test_the_preview_shows_the_figures_of_the_templates_channel(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        gift = await _open(pilot, "seed-gift-zh")
        assert "gift list row: 5 fields" in gift, gift
        assert "chars" not in gift and "part" not in gift and "¥" not in gift, gift
        call = await _open(pilot, "vip-call-zh")
        assert "call list row" in call and "script" in call, call
        assert "part" not in call and "¥" not in call, call
        email = await _open(pilot, "nostalgic-email-en")
        assert "subject" in email and "text" in email, email
        assert "part" not in email and "¥" not in email, email
        sms = await _open(pilot, "nostalgic-sms-zh")   # an SMS keeps its billed figures
        assert "chars" in sms and "part" in sms and "¥0.0" in sms, sms
