"""Ledger rows written directly, for outcome and inbound tests that must not depend on the launch code.

Users get ids 1..n; a campaign row and its first run are inserted directly; sends are set-based INSERT ... SELECT over a recursive counter.
"""

from __future__ import annotations

import json

DAY = 86_400


def add_users(db, n: int, *, start: int = 1, phone_prefix: str = "+86138") -> None:
    db.execute(
        f"""
        WITH RECURSIVE c(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM c WHERE i < {start + n - 1})
        INSERT INTO users (id, external_id, name, phone, email, created_at, updated_at)
        SELECT i, 'u' || i, 'User ' || i, '{phone_prefix}' || printf('%08d', i),
               'user' || i || '@example.com', 0, 0 FROM c
        """
    )


def add_campaign(db, name: str = "spring", *, launched_at: int, window_days: int = 14,
                 kinds: list[str] | None = None, status: str = "running", dry_run: int = 0,
                 channel: str = "sms") -> int:
    cur = db.execute(
        """INSERT INTO campaigns (name, segment, channel, holdout_pct, window_days, conversion_kinds,
                                  status, dry_run, salt, created_at, created_by, launched_at)
           VALUES (?, 'dormant', ?, 10, ?, ?, ?, ?, 'salt', ?, 'tester', ?)""",
        [name, channel, window_days, json.dumps(kinds or ["order"]), status, dry_run, launched_at,
         launched_at],
    )
    db.execute(
        "INSERT INTO campaign_runs (campaign_id, run, dry_run, started_at, started_by) VALUES (?, 1, ?, ?, 'tester')",
        [cur.lastrowid, dry_run, launched_at],
    )
    return cur.lastrowid


def add_sends(db, campaign_id: int, first: int, last: int, arm: str, *, status: str | None = None,
              sent_at: int | None = None, cost: float = 0.04, channel: str = "sms", coupon: bool = True) -> None:
    """One ledger row per user first..last; message_id 'm<user>', provider_id 'p<user>', coupon 'C<user>'."""
    holdout = arm == "holdout"
    status = status or ("holdout" if holdout else "sent")
    coupon_sql = "NULL" if holdout or not coupon else "'C' || i"
    provider_sql = "NULL" if holdout else "'p' || i"
    message_sql = "NULL" if holdout else "'m' || i"
    address_sql = "'user' || i || '@example.com'" if channel == "email" else "'+86138' || printf('%08d', i)"
    db.execute(
        f"""
        WITH RECURSIVE c(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM c WHERE i < {last})
        INSERT INTO sends (campaign_id, user_id, arm, channel, address, status, dry_run, counts_for_caps,
                           cost, coupon_code, provider_id, message_id, claimed_at, sent_at, updated_at)
        SELECT ?, i, ?, ?, {address_sql}, ?, 0, ?, ?,
               {coupon_sql}, {provider_sql}, {message_sql}, ?, ?, ?
        FROM c
        """,
        [campaign_id, arm, channel, status, 0 if holdout else 1, 0 if holdout else cost,
         None if holdout else sent_at, None if holdout else sent_at, sent_at or 0],
    )


def add_events(db, first: int, last: int, *, kind: str = "order", at: int, amount: float | None = 100.0,
               coupon: bool = False) -> None:
    db.execute(
        f"""
        WITH RECURSIVE c(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM c WHERE i < {last})
        INSERT INTO events (user_id, kind, at, amount, coupon_code, fingerprint)
        SELECT i, ?, ?, ?, {"'C' || i" if coupon else "NULL"},
               abs(random())
        FROM c
        """,
        [kind, at, amount],
    )
