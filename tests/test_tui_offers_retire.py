"""Retiring an offer in the console (issue 18): `x` on the Offers screen, or "Retire an offer…" in the palette from
any screen, asks first — naming the layers the offer is mapped to, which lose it — then retires it as
`winback offers retire NAME --unmap` does: listed as retired, gone from the grid and the map choices, audited."""

from __future__ import annotations

import pytest
from textual.widgets import Button, DataTable, OptionList, Static

from console import offers
from console.audit import recent
from screens.dialogs import ChoiceDialog, ConfirmDialog
from screens.offers import OffersScreen
from tests.tui_helpers import demo_workspace, make_app, run_command, settle, wait_for

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def _mapped(demo) -> dict[str, list[str]]:
    db = demo.open()
    try:
        by_offer: dict[str, list[str]] = {}
        for layer, offer in sorted(offers.layer_map(db).items()):
            by_offer.setdefault(offer.name, []).append(layer)
        return by_offer
    finally:
        db.close()


def _row(app, name: str) -> list[str]:
    table = app.screen.query_one("#offer-list", DataTable)
    return [str(c) for c in table.get_row(name)]


def _dialog_text(app) -> str:
    return " ".join(" ".join(str(s.render()) for s in app.screen.query(Static).results()).split())


@pytest.mark.parametrize("size", SIZES)
async def test_x_on_a_mapped_offer_names_its_layers_and_retires_it_with_them(demo, size):
    layers = _mapped(demo)["back10"]
    assert len(layers) == 3
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen)
                       and app.screen.query_one("#offer-list", DataTable).row_count == 5, what="the offers")
        await pilot.press("tab")  # the grid → the list; its first row is back10
        await wait_for(pilot, lambda: app.screen.focused is app.screen.query_one("#offer-list"),
                       what="the offers list to have the focus")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        words = _dialog_text(app)
        assert f"mapped to 3 layers: {', '.join(layers)}" in words and "no offer in by-layer campaigns" in words
        assert str(app.screen.query_one("#yes", Button).label) == "Retire and unmap (y)"
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen) and _row(app, "back10")[2] == "retired",
                       what="back10 listed as retired")
        assert _row(app, "back20")[2] in ("4 layers", "cold light, cool light, cool loyal, cool regular")
        assert app.screen.query_one("#offer-list-box").border_subtitle == "4 active · 1 retired"
        grid = app.screen.query_one("#offer-grid", DataTable)
        cells = [grid.get_cell_at((i, j)).plain for i in range(grid.row_count) for j in range(1, len(grid.columns))]
        assert not any("back10" in c for c in cells)
        db = demo.open()
        assert offers.get(db, "back10").retired_at is not None
        assert all(offers.for_layer(db, layer) is None for layer in layers)
        assert ("offer.retire", {"offer": "back10", "unmapped": layers}) in [
            (e["action"], e["details"]) for e in recent(db, limit=3)]
        db.close()
        # A retired offer is not offered for a layer any more.
        await pilot.press("shift+tab")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the offer choice")
        prompts = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert not any(p.startswith("back10") for p in prompts) and any(p.startswith("back20") for p in prompts)


@pytest.mark.parametrize("size", SIZES)
async def test_the_palette_retires_from_any_screen_and_n_keeps_it(demo, size):
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await run_command(pilot, "Retire an offer")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="which offer")
        assert app.current_mode == "offers"
        prompts = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert len(prompts) == 5 and prompts[0].startswith("back10")
        await pilot.press("down", "enter")  # back20
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        await pilot.press("n")  # keep it: nothing changes
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen), what="the Offers screen")
        await settle(pilot)
        db = demo.open()
        assert offers.get(db, "back20").retired_at is None and recent(db, limit=1)[0]["action"] != "offer.retire"
        db.close()
        await run_command(pilot, "Retire an offer")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="which offer, again")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question, again")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen) and _row(app, "back20")[2] == "retired",
                       what="back20 listed as retired")
        # Retired offers are left out of the next choice.
        await run_command(pilot, "Retire an offer")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="which offer, a third time")
        prompts = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert len(prompts) == 4 and not any(p.startswith("back20") for p in prompts)
