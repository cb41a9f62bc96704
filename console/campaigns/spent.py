"""Which ledger rows' cost was spent — one condition for `campaign tally`, `program show` and (written out, as it
may not import this package) console/outcomes.py.

Spent: a row handed towards the provider (ledger.HANDED), or taken by it and failed by a delivery receipt later (a
provider id or a send time says the provider took it) — SMS providers bill on submission, delivered or not
(DOMAIN.md, Providers; Tencent's statistics call a successful submission 计费依据). A refusal in the provider's answer
(ledger.record_failed: neither) was not billed, nor was a row given back to planned, deferred or cancelled.
"""

from __future__ import annotations

from console.campaigns.ledger import HANDED, SendState, in_list


def spent_sql(alias: str = "") -> str:
    """SQL true for a row of `sends` (as `alias`) whose cost was spent."""
    a = f"{alias}." if alias else ""
    return (f"({a}status IN {in_list(HANDED)} OR ({a}status = '{SendState.FAILED}' "
            f"AND ({a}sent_at IS NOT NULL OR {a}provider_id IS NOT NULL)))")


__all__ = ["spent_sql"]
