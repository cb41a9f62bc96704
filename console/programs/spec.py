"""A program file (TOML) → a checked ProgramSpec, or a BadInput naming FILE:LINE and the field.

tomllib gives line numbers only for syntax errors, so the line of a bad value is found in the text itself: the
line where its key is written, at the top level or inside the right `[[steps]]` table (see `KeyLines`).

    name = "ladder"
    entry = "dormancy = dormant"      # a rule, or a segment name
    control = 10                      # percent held out of the whole program, by hash
    exit_on = ["order"]               # event kinds after entry that end it: returned
    reentry = "180d"                  # enter again only this long after leaving (absent: once)
    budget = 5000                     # optional: what the program may spend over all its steps and runs (messages'
                                      #   cost, in the workspace's currency); spent: the program pauses

    [[steps]]
    name = "nudge"
    wait = "0d"                       # after entry; later steps: after the previous step's due time
    channel = "sms"                   # or a list: the first the user has an address and consent for
    template = "nostalgic-sms-zh"     # or { push = "...", sms = "..." }
    offer = "coupon10"                # optional; or offer_by_layer = true
    only = "spend >= 1000"            # optional: the others skip this step (recorded) and go on
    rank_by = "uplift"                # optional, with a budget: at each run the budget buys the due users with the
    budget = 50                       #   highest score per cost (uplift: the latest usable `winback uplift fit`);
                                      #   the others skip this step (recorded `ranked_out`) and go on
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from console.channel_names import CHANNELS
from console.errors import BadInput

TOP_KEYS = ("name", "entry", "control", "exit_on", "reentry", "budget", "steps", "description")
STEP_KEYS = ("name", "wait", "channel", "template", "offer", "offer_by_layer", "only", "rank_by", "budget")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}")
MAX_STEPS = 20


@dataclass
class StepSpec:
    name: str
    wait_days: int
    channels: list[str]
    templates: dict[str, str]          # channel -> template name
    offer: str | None = None
    offer_by_layer: bool = False
    only: str | None = None
    rank_by: str | None = None         # a score (console.propensity.targeting.RANKABLE); needs a budget
    budget: float | None = None        # per run: what this step may spend on its due users at one run-due


@dataclass
class ProgramSpec:
    name: str
    entry: str
    control_pct: float
    exit_on: list[str]
    reentry_days: int | None
    steps: list[StepSpec] = field(default_factory=list)
    source: str = ""
    budget: float | None = None        # over all steps and runs (console/programs/budget.py); None: no ceiling
    file: str = ""


class KeyLines:
    """Where each key is written: (None, key) at the top level, (k, key) in the k-th [[steps]] table."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[int | None, str], int] = {}
        self.step_lines: list[int] = []
        table: int | None = None
        other_table = False
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if line.startswith("[[") and line.split("#")[0].strip().rstrip("]").lstrip("[").strip() == "steps":
                self.step_lines.append(number)
                table, other_table = len(self.step_lines) - 1, False
                continue
            if line.startswith("["):
                other_table = True
                continue
            m = re.match(r"""^("?)([A-Za-z0-9_-]+)\1\s*=""", line)
            if m and not other_table:
                self.lines.setdefault((table, m.group(2)), number)

    def of(self, step: int | None, key: str) -> int:
        """The line of `key` (in step `step`), else of the step's header, else 1."""
        if (step, key) in self.lines:
            return self.lines[(step, key)]
        if step is not None and step < len(self.step_lines):
            return self.step_lines[step]
        return 1


class SpecError(BadInput):
    """A mistake in a program file: FILE:LINE: field: what is wrong."""


def load_file(path: Path) -> tuple[str, str]:
    """(text, shown name) of a program file; BadInput when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read it ({exc})") from None


def parse(text: str, origin: str = "program", db: sqlite_utils.Database | None = None) -> ProgramSpec:
    """Parse and check a program. With `db`, also that its rules, segment, templates and offers exist."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"line (\d+)", str(exc))
        line = where.group(1) if where else "1"
        raise SpecError(f"{origin}:{line}: not valid TOML ({exc})") from None
    lines = KeyLines(text)

    def fail(step: int | None, key: str, message: str) -> SpecError:
        label = key if step is None else f"steps[{step + 1}].{key}"
        return SpecError(f"{origin}:{lines.of(step, key)}: {label}: {message}")

    for key in data:
        if key not in TOP_KEYS:
            raise fail(None, key, f"unknown field; a program has {', '.join(TOP_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise fail(None, "name", "give the program a name of letters, digits, '-', '_' or '.' (up to 60)")
    entry = data.get("entry")
    if not isinstance(entry, str) or not entry.strip():
        raise fail(None, "entry", 'write a rule ("dormancy = dormant") or a segment name')
    control = data.get("control", 0)
    if isinstance(control, bool) or not isinstance(control, int | float) or not 0 <= control < 100:
        raise fail(None, "control", "a percentage from 0 to 99 (e.g. 10)")
    exit_on = data.get("exit_on", ["order"])
    if isinstance(exit_on, str):
        exit_on = [exit_on]
    if not isinstance(exit_on, list) or not exit_on or not all(
            isinstance(k, str) and re.fullmatch(r"[a-z][a-z0-9_.-]{0,39}", k) for k in exit_on):
        raise fail(None, "exit_on", 'a list of event kinds, e.g. ["order"]')
    reentry = data.get("reentry")
    reentry_days = None if reentry is None else _days(reentry, lambda m: fail(None, "reentry", m), positive=True)
    budget = data.get("budget")
    if budget is not None and not is_amount(budget):
        raise fail(None, "budget", f"{budget!r}: an amount of 0 or more in the workspace's currency (what the "
                   "program may spend over all its steps and runs), e.g. budget = 5000")
    steps_raw = data.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise fail(None, "steps", "a program needs at least one [[steps]] table")
    if len(steps_raw) > MAX_STEPS:
        raise fail(None, "steps", f"at most {MAX_STEPS} steps")
    steps: list[StepSpec] = []
    for k, raw in enumerate(steps_raw):
        steps.append(_step(k, raw, fail))
        if steps[-1].name in [s.name for s in steps[:-1]]:
            raise fail(k, "name", f"step name {steps[-1].name!r} is used twice")
    spec = ProgramSpec(name=name, entry=entry.strip(), control_pct=float(control),
                       exit_on=list(dict.fromkeys(exit_on)), reentry_days=reentry_days, steps=steps, source=text,
                       file=origin, budget=None if budget is None else float(budget))
    if db is not None:
        check_names(db, spec, fail)
    return spec


def is_amount(value: Any) -> bool:
    """A budget: a finite number of 0 or more (TOML's true, inf and nan are not money)."""
    return (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
            and value >= 0)


def _step(k: int, raw: Any, fail: Any) -> StepSpec:
    if not isinstance(raw, dict):
        raise fail(k, "steps", "each step is a [[steps]] table")
    for key in raw:
        if key not in STEP_KEYS:
            raise fail(k, key, f"unknown field; a step has {', '.join(STEP_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise fail(k, "name", "give the step a name of letters, digits, '-', '_' or '.'")
    wait = _days(raw.get("wait", "0d"), lambda m: fail(k, "wait", m), positive=False)
    channel = raw.get("channel")
    channels = [channel] if isinstance(channel, str) else channel
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise fail(k, "channel", f'a channel or a list of them: {", ".join(CHANNELS)}')
    for c in channels:
        if c not in CHANNELS:
            raise fail(k, "channel", f"{c!r} is not a channel; choose from {', '.join(CHANNELS)}")
    if len(set(channels)) != len(channels):
        raise fail(k, "channel", "a channel is listed twice")
    template = raw.get("template")
    if isinstance(template, str) and template:
        templates = {c: template for c in channels}
        if len(channels) > 1:
            raise fail(k, "template", "a step with several channels needs a template per channel: "
                       "{ " + ", ".join(f'{c} = "..."' for c in channels) + " }")
    elif isinstance(template, dict):
        missing = [c for c in channels if c not in template]
        extra = [c for c in template if c not in channels]
        if missing:
            raise fail(k, "template", f"no template for channel {missing[0]!r}")
        if extra:
            raise fail(k, "template", f"{extra[0]!r} is not one of this step's channels ({', '.join(channels)})")
        if not all(isinstance(v, str) and v for v in template.values()):
            raise fail(k, "template", "each channel's template is a name in quotes")
        templates = {c: str(template[c]) for c in channels}
    else:
        raise fail(k, "template", 'name the template: template = "NAME" (or one per channel)')
    offer = raw.get("offer")
    if offer is not None and (not isinstance(offer, str) or not offer):
        raise fail(k, "offer", "an offer name in quotes")
    by_layer = raw.get("offer_by_layer", False)
    if not isinstance(by_layer, bool):
        raise fail(k, "offer_by_layer", "true or false")
    if offer and by_layer:
        raise fail(k, "offer_by_layer", "choose offer = NAME or offer_by_layer = true, not both")
    only = raw.get("only")
    if only is not None and (not isinstance(only, str) or not only.strip()):
        raise fail(k, "only", 'a rule, e.g. "spend >= 1000"')
    rank_by, budget = _ranking(k, raw, fail)
    return StepSpec(name=name, wait_days=wait, channels=list(channels), templates=templates, offer=offer,
                    offer_by_layer=by_layer, only=only.strip() if only else None, rank_by=rank_by, budget=budget)


def _ranking(k: int, raw: dict[str, Any], fail: Any) -> tuple[str | None, float | None]:
    """rank_by and budget go together: the ranking decides whom the budget (per run) reaches."""
    from console.propensity.targeting import RANKABLE

    rank_by, budget = raw.get("rank_by"), raw.get("budget")
    if rank_by is not None and rank_by not in RANKABLE:
        raise fail(k, "rank_by", f"{rank_by!r}: rank by one of {', '.join(RANKABLE)}")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0):
        raise fail(k, "budget", "an amount above 0 (what the step may spend at one run), e.g. budget = 50")
    if rank_by is not None and budget is None:
        raise fail(k, "rank_by", "give the step a budget too (per run): the ranking decides whom it reaches")
    if budget is not None and rank_by is None:
        raise fail(k, "budget", 'a step\'s budget goes with rank_by (e.g. rank_by = "uplift"): whom should it buy? '
                   "(the program's own budget goes at the top of the file, before the first [[steps]])")
    return rank_by, None if budget is None else float(budget)


def _days(value: Any, fail: Any, *, positive: bool) -> int:
    if isinstance(value, bool):
        raise fail("write a duration such as 0d, 7d or 2w")
    if isinstance(value, int):
        days = value
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", value.lower())):
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
    else:
        raise fail(f"{value!r}: write a duration such as 0d, 7d or 2w")
    if days < 0 or (positive and days == 0) or days > 3650:
        raise fail(f"{value!r}: {'more than 0 and ' if positive else ''}at most 3650 days")
    return days


def check_names(db: sqlite_utils.Database, spec: ProgramSpec, fail: Any) -> None:
    """The entry rule or segment, each step's `only` rule, templates (for their channel) and offers exist."""
    from console.campaigns import integrations

    try:
        entry_members_sql(db, spec.entry)
    except BadInput as exc:
        raise fail(None, "entry", _one_line(exc)) from None
    for k, step in enumerate(spec.steps):
        if step.rank_by == "uplift" and (why := uplift_verdict(db)) is not None:
            raise fail(k, "rank_by", _one_line(why))
        if step.only:
            try:
                rule_members_sql(db, step.only)
            except BadInput as exc:
                raise fail(k, "only", _one_line(exc)) from None
        for channel, template in step.templates.items():
            try:
                integrations.check_template(db, template, channel)
            except BadInput as exc:
                raise fail(k, "template", _one_line(exc)) from None
            if not step.offer and not step.offer_by_layer and integrations.template_reads_offer(db, template):
                raise fail(k, "template", f"template {template!r} uses an offer: add offer = \"NAME\" or "
                           "offer_by_layer = true")
        if step.offer:
            try:
                integrations.check_offer(db, step.offer)
            except BadInput as exc:
                raise fail(k, "offer", _one_line(exc)) from None


def uplift_verdict(db: sqlite_utils.Database) -> str | None:
    """Why ranking by uplift may not be used now — the latest uplift fit's verdict (console.uplift.targeting) —
    or None. Worded for a program file (the uplift module speaks of the CLI's --rank-by)."""
    from console.uplift.targeting import refusal

    why = refusal(db)
    return None if why is None else why.removeprefix("--rank-by uplift: ")


def _one_line(exc: Exception | str) -> str:
    return " ".join(str(exc).split())


def entry_members_sql(db: sqlite_utils.Database, entry: str) -> tuple[str, Any]:
    """SELECT of the user ids the entry names: a saved segment (or "all"), else a rule."""
    from console import segments

    if entry == segments.EVERYONE or db.execute("SELECT 1 FROM segments WHERE name = ?", [entry]).fetchone():
        return segments.member_ids_query_by_name(db, entry)
    return segments.member_ids_query(db, entry)


def rule_members_sql(db: sqlite_utils.Database, rule: str) -> tuple[str, Any]:
    from console import segments

    return segments.member_ids_query(db, rule)
