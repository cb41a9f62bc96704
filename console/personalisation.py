"""A person's "no personalised marketing" choice (PIPL Art. 24): the table `no_personalised` (m016).

Art. 24 asks that marketing decided by automated analysis of personal characteristics offer an option not based
on them, or an easy refusal. Here a refusal is honoured in what winback decides by a personal model:

- `winback uplift fit` stores no predicted uplift for the person (console.uplift.data.base_chunks skips them), so
  nothing orders or ranks them by it;
- budget ranking (console.propensity.targeting.rank_for_budget, by expected value, p_alive or uplift) ranks them
  at the audience's average score — as a model that knows nothing personal would — not at their own;
- member lists sorted by a score list them with the unscored (their score is not used);
- messages give them the non-personalised copy: a template's [fallback] or its generic version, and no offer
  chosen by their layer (console/personalised_copy.py).

They still receive what everyone in the segment receives: the refusal is of personalisation, not of marketing
(that is consent, per channel). Their data still trains the models (training decides nothing about them).
"""

from __future__ import annotations

from typing import TypedDict

import sqlite_utils

from console import audit
from console.clock import now_ts
from console.users import require_user_id
from storage.tx import immediate

# SQL: true when the user {user} (an expression) refused personalised marketing; one primary-key probe.
REFUSED_SQL = "EXISTS (SELECT 1 FROM no_personalised np WHERE np.user_id = {user})"


def refused_sql(user: str) -> str:
    return REFUSED_SQL.format(user=user)


class Choice(TypedDict):
    """What `consent personalised` recorded (`--json`)."""

    user: str
    personalised: str          # refused | allowed
    changed: bool              # False: it was already so
    at: int
    source: str


class Refusal(TypedDict):
    at: int
    source: str


def set_choice(db: sqlite_utils.Database, external_id: str, *, refuse: bool, source: str = "cli") -> Choice:
    """Record that the person refuses (or no longer refuses) personalised marketing: one transaction, audited.
    Returns the choice now in force and whether anything changed."""
    user_id = require_user_id(db, external_id)
    at = now_ts()
    with immediate(db):
        if refuse:
            changed = db.execute("INSERT OR IGNORE INTO no_personalised (user_id, at, source) VALUES (?, ?, ?)",
                                 [user_id, at, source]).rowcount
            # their stored uplift prediction goes at once: nothing may rank them by it from now on
            db.execute("DELETE FROM uplift_scores WHERE user_id = ?", [user_id])
        else:
            changed = db.execute("DELETE FROM no_personalised WHERE user_id = ?", [user_id]).rowcount
        if changed:
            audit.record(db, "personalised.refuse" if refuse else "personalised.allow", user=external_id,
                         source=source)
    return {"user": external_id, "personalised": "refused" if refuse else "allowed", "changed": bool(changed),
            "at": at, "source": source}


def choice_of(db: sqlite_utils.Database, user_id: int) -> Refusal | None:
    """The refusal in force for one user (at, source), or None."""
    row = db.execute("SELECT at, source FROM no_personalised WHERE user_id = ?", [user_id]).fetchone()
    return {"at": row[0], "source": row[1]} if row else None


def refused_count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT COUNT(*) FROM no_personalised").fetchone()[0])
