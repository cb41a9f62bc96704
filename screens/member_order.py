"""The order a list of users is sorted in, with `S`, and the column of the score it is sorted by: one definition
for the Segments members view and the overview's layer list (Enter on the heat map).

The orders are those of `winback segments members --order-by` (console.segments.member_list.ORDERINGS). Sorted
by a propensity score or by predicted uplift (issue 15: the extra chance of returning if messaged, offered only
while the latest uplift fit is usable — else the service says why and the screen goes back to id order), that
score gets a column: highest first, users without a score (or who refused personalised marketing) last, "—".
"""

from __future__ import annotations

from rich.text import Text

from screens.columns import Column

MEMBER_ORDERS = ("id", "last_order", "last_seen", "spend", "orders", "p_alive", "expected_value",
                 "expected_orders_90d", "uplift")
SCORE_COLUMNS = {"p_alive": "p alive", "expected_value": "exp. value", "expected_orders_90d": "exp. orders",
                 "uplift": "uplift"}
SORT_TOOLTIP = "Sort members next way (id, recency, spend, orders, scores, uplift)"


def next_order(order: str) -> str:
    """The order `S` moves to from *order*."""
    return MEMBER_ORDERS[(MEMBER_ORDERS.index(order) + 1) % len(MEMBER_ORDERS)]


def with_score_column(columns: tuple[Column, ...], order: str) -> tuple[Column, ...]:
    """*columns*, and the column of the score sorted by (none for id, recency, spend or orders)."""
    score = SCORE_COLUMNS.get(order)
    return columns + ((Column(score, score, "count"),) if score else ())


def score_cell(order: str, value: float | None) -> Text:
    """The value sorted by, as its column shows it: p alive 0.731, uplift +4.2 pp, a value 1,234.50; "—" unscored."""
    if value is None:
        shown = "—"
    elif order == "p_alive":
        shown = f"{value:.3f}"
    elif order == "uplift":
        shown = f"{value * 100:+.1f} pp"
    else:
        shown = f"{value:,.2f}"
    return Text(shown, justify="right")


def score_cells(order: str, row: object) -> dict[str, Text]:
    """{column: cell} for one listed member (a console.segments.Member) sorted by *order*; {} for a plain order."""
    score = SCORE_COLUMNS.get(order)
    if not score:
        return {}
    value = row.get(order) if isinstance(row, dict) else None   # Member's NotRequired score keys
    return {score: score_cell(order, value)}
