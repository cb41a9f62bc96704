"""The Plan pane's line on a campaign ranked by predicted uplift: what the uplift model expects the budget to buy,
against the same number picked at random and sending to everyone — the figures `winback campaign plan` prints
(console/cli/campaign_output.py), shortened to the pane. Model estimates: the campaign's holdout measures the real
figure."""

from __future__ import annotations

from typing import Any

from screens.format import money


def uplift_line(plan: Any, currency: str) -> str | None:
    """'uplift model: ≈ 0.3 extra returns from 4 (at random ≈ 0.2, everyone ≈ 0.6)' (and, with a cash coupon,
    its net value), or None when the plan is not ranked by uplift."""
    u = (plan.get("ranking") or {}).get("uplift")
    if not u:
        return None
    line = (f"uplift model: ≈ {u['extra_returns']:,.1f} extra returns from {u['recipients']:,} (at random "
            f"≈ {u['extra_returns_at_random']:,.1f}, everyone ≈ {u['extra_returns_everyone']:,.1f})")
    value = u.get("value")
    if value:   # a cash coupon: ranked on money (console.uplift.value), net of the coupon and of the messages
        line += (f" · net of the coupon ≈ {money(value['ranked']['net_value'], currency)}, "
                 f"{money(value['ranked']['net_after_messages'], currency)} after the messages")
        losing = u["recipients"] - value["worth_it"]
        if losing > 0:   # bought last (ranked by net value): a smaller budget stops before them
            stop = value["worth_it"] * plan["ranking"]["cost_per_message"]
            line += (f" · {losing:,} of them worth less than their coupon: a budget of {money(stop, currency)} "
                     "stops before them")
    size = "not calibrated (refit)" if u.get("calibrated") is False else "calibrated"
    return line + f" — {size} estimates; the holdout measures"
