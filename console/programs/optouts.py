"""Each program run ends, at once, the entries of users who opted out of every channel of their next step.

Without this an opt-out was noticed only when the user's next step fell due (weeks later for the ladder's call
step), so the funnel counted them as waiting. An entry leaves here exactly when the
step it waits for, run now, would end it `opted_out`: no channel of the step is usable (no address; the user said no
— the policy's own predicate, console.policy.blocked.refused_sql: a suppression in force by user or address on the
channel or 'all', or a latest consent `withdrawn`; or no consent, console.policy.consent) and on at least one
channel the user said no. So a `suppress add --channel all`, or a STOP on SMS from someone without push consent,
ends the entry at the next run. Someone merely without consent anywhere is left for the step (`unreachable` then:
consent may still come), and so is a user failing the step's `only` rule (they skip that step).

One set-based UPDATE per run over the program's active entries (the benchmark holds 1,000,000), inside the write
transaction that first folds journaled opt-outs (a STOP taken while an import held the lock counts too).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from console.campaigns.journal_fold import apply_pending_optouts
from console.channel_names import ADDRESS_COLUMN, CHANNELS
from console.config import Config
from console.policy.blocked import refused_sql
from console.policy.consent import LATEST_STATUS_SQL, unknown_consent_allows
from console.policy.engine import ADDRESS_SQL
from console.programs import store
from console.programs.spec import rule_members_sql
from storage.tx import immediate


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _step_predicate(db: sqlite_utils.Database, config: Config, step: store.Step, params: list[Any]) -> str:
    """Entry waits for *step*, and the step run now would end it `opted_out`: no channel of the step is usable
    (no address, said no, or no consent) and on at least one the user, having an address there, said no."""
    parts = [f"step = {int(step.index)}"]
    said_no_somewhere: list[str] = []
    for channel in step.channels:
        if channel not in CHANNELS:   # the spec only stores known channels; never splice anything else into SQL
            raise ValueError(f"unknown channel {channel!r}")
        user = "program_entries.user_id"
        column = f"(SELECT u.{ADDRESS_COLUMN[channel]} FROM users u WHERE u.id = {user})"
        match = ADDRESS_SQL[channel] if ADDRESS_SQL[channel] != "NULL" else f"u.{ADDRESS_COLUMN[channel]}"
        address = f"(SELECT {match} FROM users u WHERE u.id = {user})"
        said_no = refused_sql(user, address, _sql_text(channel))
        fallback = "granted" if unknown_consent_allows(config, channel) else "withdrawn"
        latest = LATEST_STATUS_SQL.format(user=user, channel=_sql_text(channel))
        parts.append(f"(COALESCE({column}, '') = '' OR {said_no} OR COALESCE(({latest}), '{fallback}') != 'granted')")
        said_no_somewhere.append(f"(COALESCE({column}, '') != '' AND {said_no})")
    parts.append("(" + " OR ".join(said_no_somewhere) + ")")
    if step.only:
        # last: the rule's members are only read for entries that qualify otherwise
        sql, rule_params = rule_members_sql(db, step.only)
        parts.append(f"user_id IN ({sql})")
        params.extend(rule_params)
    return "(" + " AND ".join(parts) + ")"


def _candidates(program: store.Program) -> str:
    """SELECT of every user who said no on some channel the program uses: a superset of those the exact predicate
    ends, read from the (small) suppression list and the withdrawn consents, so the exact per-entry check runs
    for these few instead of every active entry (a million in the benchmark)."""
    channels = sorted({c for step in program.steps for c in step.channels if c in CHANNELS})
    listed = ", ".join(_sql_text(c) for c in [*channels, "all"])
    active = f"s.removed_at IS NULL AND s.channel IN ({listed})"
    parts = [f"SELECT s.user_id FROM suppressions s WHERE s.user_id IS NOT NULL AND {active}",
             "SELECT c.user_id FROM consents c WHERE c.status = 'withdrawn' AND c.channel IN "
             f"({', '.join(_sql_text(c) for c in channels)})"]
    for expr in sorted({ADDRESS_SQL[c] if ADDRESS_SQL[c] != "NULL" else f"u.{ADDRESS_COLUMN[c]}" for c in channels}):
        parts.append(f"SELECT u.id FROM suppressions s JOIN users u ON {expr} = s.address "
                     f"WHERE s.address IS NOT NULL AND {active}")
    return " UNION ".join(parts)


def exit_opted_out(db: sqlite_utils.Database, config: Config, program: store.Program, now: int) -> int:
    """End (`opted_out`, left_at = now) every active entry of the program's current mode whose user opted out of
    every channel of their next step. Returns how many."""
    if not program.steps:
        return 0
    with immediate(db):
        apply_pending_optouts(db, config)   # fold journaled opt-outs first, as the dispatcher's claim does
        params: list[Any] = []
        steps = " OR ".join(_step_predicate(db, config, step, params) for step in program.steps)
        reason = " ".join(f"WHEN {int(s.index)} THEN {_sql_text(f'opted out before step {s.name}')}"
                          for s in program.steps)
        return int(db.execute(
            f"UPDATE program_entries SET state = 'opted_out', left_at = ?, next_due_at = NULL, "
            f"left_reason = CASE step {reason} END "
            f"WHERE program_id = ? AND dry_run = ? AND state = 'active' AND user_id IN ({_candidates(program)}) "
            f"AND ({steps})",
            [now, program.id, int(program.dry_run), *params]).rowcount)


__all__ = ["exit_opted_out"]
