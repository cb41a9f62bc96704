"""A campaign: what goes to whom, through which channel, measured against which holdout.

Status: draft → scheduled | running → paused → running → completed | cancelled (a recurring campaign goes back to
scheduled between runs). Segment, templates and offer are referenced by name.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict, cast

import sqlite_utils

from console import audit
from console.campaigns import integrations, ledger
from console.campaigns.ledger import CampaignStatus
from console.channel_names import CHANNELS
from console.clock import now_ts
from console.errors import BadInput, NotFound
from console.propensity.targeting import RANKABLE
from console.simulated import SIMULATED_PROGRAM_SQL, ModeCount, mode_words, run_modes
from console.uplift.targeting import check_usable as check_uplift_usable
from storage.tx import immediate

STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled")
DAY = 86_400


@dataclass
class Variant:
    label: str
    template: str
    weight: int = 1


class VariantDict(TypedDict):
    label: str
    template: str
    weight: int


class CampaignDict(TypedDict):
    """Campaign.as_dict: `winback campaign create|show --json`, and what the console's creation flow gets back."""
    id: int
    name: str
    segment: str
    channel: str
    variants: list[VariantDict]
    offer: str | None
    offer_by_layer: bool
    holdout_pct: float
    budget: float | None
    rank_by: str | None
    exempt_caps: bool
    window_days: int
    conversion_kinds: list[str]
    scheduled_at: int | None
    every_days: int | None
    reentry_days: int | None
    next_run_at: int | None
    status: str
    dry_run: bool
    simulated: bool
    salt: str
    pause_reason: str | None
    created_at: int
    created_by: str
    launched_at: int | None
    completed_at: int | None
    scheduled_real: bool       # scheduled, and confirmed as a real send (console.campaigns.confirmation)
    hold_reason: str | None    # scheduled real, but run-due held it: why (None: not held)
    mode: str                  # 'real' | 'dry run' | 'simulated' (mode_of)


@dataclass
class Campaign:
    id: int
    name: str
    segment: str
    channel: str
    variants: list[Variant] = field(default_factory=list)
    offer: str | None = None
    offer_by_layer: bool = False
    holdout_pct: float = 10.0
    budget: float | None = None
    rank_by: str | None = None    # rank the segment by this score and keep the top the budget buys (plan.py)
    exempt_caps: bool = False
    window_days: int = 14
    conversion_kinds: list[str] = field(default_factory=lambda: ["order"])   # event kinds that count as coming back
    scheduled_at: int | None = None
    every_days: int | None = None
    reentry_days: int | None = None
    next_run_at: int | None = None
    status: str = "draft"
    dry_run: bool = True
    simulated: bool = False       # made up (the demo's past campaign): stored as a dry run, shown as "simulated"
    salt: str = ""
    pause_reason: str | None = None
    created_at: int = 0
    created_by: str = ""
    launched_at: int | None = None
    completed_at: int | None = None
    scheduled_real: bool = False  # a scheduled one-off confirmed as a real send (m019_scheduled_real)
    hold_reason: str | None = None  # why run-due held that real send when its time came

    @property
    def mode(self) -> str:
        # a one-off scheduled for a real send is "real" before it has run (its dry_run still says "no real run")
        return mode_of(self.dry_run and not (self.status == "scheduled" and self.scheduled_real), self.simulated)

    def as_dict(self) -> CampaignDict:
        return cast(CampaignDict, {**asdict(self), "mode": self.mode})   # asdict: the fields above, in order


def mode_of(dry_run: bool | int, simulated: bool | int = False) -> str:
    """How a campaign (or run, or ledger row) was sent, as every view names it: 'simulated' (nothing was sent, the
    rows were made up: the demo's past campaign), 'dry run' (nothing was sent) or 'real'."""
    return "simulated" if simulated else "dry run" if dry_run else "real"


def parse_days(text: str | int | None, what: str = "duration") -> int | None:
    """'7d', '2w', '14', 14 → days; None stays None. BadInput names the flag's value otherwise."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", str(text).lower())
    if not m or int(m.group(1)) <= 0:
        raise BadInput(f"{what} {text!r}: write a number of days such as 7d or 2w")
    return int(m.group(1)) * (7 if m.group(2) == "w" else 1)


def parse_variant(text: str) -> tuple[str, int]:
    """'T2=50' → ('T2', 50); 'T2' → ('T2', 1)."""
    name, _, weight = text.partition("=")
    name = name.strip()
    if not name:
        raise BadInput(f"--variant {text!r}: write TEMPLATE=WEIGHT, e.g. miss-you-b=50")
    if not weight:
        return name, 1
    try:
        value = int(weight)
    except ValueError:
        raise BadInput(f"--variant {text!r}: the weight {weight!r} is not a whole number") from None
    if value <= 0:
        raise BadInput(f"--variant {text!r}: the weight must be positive")
    return name, value


def parse_kinds(text: str | list[str] | None) -> list[str]:
    """'order,visit' → ['order', 'visit'] (plurals accepted: 'orders'); None or '' → ['order'] (the default)."""
    if text is None or text == "" or text == []:
        return ["order"]
    items = text if isinstance(text, list) else str(text).split(",")
    kinds: list[str] = []
    for item in items:
        kind = item.strip().lower()
        if kind in ("orders", "visits", "logins"):
            kind = kind[:-1]
        if not re.fullmatch(r"[a-z][a-z0-9_.-]{0,39}", kind):
            raise BadInput(f"--convert-on {text!r}: {item.strip()!r} is not an event kind; write them like "
                           "order,visit")
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def stored_kinds(raw: str | None) -> list[str]:
    """campaigns.conversion_kinds as a list (a JSON list; a bare comma list is read too, as console.outcomes
    does). Not from console.outcomes: a dispatcher reading a campaign needs none of its queries and statistics."""
    try:
        kinds = json.loads(raw) if raw else ["order"]
    except ValueError:
        kinds = [k.strip() for k in str(raw).split(",") if k.strip()]
    if isinstance(kinds, str):
        kinds = [kinds]
    return [str(k) for k in kinds] or ["order"]


def _from_row(db: sqlite_utils.Database, row: dict[str, Any]) -> Campaign:
    variants = [
        Variant(r["label"], r["template"], r["weight"])
        for r in db.query("SELECT label, template, weight FROM campaign_variants WHERE campaign_id = ? ORDER BY label",
                          [row["id"]])
    ]
    keys = Campaign.__dataclass_fields__
    values = {k: row[k] for k in keys if k in row and k != "variants"}
    for flag in ("offer_by_layer", "exempt_caps", "dry_run", "simulated", "scheduled_real"):
        values[flag] = bool(values.get(flag))
    values["conversion_kinds"] = stored_kinds(values.get("conversion_kinds"))
    return Campaign(variants=variants, **values)


def get(db: sqlite_utils.Database, name: str | int) -> Campaign:
    """The campaign with this name (or id), or NotFound."""
    rows = list(db.query("SELECT * FROM campaigns WHERE name = ? OR CAST(id AS TEXT) = ? ORDER BY name = ? DESC "
                         "LIMIT 1", [str(name), str(name), str(name)]))
    if not rows:
        raise NotFound(f"no campaign named {name!r} (see `winback campaign list`)")
    return _from_row(db, rows[0])


class CampaignRow(TypedDict):
    """One campaign in `list_campaigns`: its settings as stored, and how many recipients it has and reached."""

    id: int
    name: str
    segment: str
    channel: str
    status: str
    dry_run: int               # 1 | 0, as stored
    simulated: int             # 1 | 0, as stored (the demo's made-up past campaign; stored as a dry run)
    mode: str                  # 'real' | 'dry run' | 'simulated' (mode_of)
    holdout_pct: float
    budget: float | None
    every_days: int | None
    created_at: int
    launched_at: int | None
    next_run_at: int | None
    scheduled_real: int        # 1 | 0: scheduled, and confirmed as a real send
    hold_reason: str | None    # why run-due held that real send (None: not held)
    recipients: int            # ledger rows, every run
    sent: int                  # of which really sent or delivered (rows of real runs only)
    would_send: int            # of which a dry run (or the demo's simulated campaign) recorded as sent: nothing left
    simulated_program: str | None   # a dry-run step of the demo's simulated program (its name): its runs are made up
    modes: list[ModeCount] | None   # … its runs per mode (console.simulated.run_modes), else None


# A step of the demo's simulated program that has since run for real: its made-up dry-run rows are not its figures
# (nothing simulated is counted as real); `campaign tally --run N` still shows those runs, as simulated.
OWN_ROWS = "NOT (s.dry_run AND NOT c.dry_run AND {program} IS NOT NULL)"


def list_campaigns(db: sqlite_utils.Database, *, include_programs: bool = False) -> list[CampaignRow]:
    """Every campaign with its headline counts, newest first (without the internal campaigns behind recall
    program steps, `program:NAME/STEP/CHANNEL`, unless include_programs). A dry-run step of the demo's simulated
    program shows as 'simulated' (`simulated_program` names it), or 'simulated + dry run' once the operator's own
    run-due ran it too (`modes` counts each); once run for real it is real, without its simulated rows (OWN_ROWS)."""
    hide = "" if include_programs else "WHERE c.program_id IS NULL"
    rows = cast(list[CampaignRow], list(db.query(
        """
        SELECT c.id, c.name, c.segment, c.channel, c.status, c.dry_run, c.simulated,
               CASE WHEN c.simulated THEN 'simulated' WHEN c.status = 'scheduled' AND c.scheduled_real THEN 'real'
                    WHEN c.dry_run AND {program} IS NOT NULL THEN 'simulated'
                    WHEN c.dry_run THEN 'dry run' ELSE 'real' END AS mode,
               c.holdout_pct, c.budget,
               c.every_days, c.created_at, c.launched_at, c.next_run_at, c.scheduled_real, c.hold_reason,
               (SELECT COUNT(*) FROM sends s WHERE s.campaign_id = c.id AND {own}) AS recipients,
               (SELECT COUNT(*) FROM sends s WHERE s.campaign_id = c.id AND s.status IN ('sent','delivered')
                    AND NOT s.dry_run) AS sent,
               (SELECT COUNT(*) FROM sends s WHERE s.campaign_id = c.id AND s.status IN ('sent','delivered')
                    AND s.dry_run AND {own}) AS would_send,
               CASE WHEN c.dry_run THEN {program} END AS simulated_program
        FROM campaigns c {hide} ORDER BY c.id DESC
        """.replace("{hide}", hide).replace("{own}", OWN_ROWS).replace("{program}", SIMULATED_PROGRAM_SQL)
    )))
    modes = run_modes(db, [r["id"] for r in rows]) if include_programs else {}
    for r in rows:
        r["modes"] = modes.get(r["id"])
        if r["simulated_program"] and r["modes"]:   # still a dry run: its mode is its runs' ('simulated + dry run')
            r["mode"] = mode_words(r["modes"])
    return rows


def create(
    db: sqlite_utils.Database,
    name: str,
    *,
    segment: str,
    channel: str,
    template: str,
    variants: list[str] | None = None,
    offer: str | None = None,
    offer_by_layer: bool = False,
    holdout: float = 10.0,
    budget: float | None = None,
    window: str | int | None = None,
    exempt_caps: bool = False,
    every: str | int | None = None,
    reentry: str | int | None = None,
    at: int | None = None,
    convert_on: str | list[str] | None = None,
    rank_by: str | None = None,
) -> Campaign:
    """Create a draft campaign (checked: segment, templates and offer exist; numbers make sense). Audited."""
    name = name.strip()
    if not name or len(name) > 80:
        raise BadInput("a campaign needs a name of 1 to 80 characters")
    if channel not in CHANNELS:
        raise BadInput(f"--channel {channel!r}: choose one of {', '.join(CHANNELS)}")
    if not 0 <= holdout < 100:
        raise BadInput(f"--holdout {holdout}: a percentage from 0 to 99")
    if budget is not None and budget < 0:
        raise BadInput(f"--budget {budget}: must not be negative")
    if offer and offer_by_layer:
        raise BadInput("choose --offer NAME or --offer-by-layer, not both")
    labels = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    arms = [(template, 1)] + [parse_variant(v) for v in variants or []]
    if len(arms) > len(labels):
        raise BadInput("at most 26 variants")
    if len(variants or []) and arms[0][1] == 1:
        # The first template gets what the others leave of 100 when they are given as percentages.
        rest = sum(w for _, w in arms[1:])
        arms[0] = (template, max(1, 100 - rest) if rest < 100 else rest // len(arms[1:]))
    seen = set()
    for tname, _ in arms:
        if tname in seen:
            raise BadInput(f"template {tname!r} is named twice")
        seen.add(tname)
        integrations.check_template(db, tname, channel)
    integrations.check_segment(db, segment)
    if not offer and not offer_by_layer:
        # the plan would count these recipients as sendable and the launch would record every one render_error
        needing = [tname for tname, _ in arms if integrations.template_reads_offer(db, tname)]
        if needing:
            raise BadInput(f"template {needing[0]!r} uses an offer ({{{{ offer.… }}}}): pass --offer NAME, or "
                           "--offer-by-layer to give each user their layer's offer (`winback offers map`)")
    if offer:
        integrations.check_offer(db, offer)
    window_days = parse_days(window, "--window") or integrations.offer_validity_days(db, offer) or 14
    kinds = parse_kinds(convert_on)
    rank_by = check_rank_by(rank_by, budget)
    check_uplift_usable(db, rank_by)  # L (issue 15): refused with the latest uplift fit's verdict
    every_days = parse_days(every, "--every")
    reentry_days = parse_days(reentry, "--reentry") if reentry is not None else every_days
    now = now_ts()
    with immediate(db):
        if db.execute("SELECT 1 FROM campaigns WHERE name = ?", [name]).fetchone():
            raise BadInput(f"a campaign named {name!r} already exists")
        cur = db.execute(
            """INSERT INTO campaigns (name, segment, channel, offer, offer_by_layer, holdout_pct, budget, rank_by,
                   exempt_caps,
                   window_days, conversion_kinds, scheduled_at, every_days, reentry_days, dry_run, salt,
                   created_at, created_by)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)""",
            [name, segment, channel, offer, int(offer_by_layer), holdout, budget, rank_by, int(exempt_caps),
             window_days,
             json.dumps(kinds),
             at, every_days, reentry_days, secrets.token_hex(8), now,
             audit.current_operator()],
        )
        cid = cur.lastrowid
        if at:   # created `draft` (the column's default); a one-off time makes it scheduled at once
            ledger.move_campaign(db, int(cid or 0), CampaignStatus.SCHEDULED)
        for label, (tname, weight) in zip(labels, arms, strict=False):
            db.execute("INSERT INTO campaign_variants (campaign_id, label, template, weight) VALUES (?, ?, ?, ?)",
                       [cid, label, tname, weight])
        if at:
            db.execute("UPDATE campaigns SET next_run_at = ? WHERE id = ?", [at, cid])
        if db["segments"].exists():
            db.execute("UPDATE campaigns SET segment_id = (SELECT id FROM segments WHERE name = ?) WHERE id = ?",
                       [segment, cid])
        audit.record(db, "campaign.create", campaign=name, segment=segment, channel=channel,
                     variants={label: t for label, (t, _) in zip(labels, arms, strict=False)},
                     holdout=holdout, budget=budget, rank_by=rank_by, every_days=every_days,
                     conversion_kinds=kinds)
    return get(db, name)


def check_rank_by(rank_by: str | None, budget: float | None) -> str | None:
    """A valid --rank-by (None stays None); ranking needs a budget to cut at."""
    if rank_by is None or rank_by == "":
        return None

    if rank_by not in RANKABLE:
        raise BadInput(f"--rank-by {rank_by!r}: use one of {', '.join(RANKABLE)}")
    if budget is None:
        raise BadInput(f"--rank-by {rank_by}: give a --budget too (the ranking decides who the budget reaches)")
    return rank_by


def set_targeting(db: sqlite_utils.Database, name: str, *, rank_by: str | None, budget: float | None) -> Campaign:
    """Change a campaign's budget and ranking before it is sent for real (what `plan --rank-by --budget` saves,
    so that the launch reaches the audience the plan showed). Audited."""
    campaign = get(db, name)
    if budget is not None and budget < 0:
        raise BadInput(f"--budget {budget}: must not be negative")
    budget = campaign.budget if budget is None else budget
    rank_by = check_rank_by(rank_by if rank_by is not None else campaign.rank_by, budget)
    check_uplift_usable(db, rank_by)  # L (issue 15): refused with the latest uplift fit's verdict
    if (rank_by, budget) == (campaign.rank_by, campaign.budget):
        return campaign
    with immediate(db):
        status = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign.id]).fetchone()[0]
        real_runs = db.execute("SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND dry_run = 0",
                               [campaign.id]).fetchone()[0]
        if status in ("running", "paused", "cancelled") or real_runs:
            raise BadInput(f"campaign {campaign.name!r} is {status}{' and was sent' if real_runs else ''}: its "
                           "budget and ranking can no longer change; create a new campaign")
        db.execute("UPDATE campaigns SET rank_by = ?, budget = ? WHERE id = ?", [rank_by, budget, campaign.id])
        audit.record(db, "campaign.targeting", campaign=campaign.name, rank_by=rank_by, budget=budget,
                     previous={"rank_by": campaign.rank_by, "budget": campaign.budget})
    return get(db, campaign.name)


def variant_weights(campaign: Campaign) -> str:
    return json.dumps({v.label: v.weight for v in campaign.variants})
