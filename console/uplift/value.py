"""What messaging a user is worth when the message carries a coupon: extra revenue net of the coupon.

With P1 = P(return | messaged), P0 = P(return | not) (uplift_scores.p_treated / p_control: P1 is P0 plus the
calibrated uplift, console.uplift.calibration), a coupon worth C and
V the revenue of a return (the user's average order value; the base's average when they have none):

    expected net value = (P1 − P0)·(V − C)  −  P0·C
                         extra revenue from    the coupon handed to those
                         the persuaded, net    who would have bought anyway
                         of their coupon

which is (P1 − P0)·V − P1·C. Ranking by it rather than by P1 − P0 keeps the budget off "sure things": a user a
message moves by 10 pp but who buys half the time anyway costs more in coupons than the extra orders bring.
Assumptions, stated where the plan shows the figure: every returner redeems the coupon (its threshold is not
checked against the order: an upper bound on its cost) and a return is one order of the user's average value.
Points and trials carry no known cash cost and count 0; the message's own cost is the budget's, not this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sqlite_utils


@dataclass(frozen=True)
class OfferCost:
    """The cash value of the coupon a campaign hands out: one for everyone, or per layer (--offer-by-layer)."""

    offer: str                                            # the offer's name, or "by layer"
    amount: float = 0.0                                   # the coupon's amount (0: no cash coupon)
    by_layer: dict[str, float] = field(default_factory=dict)

    def per_user(self, layers: list[str | None]) -> np.ndarray:
        if not self.by_layer:
            return np.full(len(layers), self.amount)
        return np.array([self.by_layer.get(layer or "", 0.0) for layer in layers], dtype=np.float64)


def offer_cost(db: sqlite_utils.Database, offer: str | None, by_layer: bool = False) -> OfferCost | None:
    """The coupon a campaign (or program step) gives: its offer, or the layer mapping; None when it gives no
    cash coupon at all (then uplift ranks by the extra chance of returning alone)."""
    if offer:
        row = db.execute("SELECT kind, amount FROM offers WHERE name = ?", [offer]).fetchone()
        if row is None or row[0] != "coupon" or not row[1]:
            return None
        return OfferCost(offer, float(row[1]))
    if by_layer:
        mapped = {layer: float(amount) for layer, kind, amount in db.execute(
            "SELECT m.layer, o.kind, o.amount FROM offer_layers m JOIN offers o ON o.id = m.offer_id")
            if kind == "coupon" and amount}
        return OfferCost("by layer", 0.0, mapped) if mapped else None
    return None


def mean_order_value(db: sqlite_utils.Database) -> float:
    """The base's average order value, for users without one of their own."""
    value = db.execute("SELECT AVG(aov) FROM profiles WHERE aov > 0").fetchone()[0]
    return float(value or 0.0)


def net_value(p_treated: np.ndarray, p_control: np.ndarray, order_value: np.ndarray, coupon: np.ndarray,
              fallback_value: float) -> np.ndarray:
    """Expected net value of messaging each user (module docstring); NaN where the user has no uplift score."""
    v = np.where(np.isnan(order_value), fallback_value, order_value)
    return (p_treated - p_control) * v - p_treated * coupon


__all__ = ["OfferCost", "mean_order_value", "net_value", "offer_cost"]
