"""Ranking by predicted uplift: whether it may be used, and what a budget buys with it.

With one cost per message, the highest expected extra returns per cost are simply the highest predicted uplift.
The comparison is the model's own estimate (sum of predicted uplift of the users bought); the ground truth comes
later from the campaign's holdout (console.outcomes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlite_utils

from console.clock import ts_to_iso
from console.errors import BadInput

if TYPE_CHECKING:
    import numpy as np


def refusal(db: sqlite_utils.Database) -> str | None:
    """Why `--rank-by uplift` cannot be used now (the latest fit's verdict), or None."""
    row = db.execute("SELECT id, usable, verdict, fitted_at, scored FROM uplift_fits ORDER BY id DESC LIMIT 1"
                     ).fetchone()
    if row is None:
        return "--rank-by uplift: no uplift model yet — run `winback uplift fit` (needs a past campaign with a holdout)"
    fit_id, usable, verdict, fitted_at, scored = row
    if not usable:
        return f"--rank-by uplift: the latest uplift fit (#{fit_id}, {ts_to_iso(fitted_at)}) is not offered for " \
               f"targeting — {verdict}"
    if not scored:
        return f"--rank-by uplift: the latest uplift fit (#{fit_id}) scored nobody (no profiled users); run " \
               "`winback refresh` and `winback uplift fit` again"
    return None


def budget_comparison(uplift: np.ndarray, p_alive: np.ndarray, affordable: int) -> dict[str, Any]:
    """Expected extra returns (sum of predicted uplift; unscored users count 0) bought by the first *affordable*
    users in uplift order (the arrays are in that order), by the same number ranked by p_alive, at random, and
    by messaging everyone."""
    import numpy as np

    u = np.nan_to_num(uplift, nan=0.0)
    total = u.size
    by_alive = np.lexsort((np.arange(total), -np.nan_to_num(p_alive, nan=-np.inf)))[:affordable]
    everyone = float(u.sum())
    return {
        "recipients": affordable,
        "extra_returns": float(u[:affordable].sum()),
        "extra_returns_ranked_by_p_alive": float(u[by_alive].sum()),
        "extra_returns_at_random": everyone * affordable / total if total else 0.0,
        "extra_returns_everyone": everyone,
        "everyone": total,
    }


def check_usable(db: sqlite_utils.Database, rank_by: str | None) -> None:
    """Raise BadInput with the verdict's reason when *rank_by* is uplift and the latest fit may not be used."""
    if rank_by == "uplift" and (why := refusal(db)) is not None:
        raise BadInput(why)
