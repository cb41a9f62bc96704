"""The Offers screen's and the creation flow's data and actions (console.offers): the offers, the layer grid with
what each cell's offer costs, and the writes the screen asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from console.config import Config

if TYPE_CHECKING:
    from console.offers import OfferRow

NO_OFFER = "(no offer)"


class GridCell(TypedDict):
    """One layer of the grid: its users (of the segment) and the offer mapped to it."""

    layer: str
    users: int
    offer: str | None
    amount: float | None       # a coupon's amount off; None for other kinds
    summary: str | None


class OfferGrid(TypedDict):
    rows: list[str]
    cols: list[str]
    cells: list[list[GridCell]]


class OffersAndGrid(TypedDict):
    offers: list[OfferRow]
    segment: str | None
    grid: OfferGrid | None     # None before the first refresh


def offers_and_grid(db: Any, config: Config, segment: str | None = None) -> OffersAndGrid:
    """Offers (as `winback offers list`) and the layer grid: per cell its layer name, users (of `segment`, a
    saved segment's name, or everyone profiled) and mapped offer."""
    from console import offers, profiles
    from console.segments import counts

    listed = offers.list_offers(db)
    mapped = offers.layer_map(db)
    if profiles.last_refresh(db) is None:
        return {"offers": listed, "segment": segment, "grid": None}
    matrix = counts.layer_matrix(db, segment, config=config)
    named = matrix.get("layers") or []
    cells: list[list[GridCell]] = []
    for i, row in enumerate(named):
        line: list[GridCell] = []
        for j, layer in enumerate(row):
            offer = mapped.get(layer)
            line.append({"layer": layer, "users": matrix["counts"][i][j],
                         "offer": offer.name if offer else None,
                         "amount": offer.amount if offer and offer.kind == "coupon" else None,
                         "summary": offer.summary() if offer else None})
        cells.append(line)
    return {"offers": listed, "segment": segment, "grid": {"rows": matrix["rows"][:len(named)],
                                       "cols": matrix["cols"][:len(named[0]) if named else 0], "cells": cells}}


def map_layer(db: Any, layer: str, offer: str | None) -> str:
    from console import offers

    offers.map_layer(db, layer, offer)
    return layer


def retire_offer(db: Any, name: str, unmap: bool) -> str:
    """`winback offers retire NAME [--unmap]`: `unmap` only when the operator was told which layers lose it."""
    from console import offers

    offers.retire(db, name, unmap=unmap)
    return name


def listed_offers(db: Any) -> list[OfferRow]:
    """`winback offers list` (for the palette's "Retire an offer…", which may come before the screen's first load)."""
    from console import offers

    return offers.list_offers(db)


def save_offer(db: Any, values: dict[str, str], replace: bool) -> str:
    """The form's answers → console.offers.add (which checks them and names the field that is wrong)."""
    from console import offers
    from console.errors import BadInput

    def number(key: str, kind: type = float) -> Any:
        text = values.get(key, "").strip()
        if not text:
            return None
        try:
            return kind(text)
        except ValueError:
            raise BadInput(f"offer {values.get('name') or '?'}: {key} {text!r} is not a number") from None

    offer = offers.Offer(
        name=values.get("name", "").strip(), kind=values.get("kind", "").strip() or "none",
        threshold=number("threshold"), amount=number("amount"), currency=values.get("currency") or None,
        validity_days=number("validity_days", int), multiplier=number("multiplier"),
        trial_days=number("trial_days", int), description=values.get("description") or None)
    return offers.add(db, offer, replace=replace).name
