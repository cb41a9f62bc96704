"""Offers in the console (`O`, "Go to Offers"): the offers, and the layer → offer mapping drawn as the layer grid
(each cell: its users, its offer, what it costs if all of them use it); Enter on a cell maps another offer;
`n` / `e` add and edit an offer through a form (checked by console.offers, audited)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from console import offers
from console.audit import recent
from console.segments import counts
from screens.dialogs import ChoiceDialog, FormDialog
from screens.offers import OffersScreen
from tests.tui_helpers import demo_workspace, error_dialog_shown, make_app, run_command, settle, wait_for

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def _cell(pilot, row: int, column: int) -> list[str]:
    table = pilot.app.screen.query_one("#offer-grid", DataTable)
    return table.get_cell_at((row, column)).plain.split("\n")


async def _offers_screen(pilot) -> None:
    await pilot.press("O")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, OffersScreen)
                   and pilot.app.screen.query_one("#offer-grid", DataTable).row_count > 0, what="the layer grid")


@pytest.mark.parametrize("size", SIZES)
async def test_the_grid_shows_each_layers_users_offer_and_face_value(demo, size):
    db = demo.open()
    matrix = counts.layer_matrix(db, None, config=demo.config)
    mapped = offers.layer_map(db)
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await _offers_screen(pilot)
        for i, row in enumerate(matrix["layers"]):
            for j, layer in enumerate(row):
                users, offer, value = (line.strip() for line in _cell(pilot, i, j + 1))
                n = matrix["counts"][i][j]
                assert users == f"{n:,} users", layer
                assert offer == mapped[layer].name, layer
                assert value == f"≤¥{n * mapped[layer].amount:,.0f}", layer
        listed = app.screen.query_one("#offer-list", DataTable)
        assert listed.row_count == 5
        assert [str(c) for c in listed.get_row_at(0)][:2] == ["back10", mapped["warm loyal"].summary()]
        # Nothing in the list reads like another value at 80 columns: layers are counted when there is no room.
        layers_cell = str(listed.get_row_at(0)[2])
        assert layers_cell == ("3 layers" if size[0] < 120 else "warm light, warm loyal, warm regular")


async def test_enter_on_a_cell_maps_another_offer_and_it_is_audited(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await run_command(pilot, "Go to Offers")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen)
                       and app.screen.query_one("#offer-grid", DataTable).row_count > 0, what="the layer grid")
        await pilot.press("enter")  # the cursor starts on the first layer (warm loyal)
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the offer choice")
        await pilot.press("down", "down", "down", "down", "enter")  # back10 back20 back50 double-points trial7
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen)
                       and _cell(pilot, 0, 1)[1].strip() == "trial7", what="the cell to show trial7")
        assert _cell(pilot, 0, 1)[2].strip() == "—"  # a trial has no face value in money
        db = demo.open()
        assert offers.for_layer(db, "warm loyal").name == "trial7"
        assert ("offer.map", {"layer": "warm loyal", "offer": "trial7"}) in [
            (e["action"], e["details"]) for e in recent(db, limit=3)]
        db.close()


@pytest.mark.parametrize("size", SIZES)
async def test_n_adds_an_offer_through_the_form_and_a_wrong_one_is_refused_by_field(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await _offers_screen(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the offer form")
        values = {"name": "back30", "kind": "coupon", "threshold": "150", "amount": "300", "validity_days": "10"}
        for key, value in values.items():
            app.screen.query_one(f"#field-{key}", Input).value = value
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the refusal")
        from tests.tui_helpers import text_of

        message = text_of(pilot, "#error-message")
        assert "amount 300 is not below threshold 150" in message and "bug" not in message
        await pilot.press("escape")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the offer form again")
        for key, value in {**values, "amount": "30"}.items():
            app.screen.query_one(f"#field-{key}", Input).value = value
        await pilot.press("ctrl+s")
        listed = lambda: [str(k.value) for k in app.screen.query_one("#offer-list", DataTable).rows]  # noqa: E731
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen) and "back30" in listed(),
                       what="the new offer in the list")
        db = demo.open()
        saved = offers.get(db, "back30")
        db.close()
        assert (saved.kind, saved.threshold, saved.amount, saved.validity_days, saved.currency) == (
            "coupon", 150, 30, 10, "CNY")


async def test_e_edits_the_offer_under_the_cursor(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _offers_screen(pilot)
        await pilot.press("e")  # on the grid: the offer of the layer under the cursor (warm loyal → back10)
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the edit form")
        assert app.screen.query_one("#field-name", Input).value == "back10"
        assert app.screen.query_one("#field-amount", Input).value == "10"
        app.screen.query_one("#field-amount", Input).value = "15"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen)
                       and "15 CNY off" in str(app.screen.query_one("#offer-list", DataTable).get_row_at(0)[1]),
                       what="the edited offer")
        db = demo.open()
        assert offers.get(db, "back10").amount == 15
        assert recent(db, limit=1)[0]["action"] == "offer.replace"
        db.close()


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_of_the_offer_grid_with_costs(snap_compare, demo, size):
    async def run_before(pilot):
        await settle(pilot)
        await _offers_screen(pilot)
        await settle(pilot)

    assert snap_compare(make_app(demo), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
async def test_the_creation_flows_by_layer_shows_what_each_layer_gets_before_the_draft(demo, size):
    from textual.widgets import Select

    from console import segments
    from screens.new_campaign import BY_LAYER, NewCampaignScreen
    from tests.tui_helpers import text_of

    db = demo.open()
    matrix = counts.layer_matrix(db, "dormant", config=demo.config)
    mapped = offers.layer_map(db)
    assert "dormant" in [s.name for s in segments.list_segments(db)]
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and "dormant" in [str(v) for _, v in app.screen.query_one("#f-segment", Select)._options],
                       what="the creation flow with its segments")
        app.screen.query_one("#f-segment", Select).value = "dormant"
        app.screen.query_one("#f-offer", Select).value = BY_LAYER
        await wait_for(pilot, lambda: "what each layer gets" in text_of(pilot, "#plan"), what="the by-layer table")
        plan = " ".join(text_of(pilot, "#plan").split())
        assert "by layer · dormant" in plan
        total_users, total_value = 0, 0.0
        for i, row in enumerate(matrix["layers"]):
            for j, layer in enumerate(row):
                n = matrix["counts"][i][j]
                if not n:
                    continue
                offer = mapped[layer]
                assert f"{layer} {n:,} {offer.name} ¥{n * offer.amount:,.0f}" in plan, layer
                total_users += n
                total_value += n * offer.amount
        assert f"total {total_users:,} ¥{total_value:,.0f}" in plan
        app.screen.query_one("#f-offer", Select).value = app.screen.query_one("#f-offer", Select)._options[0][1]
        await wait_for(pilot, lambda: "what each layer gets" not in text_of(pilot, "#plan"), what="the hint again")
