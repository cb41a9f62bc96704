"""Brakes: a running campaign pauses itself when its recent sends go wrong.

Over a campaign's last N real sends (those handed to a provider), three rates are watched:

- opt-out rate: recipients who replied STOP/退订 or clicked unsubscribe after that send;
- complaint rate: spam complaints reported by the provider (Gmail asks bulk senders to stay under 0.3%);
- failure rate: sends that failed or hard-bounced.

When one passes its threshold (and at least `min_sends` sends are in the window, so one early opt-out is not
a rate), the campaign goes from running to paused, `campaigns.pause_reason` says why in words, and the audit log
records the figures. The dispatcher calls `check` after each batch; the inbound server after each receipt.

Settings (winback.toml):

    [brakes]
    window = 200            # the last N sends
    min_sends = 50          # fewer sends than this: no brake yet
    opt_out_rate = 0.02
    complaint_rate = 0.003
    failure_rate = 0.20
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlite_utils

from console import audit
from console.campaigns import ledger
from console.campaigns.ledger import CampaignStatus
from console.config import Config
from storage.tx import immediate

DEFAULTS: dict[str, float] = {
    "window": 200,
    "min_sends": 50,
    "opt_out_rate": 0.02,
    "complaint_rate": 0.003,
    "failure_rate": 0.20,
}

# Ledger states of a send that reached a provider (or was refused by one).
HANDED_OVER = ("sent", "delivered", "failed", "bounced")


@dataclass
class BrakeRates:
    """The watched rates over a campaign's most recent sends."""

    sends: int
    opt_outs: int
    complaints: int
    failures: int
    opt_out_rate: float | None
    complaint_rate: float | None
    failure_rate: float | None


@dataclass
class Brake:
    """Why a campaign was paused."""

    campaign_id: int
    rule: str           # opt_out_rate | complaint_rate | failure_rate
    rate: float
    threshold: float
    reason: str         # the sentence stored in campaigns.pause_reason
    rates: BrakeRates


def settings(config: Config | None) -> dict[str, float]:
    """The brake thresholds in force: [brakes] in winback.toml over the defaults."""
    values = dict(DEFAULTS)
    if config is not None and config.raw:
        values.update({k: float(v) for k, v in dict(config.raw.get("brakes", {})).items() if k in DEFAULTS})
    return values


def rates(db: sqlite_utils.Database, config: Config | None, campaign_id: int) -> BrakeRates:
    """Opt-out, complaint and failure rates over the campaign's last `window` real sends."""
    window = int(settings(config)["window"])
    marks = ",".join("?" for _ in HANDED_OVER)
    row = db.execute(
        f"""
        WITH recent AS (
            SELECT id, status FROM sends
            WHERE campaign_id = ? AND dry_run = 0 AND claimed_at IS NOT NULL AND status IN ({marks})
            ORDER BY claimed_at DESC, id DESC
            LIMIT ?
        )
        SELECT COUNT(*),
               COALESCE(SUM(EXISTS (SELECT 1 FROM receipts r WHERE r.send_id = recent.id
                                     AND r.kind IN ('opt_out', 'unsubscribe'))), 0),
               COALESCE(SUM(EXISTS (SELECT 1 FROM receipts r WHERE r.send_id = recent.id
                                     AND r.kind = 'complaint')), 0),
               COALESCE(SUM(status IN ('failed', 'bounced')), 0)
        FROM recent
        """,
        [campaign_id, *HANDED_OVER, window],
    ).fetchone()
    sends, opt_outs, complaints, failures = row
    return BrakeRates(
        sends=sends,
        opt_outs=opt_outs,
        complaints=complaints,
        failures=failures,
        opt_out_rate=opt_outs / sends if sends else None,
        complaint_rate=complaints / sends if sends else None,
        failure_rate=failures / sends if sends else None,
    )


_WORDS = {
    "opt_out_rate": ("opted out", "opt_outs"),
    "complaint_rate": ("complained", "complaints"),
    "failure_rate": ("failed or bounced", "failures"),
}


def _tripped(found: BrakeRates, limits: dict[str, float]) -> tuple[str, float, float] | None:
    if found.sends < limits["min_sends"]:
        return None
    for rule in ("complaint_rate", "opt_out_rate", "failure_rate"):
        value = getattr(found, rule)
        if value is not None and value > limits[rule]:
            return rule, value, limits[rule]
    return None


def check(db: sqlite_utils.Database, config: Config | None, campaign_id: int) -> Brake | None:
    """Pause the campaign if a brake trips; return the Brake when it paused it now, else None.

    Safe to call often and from several processes: the pause is one conditional UPDATE (running → paused) in
    a write transaction with its audit entry; inside a caller's open transaction it joins it as a savepoint.
    """
    limits = settings(config)
    with immediate(db):
        found = rates(db, config, campaign_id)
        tripped = _tripped(found, limits)
        if tripped is None:
            return None
        rule, value, threshold = tripped
        words, count_field = _WORDS[rule]
        reason = (
            f"brake: {getattr(found, count_field)} of the last {found.sends} sends {words} "
            f"({value:.2%}, limit {threshold:.2%})"
        )
        changed = ledger.move_campaign(db, campaign_id, CampaignStatus.PAUSED, when={CampaignStatus.RUNNING},
                                       pause_reason=reason)
        if not changed:
            return None
        brake = Brake(campaign_id, rule, value, threshold, reason, found)
        name = db.execute("SELECT name FROM campaigns WHERE id = ?", [campaign_id]).fetchone()[0]
        counts = {k: v for k, v in asdict(found).items() if not k.endswith("_rate")}
        audit.record(db, "campaign.brake", campaign=name, rule=rule, rate=round(value, 6),
                     threshold=threshold, reason=reason, **counts)
        return brake
