"""The overview's layer list (Enter on a heat-map cell) sorts with S as the Segments members view does — by
uplift, highest first, with the +x.x pp column (screens/member_order.py, one definition for both) — and says why
when uplift has no usable fit. At 80x24."""

from __future__ import annotations

import pytest

from console import layers, segments
from screens.overview import LayerMembersScreen
from tests.tui_helpers import demo_workspace, make_app, settle, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def _fullest_dormant_layer(demo) -> tuple[int, int, str]:
    db = demo.open()
    layer = db.execute("SELECT layer FROM profiles WHERE dormancy = 'dormant' AND layer IS NOT NULL GROUP BY 1 "
                       "ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    db.close()
    names = layers.settings(demo.config)
    t, lo = next((i, j) for i, tn in enumerate(names.temperature_names) for j, ln in enumerate(names.loyalty_names)
                 if f"{tn} {ln}" == layer)
    return t, lo, layer


def _usable_fit(demo, layer: str) -> list[tuple[str, float]]:
    """A usable uplift fit scoring the layer's dormant users (uplift rising with the user id, so id order is the
    opposite of uplift order); returns (user, uplift) highest first."""
    db = demo.open()
    db.execute("INSERT INTO uplift_fits (id, fitted_at, fitted_by, campaigns, treated, control, treated_conversions, "
               "control_conversions, usable, verdict, report, scored) VALUES (1, 1, 'test', '[]', 900, 100, 90, 4, "
               "1, 'usable', '{}', 1)")
    ids = [r[0] for r in db.execute("SELECT user_id FROM profiles WHERE dormancy = 'dormant' AND layer = ? "
                                    "ORDER BY user_id", [layer])]
    db.conn.executemany("INSERT INTO uplift_scores (user_id, uplift, p_treated, p_control, fit_id, scored_at) "
                        "VALUES (?, ?, 0.5, 0.4, 1, 1)", [(u, (i + 1) / 1000) for i, u in enumerate(ids)])
    db.conn.commit()
    ranked = [(db.execute("SELECT external_id FROM users WHERE id = ?", [u]).fetchone()[0], (i + 1) / 1000)
              for i, u in enumerate(ids)][::-1]
    db.close()
    return ranked


async def _open_layer(pilot, app, t: int, lo: int):
    await settle(pilot)
    await pilot.press("l", *["down"] * t, *["right"] * lo, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, LayerMembersScreen), what="the layer's users")
    table = app.screen.query_one("#layer-table")
    await wait_for(pilot, lambda: table.row_count > 0, what="the layer's users listed")
    return table


async def test_s_sorts_the_layer_list_by_uplift_with_its_column(demo):
    t, lo, layer = _fullest_dormant_layer(demo)
    ranked = _usable_fit(demo, layer)
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _open_layer(pilot, app, t, lo)
        by_id = str(table.get_row_at(0)[0])
        for _ in range(8):                      # id → last_order … expected_orders_90d → uplift
            await pilot.press("S")
        await wait_for(pilot, lambda: "by uplift" in str(app.screen.query_one("#layer-members").border_title)
                       and str(table.get_row_at(0)[0]) == ranked[0][0], what="the list by uplift")
        assert by_id != ranked[0][0]
        labels = [str(c.label) for c in table.ordered_columns]
        assert labels[-1] == "uplift", labels        # the score column, as in the Segments members view
        assert [str(table.get_row_at(i)[0]) for i in range(3)] == [u for u, _ in ranked[:3]]
        assert str(table.get_row_at(0)[-1]) == f"{ranked[0][1] * 100:+.1f} pp"
        await pilot.press("S")                  # and round again to id order, the column gone
        await wait_for(pilot, lambda: str(table.get_row_at(0)[0]) == by_id, what="back to id order")
        assert "uplift" not in [str(c.label) for c in table.ordered_columns]


async def test_by_uplift_without_a_usable_fit_says_why_and_stays_in_id_order(demo):
    t, lo, layer = _fullest_dormant_layer(demo)
    db = demo.open()
    expected = segments.count(db, f'dormancy = dormant and layer = "{layer}"')
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _open_layer(pilot, app, t, lo)
        first = str(table.get_row_at(0)[0])
        for _ in range(8):
            await pilot.press("S")
        await wait_for(pilot, lambda: any("no uplift model yet" in str(n.message)
                                          for n in app._notifications), what="why uplift cannot sort")
        await wait_for(pilot, lambda: app.screen.order == "id" and str(table.get_row_at(0)[0]) == first,
                       what="back in id order")
        assert table.row_count == min(expected, 200)
