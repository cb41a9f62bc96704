"""Programs in the database: add (with one internal campaign per step and channel), read, and status changes.

Status: draft → running ⇄ paused → stopped (final). A program runs in one mode at a time: dry run (the default)
or real; entries are kept per mode, so a rehearsal never stands in for a real ladder. Every change is audited.

Each (step, channel) is backed by an internal campaign named `program:NAME/STEP/CHANNEL` (campaigns.program_id
and program_step link it): every program run that finds users due for a step freezes a new *run* of that campaign
with exactly those users as its audience, so the step's messages go through the one send pipeline and ledger.
"""

from __future__ import annotations

import json
import secrets
import tomllib
from dataclasses import dataclass, field
from typing import TypedDict, cast

import sqlite_utils

from console import audit
from console.campaigns import ledger
from console.campaigns.ledger import CampaignStatus
from console.campaigns.pacing import program_spent
from console.clock import now_ts
from console.errors import BadInput, NotFound
from console.programs.spec import ProgramSpec, uplift_verdict
from console.simulated import SIMULATED_BY as SIMULATED_BY  # re-exported: funnel, tests
from storage.tx import immediate

STATUSES = ("draft", "running", "paused", "stopped")
PREFIX = "program:"
# SIMULATED_BY: the author of the demo's made-up history (fixtures/demo_program.py; as the simulated campaign's,
# m018; defined below both, console.simulated): a program added by it is `simulated` — while it
# is a dry run, every view shows its mode as "simulated" and says so.


@dataclass
class Step:
    index: int
    name: str
    wait_days: int
    channels: list[str]
    templates: dict[str, str]
    offer: str | None
    offer_by_layer: bool
    only: str | None
    campaigns: dict[str, int] = field(default_factory=dict)   # channel -> internal campaign id
    rank_by: str | None = None     # with budget (per run): console/programs/ranking.py
    budget: float | None = None


class StepDict(TypedDict):   # Step as a dict (Program.as_dict)
    index: int
    name: str
    wait_days: int
    channels: list[str]
    templates: dict[str, str]
    offer: str | None
    offer_by_layer: bool
    only: str | None
    campaigns: dict[str, int]
    rank_by: str | None
    budget: float | None


class ProgramDict(TypedDict):
    """Program.as_dict: `winback program show --json`, and the console's program page."""
    id: int
    name: str
    entry: str
    control_pct: float
    exit_on: list[str]
    reentry_days: int | None
    status: str
    dry_run: bool
    salt: str
    created_at: int
    started_at: int | None
    stopped_at: int | None
    last_run_at: int | None
    file: str | None
    steps: list[StepDict]
    budget: float | None
    pause_reason: str | None
    simulated: bool


@dataclass
class Program:
    id: int
    name: str
    entry: str
    control_pct: float
    exit_on: list[str]
    reentry_days: int | None
    status: str
    dry_run: bool
    salt: str
    created_at: int
    started_at: int | None
    stopped_at: int | None
    last_run_at: int | None
    file: str | None
    steps: list[Step] = field(default_factory=list)
    budget: float | None = None        # over all steps and runs, per mode (console/programs/budget.py)
    pause_reason: str | None = None    # why winback paused it (its budget was spent); None: an operator's pause
    # the demo's simulated dry run (created by SIMULATED_BY, still a dry run): its history is made up. Once started
    # for real it is real, never "simulated" (the made-up weeks are a dry run's rows, not its figures)
    simulated: bool = False

    def as_dict(self) -> ProgramDict:
        from dataclasses import asdict

        return cast(ProgramDict, asdict(self))   # asdict: the fields above (and Step's), in their order


def campaign_name(program: str, step: str, channel: str) -> str:
    return f"{PREFIX}{program}/{step}/{channel}"


def add(db: sqlite_utils.Database, spec: ProgramSpec, *, replace: bool = False) -> Program:
    """Store a checked program (draft) with its steps and internal campaigns, in one transaction. Audited.

    `replace`: a program of that name that was never started is replaced; a started one never is (its entries
    and ledger rows belong to the steps they were sent under)."""
    now = now_ts()
    with immediate(db):
        row = db.execute("SELECT id, status FROM programs WHERE name = ?", [spec.name]).fetchone()
        if row is not None:
            if not replace:
                raise BadInput(f"a program named {spec.name!r} already exists (--replace replaces a draft)")
            if row[1] != "draft":
                raise BadInput(f"program {spec.name!r} is {row[1]}: a started program cannot be replaced; "
                               "add it under a new name")
            _drop_draft(db, int(row[0]))
        taken = db.execute(
            "SELECT name FROM campaigns WHERE name IN (SELECT value FROM json_each(?))",
            [json.dumps([campaign_name(spec.name, s.name, c) for s in spec.steps for c in s.channels])]).fetchone()
        if taken:
            raise BadInput(f"a campaign named {taken[0]!r} already exists; rename the program or that campaign")
        cur = db.execute(
            "INSERT INTO programs (name, source, file, entry, control_pct, exit_on, reentry_days, salt, created_at, "
            "created_by, budget) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [spec.name, spec.source, spec.file, spec.entry, spec.control_pct, json.dumps(spec.exit_on),
             spec.reentry_days, secrets.token_hex(8), now, audit.current_operator(), spec.budget])
        pid = int(cur.lastrowid or 0)
        for k, step in enumerate(spec.steps):
            db.execute(
                "INSERT INTO program_steps (program_id, step, name, wait_days, channels, templates, offer, "
                "offer_by_layer, only_rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [pid, k, step.name, step.wait_days, json.dumps(step.channels), json.dumps(step.templates),
                 step.offer, int(step.offer_by_layer), step.only])
            for channel in step.channels:
                _add_step_campaign(db, spec, pid, k, channel, now)
        audit.record(db, "program.add", program=spec.name, file=spec.file, entry=spec.entry,
                     control=spec.control_pct, exit_on=spec.exit_on, reentry_days=spec.reentry_days,
                     budget=spec.budget, steps=[s.name for s in spec.steps])
    return get(db, spec.name)


def _add_step_campaign(db: sqlite_utils.Database, spec: ProgramSpec, pid: int, k: int, channel: str,
                       now: int) -> None:
    """The internal campaign of one (step, channel): created `draft` (the column default), holdout 0 (the
    program's control group is decided at entry, and its rows are frozen `holdout` by the program)."""
    step = spec.steps[k]
    cur = db.execute(
        "INSERT INTO campaigns (name, segment, channel, offer, offer_by_layer, holdout_pct, window_days, "
        "conversion_kinds, dry_run, salt, created_at, created_by, program_id, program_step) "
        "VALUES (?, ?, ?, ?, ?, 0, ?, ?, 1, ?, ?, ?, ?, ?)",
        [campaign_name(spec.name, step.name, channel), f"{PREFIX}{spec.name}", channel, step.offer,
         int(step.offer_by_layer), max(14, sum(s.wait_days for s in spec.steps)), json.dumps(spec.exit_on),
         secrets.token_hex(8), now, audit.current_operator(), pid, k])
    db.execute("INSERT INTO campaign_variants (campaign_id, label, template, weight) VALUES (?, 'A', ?, 1)",
               [cur.lastrowid, step.templates[channel]])


def _drop_draft(db: sqlite_utils.Database, pid: int) -> None:
    ids = [r[0] for r in db.execute("SELECT id FROM campaigns WHERE program_id = ?", [pid])]
    if any(db.execute("SELECT 1 FROM campaign_runs WHERE campaign_id = ?", [i]).fetchone() for i in ids):
        raise BadInput("this program's steps have runs already: add it under a new name")
    for cid in ids:
        db.execute("DELETE FROM campaign_variants WHERE campaign_id = ?", [cid])
        db.execute("DELETE FROM campaigns WHERE id = ?", [cid])
    db.execute("DELETE FROM program_steps WHERE program_id = ?", [pid])
    db.execute("DELETE FROM program_entries WHERE program_id = ?", [pid])
    db.execute("DELETE FROM programs WHERE id = ?", [pid])


def get(db: sqlite_utils.Database, name: str) -> Program:
    rows = list(db.query("SELECT * FROM programs WHERE name = ?", [name]))
    if not rows:
        raise NotFound(f"no program named {name!r} (see `winback program list`)")
    r = rows[0]
    program = Program(id=r["id"], name=r["name"], entry=r["entry"], control_pct=r["control_pct"],
                      exit_on=json.loads(r["exit_on"]), reentry_days=r["reentry_days"], status=r["status"],
                      dry_run=bool(r["dry_run"]), salt=r["salt"], created_at=r["created_at"],
                      started_at=r["started_at"], stopped_at=r["stopped_at"], last_run_at=r["last_run_at"],
                      file=r["file"], budget=r["budget"], pause_reason=r["pause_reason"],
                      simulated=r["created_by"] == SIMULATED_BY and bool(r["dry_run"]))
    ranking = _ranking(r["source"])
    for s in db.query("SELECT * FROM program_steps WHERE program_id = ? ORDER BY step", [program.id]):
        step = Step(index=s["step"], name=s["name"], wait_days=s["wait_days"], channels=json.loads(s["channels"]),
                    templates=json.loads(s["templates"]), offer=s["offer"], offer_by_layer=bool(s["offer_by_layer"]),
                    only=s["only_rule"], rank_by=ranking.get(s["step"], (None, None))[0],
                    budget=ranking.get(s["step"], (None, None))[1])
        step.campaigns = {c["channel"]: c["id"] for c in db.query(
            "SELECT id, channel FROM campaigns WHERE program_id = ? AND program_step = ?", [program.id, step.index])}
        program.steps.append(step)
    return program


def _ranking(text: str | None) -> dict[int, tuple[str | None, float | None]]:
    """Each step's rank_by and budget, read from the program file as it was added and checked (they have no
    column of their own in program_steps; the file is the program's definition and never changes once started)."""
    try:
        steps = tomllib.loads(text or "").get("steps", [])
    except tomllib.TOMLDecodeError:
        return {}
    return {k: (raw.get("rank_by"), float(raw["budget"]) if raw.get("budget") is not None else None)
            for k, raw in enumerate(steps) if isinstance(raw, dict) and raw.get("rank_by")}


def source(db: sqlite_utils.Database, name: str) -> str:
    """The program file as it was added (the console's editor opens it)."""
    row = db.execute("SELECT source FROM programs WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFound(f"no program named {name!r} (see `winback program list`)")
    return str(row[0] or "")


class ProgramRow(TypedDict):
    """One program in `list_programs`, its entries counted in its current mode."""

    id: int
    name: str
    status: str
    dry_run: int               # 1 | 0, as stored
    simulated: int             # 1 | 0: the demo's made-up program (SIMULATED_BY) while a dry run (as Program's)
    entry: str                 # the entry rule
    control_pct: float
    steps: int
    entered: int
    active: int
    returned: int
    last_run_at: int | None


def list_programs(db: sqlite_utils.Database) -> list[ProgramRow]:
    return cast(list[ProgramRow], list(db.query(
        """SELECT p.id, p.name, p.status, p.dry_run, p.dry_run AND p.created_by = :simulated AS simulated, p.entry,
                  p.control_pct,
                  (SELECT COUNT(*) FROM program_steps s WHERE s.program_id = p.id) AS steps,
                  (SELECT COUNT(*) FROM program_entries e WHERE e.program_id = p.id AND e.dry_run = p.dry_run)
                      AS entered,
                  (SELECT COUNT(*) FROM program_entries e WHERE e.program_id = p.id AND e.dry_run = p.dry_run
                      AND e.state = 'active') AS active,
                  (SELECT COUNT(*) FROM program_entries e WHERE e.program_id = p.id AND e.dry_run = p.dry_run
                      AND e.state = 'returned') AS returned,
                  p.last_run_at
           FROM programs p ORDER BY p.id""", {"simulated": SIMULATED_BY})))


def start(db: sqlite_utils.Database, name: str, *, real: bool) -> Program:
    """draft → running in the given mode; a running or paused dry-run program may be started for real (its dry-run
    entries are closed `stopped`: the real ladder starts from the entry rule, not from the rehearsal)."""
    program = get(db, name)
    now = now_ts()
    for step in program.steps:   # the uplift model may have lost its verdict since the program was added
        if step.rank_by == "uplift" and (why := uplift_verdict(db)) is not None:
            raise BadInput(f"program {name!r} step {step.name}: rank_by uplift: {why}")
    with immediate(db):
        status = db.execute("SELECT status, dry_run FROM programs WHERE id = ?", [program.id]).fetchone()
        if status[0] == "stopped":
            raise BadInput(f"program {name!r} was stopped; add it again under a new name")
        if status[0] in ("running", "paused") and (not real or not status[1]):
            raise BadInput(f"program {name!r} is already {status[0]}"
                           + (" (for real)" if not status[1] else "") + ": `winback program run-due` advances it"
                           + ("; `resume` continues it" if status[0] == "paused" else ""))
        closed = 0
        if status[0] != "draft":   # dry → real: the rehearsal's entries and unsent dry-run rows end here
            closed = _close_entries(db, program.id, dry_run=True, now=now, reason="dry run ended")
            for step in program.steps:
                for cid in step.campaigns.values():
                    ledger.cancel_open(db, cid, now)
        db.execute("UPDATE programs SET status = 'running', dry_run = ?, started_at = ?, pause_reason = NULL "
                   "WHERE id = ?",
                   [int(not real), now, program.id])
        for step in program.steps:
            for cid in step.campaigns.values():
                ledger.move_campaign(db, cid, CampaignStatus.RUNNING, when={CampaignStatus.PAUSED})
        audit.record(db, "program.start", program=name, real=real, dry_run_entries_closed=closed)
    return get(db, name)


def _close_entries(db: sqlite_utils.Database, pid: int, *, dry_run: bool, now: int, reason: str) -> int:
    return int(db.execute(
        "UPDATE program_entries SET state = 'stopped', left_at = ?, left_reason = ?, next_due_at = NULL "
        "WHERE program_id = ? AND dry_run = ? AND state = 'active'", [now, reason, pid, int(dry_run)]).rowcount)


def pause(db: sqlite_utils.Database, name: str, *, reason: str | None = None) -> Program:
    """running → paused: no entries, exits or steps until resumed; its step campaigns stop claiming too.
    `reason`: why winback paused it itself (its budget was spent), shown by `program show` and the console."""
    return _move(db, name, "paused", ("running",), CampaignStatus.PAUSED, {CampaignStatus.RUNNING}, reason=reason)


def resume(db: sqlite_utils.Database, name: str) -> Program:
    """paused → running. Steps that fell due meanwhile are taken at the next run (one step per user per run).
    A program whose budget has no room left stays paused: resuming it would only record its due steps
    `over_budget` (`winback program budget NAME AMOUNT` raises it first)."""
    program = get(db, name)
    if program.budget is not None and program.status == "paused":
        spent = program_spent(db, program.id, dry_run=program.dry_run)
        if program.budget - spent <= 1e-9:
            raise BadInput(f"program {name!r} has spent its budget ({spent:,.2f} of {program.budget:,.2f}): raise "
                           f"it first — `winback program budget {name} AMOUNT` — then resume")
    return _move(db, name, "running", ("paused",), CampaignStatus.RUNNING, {CampaignStatus.PAUSED})


def _move(db: sqlite_utils.Database, name: str, new: str, allowed: tuple[str, ...], campaigns_to: CampaignStatus,
          campaigns_from: set[CampaignStatus], *, reason: str | None = None) -> Program:
    program = get(db, name)
    with immediate(db):
        status = db.execute("SELECT status FROM programs WHERE id = ?", [program.id]).fetchone()[0]
        if status not in allowed:
            raise BadInput(f"program {name!r} is {status}; cannot {'pause' if new == 'paused' else 'resume'} it")
        db.execute("UPDATE programs SET status = ?, pause_reason = ? WHERE id = ?", [new, reason, program.id])
        for step in program.steps:
            for cid in step.campaigns.values():
                ledger.move_campaign(db, cid, campaigns_to, when=campaigns_from,
                                     **({"pause_reason": f"program {name} paused" + (f": {reason}" if reason else "")}
                                        if new == "paused" else {}))
        audit.record(db, f"program.{'pause' if new == 'paused' else 'resume'}", program=name,
                     **({"reason": reason} if reason else {}))
    return get(db, name)


class Stopped(TypedDict):
    program: str
    entries_closed: int
    messages_cancelled: int


def stop(db: sqlite_utils.Database, name: str) -> Stopped:
    """Final: active entries close `stopped`, step messages not yet handed to a provider are cancelled."""
    program = get(db, name)
    now = now_ts()
    with immediate(db):
        status = db.execute("SELECT status, dry_run FROM programs WHERE id = ?", [program.id]).fetchone()
        if status[0] == "stopped":
            raise BadInput(f"program {name!r} is already stopped")
        closed = _close_entries(db, program.id, dry_run=bool(status[1]), now=now, reason="program stopped")
        cancelled = 0
        for step in program.steps:
            for cid in step.campaigns.values():
                cancelled += ledger.cancel_open(db, cid, now)
                ledger.move_campaign(db, cid, CampaignStatus.CANCELLED,
                                     when={CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED,
                                           CampaignStatus.SCHEDULED}, completed_at=now)
        db.execute("UPDATE programs SET status = 'stopped', stopped_at = ? WHERE id = ?", [now, program.id])
        audit.record(db, "program.stop", program=name, entries_closed=closed, messages_cancelled=cancelled)
    return {"program": name, "entries_closed": closed, "messages_cancelled": cancelled}
