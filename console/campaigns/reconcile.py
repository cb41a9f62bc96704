"""Reconciling `unknown` recipients with the provider's own records.

A row is `unknown` when its request may or may not have reached the provider (a crash while it was on the wire, no
reply). winback never resends it by itself. The provider's records settle it: a delivery receipt (receipts import)
says it arrived; a report or the provider's message search saying it never arrived lets the operator put it back
to `planned`, so that resume sends it once:

    winback campaign requeue NAME --not-sent FILE

FILE lists, one per line, what the provider's records show never arrived: winback Message-IDs (`<wb.…>`), provider
message ids, or addresses (a phone number or an email as sent). Blank lines and lines starting with # are skipped.
(Issue #13's `reconcile` against provider query APIs will feed the same `requeue_not_sent`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import sqlite_utils

from console import audit
from console.campaigns import ledger, model
from console.campaigns.ledger import CampaignStatus, SendState
from console.clock import now_ts
from console.errors import BadInput
from console.importing.reading import read_utf8
from console.policy.suppression import normalise_address
from storage.tx import immediate


@dataclass
class NotSent:
    """One line of a not-sent list: what it names, and where it was."""

    value: str
    line: int


class RequeueDict(TypedDict):
    """RequeueResult.as_dict: `winback campaign requeue --json`."""
    campaign: str
    run: int
    requeued: int
    not_unknown: dict[str, int]
    status: str


@dataclass
class RequeueResult:
    campaign: str
    run: int
    requeued: int = 0
    not_unknown: dict[str, int] = field(default_factory=dict)   # named, but in another state: left alone
    status: str = ""

    def as_dict(self) -> RequeueDict:
        return {"campaign": self.campaign, "run": self.run, "requeued": self.requeued,
                "not_unknown": self.not_unknown, "status": self.status}


def read_not_sent(path: Path) -> list[NotSent]:
    out = []
    for number, raw in enumerate(read_utf8(path).splitlines(), start=1):
        text = raw.strip()
        if text and not text.startswith("#"):
            out.append(NotSent(text, number))
    if not out:
        raise BadInput(f"{path}: names nobody (one message id, provider id or address per line); nothing was changed")
    return out


def requeue_not_sent(db: sqlite_utils.Database, name: str, entries: list[NotSent], *, source: str,
                     run: int | None = None) -> RequeueResult:
    """`unknown` rows of the campaign's run (default: latest) that *entries* name → `planned`, in one transaction,
    audited. Every entry must name a recipient of the run (BadInput naming the lines otherwise, nothing changed);
    named rows in another state are counted and left alone. A completed run is reopened as `paused`, so `resume`
    sends the requeued rows."""
    campaign = model.get(db, name)
    with immediate(db):
        if run is None:
            run = db.execute("SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ?", [campaign.id]).fetchone()[0]
        row = db.execute("SELECT dry_run FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                         [campaign.id, run]).fetchone()
        if row is None:
            raise BadInput(f"campaign {campaign.name!r} has not been launched; nothing was changed")
        if row[0]:
            raise BadInput(f"campaign {campaign.name!r} run {run} was a dry run: nothing was sent, nothing to requeue")
        status = ledger.campaign_status(db, campaign.id)
        if status == CampaignStatus.CANCELLED:
            raise BadInput(f"campaign {campaign.name!r} is cancelled: its recipients are not sent again")
        matched: dict[int, str] = {}
        unmatched: list[NotSent] = []
        for entry in entries:
            found = db.execute(
                "SELECT id, status FROM sends WHERE campaign_id = ? AND run = ? AND "
                "(message_id = ? OR provider_id = ? OR address = ? OR address = ?)",
                [campaign.id, run, entry.value, entry.value, entry.value, _normalised(entry.value)]).fetchall()
            if not found:
                unmatched.append(entry)
            matched.update((r[0], r[1]) for r in found)
        if unmatched:
            shown = "; ".join(f"line {e.line}: {e.value!r}" for e in unmatched[:5])
            more = f" (and {len(unmatched) - 5} more)" if len(unmatched) > 5 else ""
            raise BadInput(f"{source}, {shown}{more}: no recipient of campaign {campaign.name!r} run {run} has this "
                           "message id, provider id or address; nothing was changed")
        unknown = [sid for sid, state in matched.items() if state == SendState.UNKNOWN]
        result = RequeueResult(campaign.name, run)
        for state in (s for s in matched.values() if s != SendState.UNKNOWN):
            result.not_unknown[state] = result.not_unknown.get(state, 0) + 1
        now = now_ts()
        if unknown:
            marks = ",".join("?" * len(unknown))
            # what their claim booked was counted as spent (they might have gone): the new claim books it again
            db.execute(f"UPDATE campaign_runs SET spent = spent - (SELECT COALESCE(SUM(cost), 0) FROM sends "
                       f"WHERE id IN ({marks})) WHERE campaign_id = ? AND run = ?", [*unknown, campaign.id, run])
            result.requeued = ledger.requeue_unknown(db, unknown, now)
            if status in (CampaignStatus.COMPLETED, CampaignStatus.SCHEDULED):   # the run was over: reopen it
                ledger.move_campaign(db, campaign.id, CampaignStatus.PAUSED, completed_at=None,
                                     pause_reason=f"{result.requeued} unknown recipients requeued (never sent, "
                                                  f"per {source})")
                db.execute("UPDATE campaign_runs SET finished_at = NULL WHERE campaign_id = ? AND run = ?",
                           [campaign.id, run])
                status = CampaignStatus.PAUSED
            audit.record(db, "campaign.requeue", campaign=campaign.name, run=run, requeued=result.requeued,
                         not_unknown=result.not_unknown, source=source)
        result.status = status.value
    return result


def _normalised(value: str) -> str:
    """The address as the ledger stores it (E.164 phone, lower-case email), or the value unchanged."""
    try:
        return normalise_address(value, "email" if "@" in value else "sms")
    except BadInput:
        return value


__all__ = ["NotSent", "RequeueDict", "RequeueResult", "read_not_sent", "requeue_not_sent"]
