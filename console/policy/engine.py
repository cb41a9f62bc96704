"""All contact policies for a whole batch at once, set-based: one temp table, one statement per policy.

The dispatcher calls `evaluate` inside its claim transaction (BEGIN IMMEDIATE) — *before* it marks the rows
claimed — so that the ledger it counts caps and budget against cannot change under it: two processes cannot
both pass the same cap. `plan` calls it outside a transaction for the preview (then it reads one snapshot).

The verdict lands in temp table `policy_result(user_id PRIMARY KEY, reason, defer_until, ...)`: reason NULL
means send now; otherwise the first reason that applies, in this order:
no_consent · suppressed · invalid_address · capped · quiet_hours (with defer_until) · over_budget.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from console.config import Config
from console.errors import BadInput
from console.policy import budget as budget_policy
from console.policy import caps as caps_policy
from console.policy import quiet_hours as qh
from console.policy.consent import check_channel, mark_no_consent
from console.policy.suppression import mark_suppressed

REASONS = ("no_consent", "suppressed", "invalid_address", "capped", "quiet_hours", "over_budget")
RESULT_TABLE = "policy_result"

# Where each channel's address lives on the user, in the form suppressions are matched in.
ADDRESS_SQL = {
    "sms": "u.phone",
    "call": "u.phone",
    "email": "lower(u.email)",
    "push": "u.push_token",
    "gift": "NULL",  # a gift list needs no address of its own
}
# What a usable address looks like, per channel (format checks proper belong to the channel's validate()).
VALID_ADDRESS_SQL = {
    "sms": "address LIKE '+%' AND length(address) >= 8",
    "call": "address LIKE '+%' AND length(address) >= 8",
    "email": "address LIKE '%_@_%._%'",
    "push": "length(address) > 0",
}


@dataclass
class PolicyResults:
    """The verdict for one batch: counts per outcome and the temp table holding one row per user."""

    at: int
    channel: str
    counts: Counter = field(default_factory=Counter)
    table: str = RESULT_TABLE
    budget_room: int | None = None  # messages of unit cost that still fitted the budget before this batch
    db: sqlite_utils.Database | None = None

    @property
    def admitted(self) -> int:
        return self.counts.get("ok", 0)

    def rows(self) -> Iterator[tuple[int, str | None, int | None]]:
        """(user_id, reason or None, defer_until or None), by user id."""
        assert self.db is not None
        yield from self.db.execute(f"SELECT user_id, reason, defer_until FROM {self.table} ORDER BY user_id")

    def by_user(self) -> dict[int, tuple[str | None, int | None]]:
        return {u: (r, d) for u, r, d in self.rows()}


def _columns(db: sqlite_utils.Database, source: str, params: dict[str, Any]) -> list[str]:
    cur = db.execute(f"SELECT * FROM ({source}) LIMIT 0", params)
    return [d[0].lower() for d in cur.description]


@contextlib.contextmanager
def _snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """Read one consistent snapshot: the caller's transaction if one is open, else a read transaction."""
    if db.conn.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        if db.conn.in_transaction:
            db.execute("COMMIT")


def evaluate(
    db: sqlite_utils.Database,
    config: Config,
    *,
    channel: str,
    audience: str,
    at: int,
    campaign_id: int | None = None,
    exempt: bool = False,
    params: dict[str, Any] | None = None,
    unit_cost: float | None = None,
    caps_strategy: str = "auto",
) -> PolicyResults:
    """Decide, for every user of *audience*, whether *channel* may carry a marketing message to them at *at*.

    *audience* is a table name or a SELECT with a `user_id` column, optionally `address` (the address frozen on
    the ledger row; else the user's current one) and `cost` (the rendered message's cost; else *unit_cost*, else
    the channel's configured price). *params* are the SELECT's named parameters. Users appear once (duplicates are
    ignored); when the budget binds, users are admitted in user-id order (deterministic across runs). *exempt* skips the frequency caps (an exempt
    campaign's sends do not count either: the dispatcher writes them with counts_for_caps = 0).

    Budget is read from the campaign (*campaign_id*) and what its runs have booked (budget.spent); without a
    campaign there is no ceiling (the dispatcher books its own budget as it claims). *caps_strategy* ('auto',
    'per_user', 'scan') chooses how the ledger is read for caps; the verdict is the same (caps.mark_capped). Returns PolicyResults; the per-user verdict stays in temp table `policy_result` for the
    caller to join against until the next evaluate on this connection.
    """
    channel = check_channel(channel)
    params = dict(params or {})
    source = audience if audience.lstrip().lower().startswith(("select", "with", "values")) else f"SELECT * FROM {audience}"
    cols = _columns(db, source, params)
    if "user_id" not in cols:
        raise BadInput("the audience needs a user_id column")
    if unit_cost is None:
        unit_cost = budget_policy.unit_cost(config, channel)
    address_sql = ADDRESS_SQL[channel]
    if "address" in cols and channel != "gift":
        address_sql = "lower(a.address)" if channel == "email" else "a.address"
    cost_sql = "a.cost" if "cost" in cols else ":_unit_cost"
    params["_unit_cost"] = unit_cost
    window = qh.sending_window(db, config, channel)
    results = PolicyResults(at=at, channel=channel, db=db)

    with _snapshot(db):
        db.execute(f"DROP TABLE IF EXISTS temp.{RESULT_TABLE}")
        db.execute(
            f"""CREATE TEMP TABLE {RESULT_TABLE} (
                user_id INTEGER PRIMARY KEY, address TEXT, cost REAL, phone TEXT, zone_key TEXT,
                reason TEXT, defer_until INTEGER)"""
        )
        # What decides the recipient's zone, worked out once here rather than in a pass of its own: their own
        # zone name, else their phone's calling code (refined per number where a code spans zones), else none.
        undecided = db.execute(
            f"INSERT OR IGNORE INTO {RESULT_TABLE} (user_id, address, cost, phone, zone_key) "
            f"SELECT a.user_id, {address_sql}, {cost_sql}, u.phone, CASE"
            f" WHEN u.timezone IS NOT NULL AND u.timezone != '' THEN 'tz:' || u.timezone"
            f" WHEN u.phone LIKE '+%' THEN 'cc:' || substr(u.phone, 2, 3) ELSE 'ws' END "
            f"FROM ({source}) a JOIN users u ON u.id = a.user_id ORDER BY a.user_id",
            params,
        ).rowcount
        counts = results.counts
        total = undecided
        # Each stage marks only users still undecided and says how many it marked: the tally comes for free.
        counts["no_consent"] = mark_no_consent(db, config, channel, RESULT_TABLE)
        undecided -= counts["no_consent"]
        counts["suppressed"] = mark_suppressed(db, channel, RESULT_TABLE, undecided=undecided)
        undecided -= counts["suppressed"]
        if channel in VALID_ADDRESS_SQL:
            counts["invalid_address"] = db.execute(
                f"UPDATE {RESULT_TABLE} SET reason = 'invalid_address' WHERE reason IS NULL "
                f"AND NOT COALESCE({VALID_ADDRESS_SQL[channel]}, 0)"
            ).rowcount
            undecided -= counts["invalid_address"]
        if not exempt:
            counts["capped"] = caps_policy.mark_capped(db, caps_policy.list_rules(db, channel), channel, at,
                                                       RESULT_TABLE, undecided=undecided, strategy=caps_strategy)
            undecided -= counts["capped"]
        if window is not None:
            counts["quiet_hours"] = mark_quiet_hours(db, config, window, at, RESULT_TABLE)
            undecided -= counts["quiet_hours"]
        if campaign_id is not None:
            row = db.execute("SELECT budget, dry_run FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
            if row is not None and row[0] is not None:
                spent = budget_policy.spent(db, campaign_id, dry_run=bool(row[1]))
                results.budget_room = budget_policy.messages_that_fit(row[0], spent, unit_cost)
                counts["over_budget"] = budget_policy.mark_over_budget(
                    db, row[0] - spent, RESULT_TABLE, undecided=undecided,
                    unit_cost=None if "cost" in cols else unit_cost)
                undecided -= counts["over_budget"]
        counts["ok"] = undecided
        for reason in [r for r, n in counts.items() if n == 0]:
            del counts[reason]
        assert sum(counts.values()) == total
    return results


def mark_quiet_hours(
    db: sqlite_utils.Database, config: Config, window: qh.Window, at: int, table: str = RESULT_TABLE
) -> int:
    """Set-based: defer every still-undecided user for whom *at* is inside quiet hours in their zone.

    Users are grouped by zone_key (set when the table is filled: their own zone name, else their phone's calling
    code, else none); codes spanning several zones are refined to the number itself. The clock arithmetic then runs
    once per group, not per user. Returns how many were deferred.
    """
    keys = [r[0] for r in db.execute(f"SELECT DISTINCT zone_key FROM {table} WHERE reason IS NULL")]
    # A zone name that is not one counts as no zone: fall back to the phone, then the workspace.
    bad_tz = [k for k in keys if k.startswith("tz:") and qh.zone(k[3:]) is None]
    if bad_tz:
        marks = ",".join("?" * len(bad_tz))
        db.execute(
            f"UPDATE {table} SET zone_key = CASE WHEN phone LIKE '+%' THEN 'cc:' || substr(phone, 2, 3) "
            f"ELSE 'ws' END WHERE reason IS NULL AND zone_key IN ({marks})",
            bad_tz,
        )
        keys = [r[0] for r in db.execute(f"SELECT DISTINCT zone_key FROM {table} WHERE reason IS NULL")]
    country = qh._country_zones()
    zones_of: dict[str, tuple[str, ...]] = {}
    per_number: list[str] = []
    for key in keys:
        if key.startswith("tz:"):
            zones_of[key] = (key[3:],)
        elif key.startswith("cc:"):
            cc = qh.calling_code("+" + key[3:])
            if cc is not None and cc in country and country[cc] is None:
                per_number.append(key)
            else:
                zones_of[key] = (country.get(cc) or (config.timezone,)) if cc else (config.timezone,)
        else:
            zones_of[key] = (config.timezone,)
    if per_number:
        marks = ",".join("?" * len(per_number))
        db.execute(f"UPDATE {table} SET zone_key = 'ph:' || phone WHERE reason IS NULL AND zone_key IN ({marks})",
                   per_number)
        for (phone,) in db.execute(f"SELECT DISTINCT phone FROM {table} WHERE reason IS NULL AND zone_key LIKE 'ph:%'"):
            zones_of["ph:" + phone] = qh.zones_for_phone(phone) or (config.timezone,)
    defer_for: dict[tuple[str, ...], int] = {}
    deferred: list[tuple[str, int]] = []
    for key, zones in zones_of.items():
        if zones not in defer_for:
            defer_for[zones] = qh.next_allowed(at, zones, window, prefer=config.timezone)
        if defer_for[zones] != at:
            deferred.append((key, defer_for[zones]))
    if not deferred:
        return 0
    db.execute("DROP TABLE IF EXISTS temp.policy_defer")
    db.execute("CREATE TEMP TABLE policy_defer (zone_key TEXT PRIMARY KEY, defer_until INTEGER NOT NULL)")
    db.conn.executemany("INSERT INTO temp.policy_defer VALUES (?, ?)", deferred)
    return db.execute(
        f"UPDATE {table} SET reason = 'quiet_hours', defer_until = d.defer_until FROM temp.policy_defer d "
        f"WHERE {table}.reason IS NULL AND {table}.zone_key = d.zone_key"
    ).rowcount
