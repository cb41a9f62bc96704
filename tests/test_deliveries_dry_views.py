"""Deliveries on a dry run at 80x24: every state view `f` reaches can hold something (a dry run has no
delivered state, so no second, always-empty "would send" view), and the tally's arm column keeps the arm letter."""

from __future__ import annotations

import pytest

from screens.deliveries import STATES, DeliveriesScreen
from tests.tui_helpers import launched_demo, make_app, settle, text_of, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return launched_demo(tmp_path, monkeypatch)


async def test_f_on_a_dry_run_never_shows_two_would_send_views(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "completed" in text_of(pilot, "#deliveries-title"), what="the dry run on Deliveries")
        await settle(pilot)
        box = app.screen.query_one("#recipients-box")
        seen: list[tuple[str, str]] = []
        for _ in range(len(STATES)):
            seen.append((app.screen.state_filter, str(box.border_title).split(" · ")[0]))
            await pilot.press("f")
        states = [s for s, _ in seen]
        assert "delivered" not in states, seen   # a dry run delivers nothing: no view for it
        once_round = [t for _, t in seen[:len(set(states))]]   # one full cycle of f
        assert once_round.count("Recipients: would send") == 1, seen


async def test_the_arm_column_at_80_keeps_the_arm_letter_whole(demo):
    from screens import sources

    db = demo.open()
    tally = sources.campaign_tally(db, "nov-sms")
    db.close()
    tally["variants_templates"] = {"A": "nostalgia-autumn-coupon"}   # a long variant name, as the audit saw
    for bucket in (tally, *tally["variants"].values()):
        bucket.update(planned=1_234_567, sent=1_000_000, delivered=200_000, failed=34_567, deferred=123_456,
                      unknown=1_234, skipped=234_567)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        table = app.screen.query_one("#tally-table")
        await wait_for(pilot, lambda: table.row_count == 2, what="the tally")
        app.screen.show_tally(tally)
        await settle(pilot)
        arms = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert arms == ["A", "total"], arms   # the letter whole, never "A nosta…"
        labels = [str(c.label) for c in table.columns.values()]
        assert "planned" in labels and "failed" in labels, labels


async def test_the_variant_name_is_shown_beside_the_arm_where_there_is_room(demo):
    app = make_app(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("d")
        table = app.screen.query_one("#tally-table")
        await wait_for(pilot, lambda: table.row_count == 2, what="the tally")
        await settle(pilot)
        first = [str(c) for c in table.get_row_at(0)]
        assert first[:2] == ["A", "miss-you"], first
