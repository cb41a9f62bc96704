"""Where the screens get their data: the same console service functions the CLI calls.

Every function here takes a `sqlite_utils.Database` opened by the calling thread worker and returns plain data.
No SQL lives here; where a capability has not landed yet the function answers None, and the screen says so
honestly ("no profiles yet — run winback refresh") instead of showing made-up numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import sqlite_utils

from console.config import Config

if TYPE_CHECKING:   # services load lazily, in the worker that calls them
    from console.audit import AuditEntry
    from console.campaigns.control import Cancelled
    from console.campaigns.finished import Plan
    from console.campaigns.tallies import Tally

    class AuditPage(TypedDict):   # audit_page
        search: str
        rows: list[AuditEntry]    # newest first
        matches: int | None       # entries matching `search` in the whole log; None without a search
        total: int                # entries in the log

    class DeliveriesTally(Tally):   # campaign_tally (declared for the checker only: the services load lazily)
        channel: str
        variants_templates: dict[str, str]    # variant → its template
        rate_history: list[int]               # messages per bucket, oldest first (tallies.rate_history)
        rate_bucket_seconds: int


def running_campaign_names(db: sqlite_utils.Database) -> tuple[str, ...]:
    """Names of the campaigns sending right now (the header's right side)."""
    from console.campaigns import model

    return tuple(c["name"] for c in model.list_campaigns(db) if c.get("status") == "running")


def recent_audit(db: sqlite_utils.Database, limit: int = 50, action: str | None = None) -> list[AuditEntry]:
    from console.audit import recent

    return recent(db, limit=limit, action=action)


def audit_page(db: sqlite_utils.Database, limit: int = 200, search: str = "") -> AuditPage:
    """The newest `limit` audit entries; with `search` only those whose shown text contains it, searched over the
    whole log. `matches`: how many match in all (None without a search), `total`: entries in the log."""
    from console import audit

    rows = audit.recent(db, limit=limit, search=search or None)
    matches = audit.count(db, search=search) if search else None
    return {"search": search, "rows": rows, "matches": matches, "total": audit.count(db)}


def _profiled(db: sqlite_utils.Database) -> bool:
    """True once `winback refresh` has run (profiles, dormancy and layers exist)."""
    from console import profiles

    return profiles.last_refresh(db) is not None


def dormancy_funnel(db: sqlite_utils.Database) -> list[tuple[str, int]] | None:
    """(state, users) from active to never active, or None before the first `winback refresh`."""
    if not _profiled(db):
        return None
    from console.segments import counts

    return [(row["label"], row["users"]) for row in counts.funnel(db)]


def layer_heat(db: sqlite_utils.Database, config: Config | None = None,
               segment: Any = None) -> tuple[list[str], list[str], list[list[int]]] | None:
    """The layer matrix (temperature × loyalty: rows, columns, counts), or None before profiles exist."""
    if not _profiled(db):
        return None
    from console.segments import counts

    matrix = counts.layer_matrix(db, segment, config=config)
    return matrix["rows"], matrix["cols"], matrix["counts"]


def overview(db: sqlite_utils.Database, config: Config | None = None) -> dict[str, Any]:
    """Everything the overview shows, in one read."""
    return {**overview_profiles(db, config), **overview_activity(db)}


# The overview's heat map is about the users to win back: the layer grid of one dormancy state (t toggles).
HEAT_STATES = ("dormant", "lost")


def overview_profiles(db: sqlite_utils.Database, config: Config | None = None, state: str = "dormant") -> dict[str, Any]:
    """The overview's slow-moving half: dormancy funnel and the layer matrix of the `state` users (dormant or
    lost); they change only with a refresh.

    `layer_rules`: per cell of the matrix, the rule of that cell's users (`dormancy = dormant and layer = "warm
    loyal"`), or None where the cell is no layer (a "no visits" row). Enter on a cell lists those users.
    """
    if state not in HEAT_STATES:
        raise ValueError(f"heat map state {state!r}: one of {', '.join(HEAT_STATES)}")
    refreshed = None
    if _profiled(db):
        from console import profiles

        refreshed = profiles.last_refresh(db)
    matrix = layer_heat(db, config, f"dormancy = {state}")
    return {"funnel": dormancy_funnel(db), "layers": matrix, "heat_state": state,
            "layer_rules": layer_rules(config, matrix, state) if matrix else None,
            "profiles_as_of": refreshed["as_of"] if refreshed else None}


def layer_rules(config: Config | None, matrix: tuple[list[str], list[str], list[list[int]]],
                state: str) -> list[list[str | None]]:
    """For each cell of the layer matrix: the rule of the `state` users in that layer, or None (no layer)."""
    from console import layers
    from console.segments import rules

    settings = layers.settings(config or Config())
    rows, columns, _ = matrix
    out: list[list[str | None]] = []
    for i in range(len(rows)):
        line: list[str | None] = []
        for j in range(len(columns)):
            rule = None
            if i < len(settings.temperature_names) and j < len(settings.loyalty_names):
                layer = f"{settings.temperature_names[i]} {settings.loyalty_names[j]}"
                rule = f"dormancy = {state} and layer = {rules._value_text(layer)}"
            line.append(rule)
        out.append(line)
    return out


def layer_members(db: sqlite_utils.Database, rule: str, limit: int = 200) -> dict[str, Any]:
    """The users of one heat map cell (masked, as `segments members`): how many, and the first `limit`."""
    from console import segments

    return {"rule": rule, "count": segments.count(db, rule),
            "rows": segments.members(db, rule, page=1, page_size=limit)}


def overview_activity(db: sqlite_utils.Database, cache: dict | None = None) -> dict[str, Any]:
    """The overview's live half: campaigns with their tallies, and the latest audit entries."""
    return {"campaigns": campaign_rows(db, cache), "recent": recent_audit(db, limit=4)}


# ---- policy (issue 5: console.policy) --------------------------------------------------------------------

def policy_state(db: sqlite_utils.Database, config: Config, search: str = "", limit: int = 200) -> dict[str, Any]:
    """Caps, the sending window, suppressions in force (newest first, filtered by `search`), consent overview."""
    from console.policy import caps, consent, quiet_hours, suppression

    window, source = quiet_hours.window_source(db, config)
    entries = suppression.list_suppressions(db, limit=None if search else limit)
    if search:
        needle = search.lower()
        entries = [e for e in entries
                   if any(needle in str(e.get(k) or "").lower() for k in ("address", "user", "reason", "channel", "note"))]
        entries = entries[:limit]
    return {
        "caps": [{"id": r.id, "channel": r.channel, "max": r.max_count, "window": caps.format_window(r.window_seconds),
                  "label": r.label} for r in caps.list_rules(db)],
        "window": None if window is None else {"sending": window.sending, "quiet": window.quiet},
        "window_source": source,
        "suppressions": entries,
        "consent": consent.consent_overview(db, config),
    }


def set_cap(db: sqlite_utils.Database, text: str) -> dict[str, Any]:
    """'sms 2/7d' → the same as `winback caps set sms 2/7d`."""
    from console.errors import BadInput
    from console.policy import caps

    channel, _, rule = text.strip().partition(" ")
    if not rule.strip():
        raise BadInput(f"cap {text!r}: write it like `sms 2/7d` or `any 1/1d`")
    return caps.set_rule(db, caps.parse_rule(channel, rule.strip()))


def remove_cap(db: sqlite_utils.Database, channel: str, window: str) -> list[str]:
    from console.policy import caps

    return caps.remove_rules(db, channel, window)


def set_quiet_hours(db: sqlite_utils.Database, span: str) -> Any:
    from console.policy import quiet_hours

    return quiet_hours.set_quiet_hours(db, span)


def add_suppression(db: sqlite_utils.Database, config: Config, *, target: str, channel: str, reason: str,
                    note: str) -> dict[str, Any]:
    """Suppress an address, or a user when `target` is a known external id (as `winback suppress add`)."""
    from console.policy import suppression
    from console.users import user_id_by_external_id

    known_user = user_id_by_external_id(db, target) is not None
    return suppression.add_suppression(
        db, config, address=None if known_user else target, user=target if known_user else None,
        channel=channel or "all", reason=reason or "manual", source="console", note=note or None,
    )


def remove_suppression(db: sqlite_utils.Database, config: Config, entry_id: int, why: str) -> list[int]:
    from console.policy import suppression

    return suppression.remove_suppression(db, config, str(entry_id), why=why)


# ---- messages (issue 4: console.templates, preview, lint) -----------------------------------------------

def template_list(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    from console import templates

    return templates.list_templates(db)


def template_source(db: sqlite_utils.Database, name: str) -> str:
    """The TOML text of a saved template, as `winback templates show` would print it."""
    from console import templates

    return templates.to_toml(templates.get(db, name))


def check_template_text(db: sqlite_utils.Database, config: Config, text: str) -> list[str]:
    """Problems with a template's TOML text as typed (parse errors and save-time checks), [] when it would save."""
    from console import templates
    from console.errors import BadInput

    try:
        template = templates.parse_toml(text, origin="editor")
    except BadInput as exc:
        return [str(exc)]
    return [str(p) for p in templates.check(template, config)]


def save_template_text(db: sqlite_utils.Database, config: Config, text: str) -> dict[str, Any]:
    """Save the editor's text as `winback templates add FILE` would (a new version when the name exists)."""
    from console import templates

    saved = templates.save(db, templates.parse_toml(text, origin="editor"), config)
    return {"name": saved.name, "version": saved.version}


def segment_member(db: sqlite_utils.Database, segment: str, index: int) -> tuple[str | None, int]:
    """The external id of the segment's member number `index` (0-based, in id order; wraps) and the member count.

    `segment` is a saved segment's name or rule text; `all` is everyone.
    """
    from console import segments

    total = segments.count(db, segment)
    if not total:
        return None, 0
    rows = segments.members(db, segment, page=index % total + 1, page_size=1)
    return rows[0]["user"], total


def preview_text(db: sqlite_utils.Database, config: Config, text: str, *, segment: str | None = None,
                 user: str | None = None, offer: str | None = None, index: int = 0) -> dict[str, Any]:
    """Render the editor's text for one real user — the same function as `winback preview` — with facts.

    The user is `user` (an external id) or else member number `index` of `segment`, else the first user.
    """
    from console import messages, templates

    template = templates.parse_toml(text, origin="editor")
    total = None
    if not user:
        user, total = segment_member(db, segment or "all", index)
        if user is None:
            return {"empty": f"segment {segment or 'all'!r} has no members"}
    msg, info = messages.preview(db, config, template, user, offer=offer)
    # On screen the recipient's name and address are masked wherever they appear (PRODUCT.md, PIPL Art. 51).
    data = msg.masked().as_dict()
    data.update(info)
    data["member"] = None if total is None else (index % total + 1, total)
    data["segment"] = segment or "all"
    return data


def lint_template(db: sqlite_utils.Database, config: Config, name: str, segment: str,
                  offer: str | None = None) -> dict[str, Any]:
    """`winback templates lint NAME --segment S`: render for every member and report what to fix."""
    from console import messages
    from console.campaigns.integrations import segment_members_sql

    sql, params = segment_members_sql(db, segment)
    report = messages.lint(db, config, name, sql, params, offer=offer)
    report["segment"] = segment
    return report


# ---- campaigns and deliveries (issue 6: console.campaigns) -------------------------------------------------

def segment_names(db: sqlite_utils.Database) -> list[str]:
    """Segments an operator can target (the built-in `all` when none are saved)."""
    from console import segments

    names = [s.name for s in segments.list_segments(db)]
    return names or ["all"]


def campaign_choices(db: sqlite_utils.Database) -> dict[str, Any]:
    """What the creation flow offers: segments, templates by channel, offers."""
    from console import offers, templates

    by_channel: dict[str, list[str]] = {}
    for t in templates.list_templates(db):
        by_channel.setdefault(t["channel"], []).append(t["name"])
    return {
        "segments": segment_names(db),
        "templates": by_channel,
        "offers": [o["name"] for o in offers.list_offers(db) if o["state"] == "active"],  # retired: not for new ones
    }


def create_campaign(db: sqlite_utils.Database, fields: dict[str, Any]) -> dict[str, Any]:
    """`winback campaign create` with the flow's answers; returns the draft as a dict."""
    from console.campaigns import model

    return model.create(db, fields.pop("name"), **fields).as_dict()


def plan_campaign(db: sqlite_utils.Database, config: Config, name: str, real: bool = False) -> Plan:
    """`winback campaign plan`: the funnel with counts and reasons, cost, minimum detectable lift; for a real plan
    also what would stop a real launch (`problems`, as `winback campaign plan --real` reports them)."""
    from console.campaigns.control import launch_problems, launch_warnings
    from console.campaigns.plan import plan

    data = plan(db, config, name, real=real)
    data["problems"] = launch_problems(db, config, name, real=True, connect=False) if real else []
    data["warnings"] = launch_warnings(db, config, name)   # R (issue 13): content rules; the launch asks twice
    return data


# Tallies of campaigns that are not sending change slowly (late receipts only): they are re-read at most this
# often, so a list of many large finished campaigns does not cost a GROUP BY over each ledger every poll.
SETTLED_TALLY_SECONDS = 60.0


def campaign_rows(db: sqlite_utils.Database, cache: dict | None = None) -> list[dict[str, Any]] | None:
    """Every campaign with its tally: name, channel, status, dry_run, planned, done (decided, not cancelled:
    tallies.progress_counts), cancelled, sent, skipped, cost.

    `cache`: a dict the calling screen keeps between polls (its own workspace only); tallies of campaigns that
    are not sending are reused from it for SETTLED_TALLY_SECONDS.
    """
    import time

    from console.campaigns import model, tallies

    rows = []
    for c in model.list_campaigns(db):
        t = None
        if c.get("launched_at"):
            live = c["status"] in ("running", "paused", "scheduled")
            key = (c["id"], c["status"])
            cached = cache.get(key) if cache is not None else None
            if not live and cached and time.monotonic() - cached[0] < SETTLED_TALLY_SECONDS:
                t = cached[1]
            else:
                t = tallies.tally(db, c["name"])
                if not live and cache is not None:
                    cache[key] = (time.monotonic(), t)
        row = dict(c)
        if t:
            done, planned, cancelled = tallies.progress_counts(t)
            row.update(planned=planned, done=done, cancelled=cancelled, sent=t["sent"] + t["delivered"],
                       skipped=t["skipped"], cost=t["cost"], failed=t["failed"])
        else:
            row.update(planned=0, done=0, cancelled=0, sent=0, skipped=0, cost=None, failed=0)
        rows.append(row)
    return rows


RATE_BUCKETS, RATE_BUCKET_SECONDS = 30, 10  # the deliveries sparkline: 5 minutes in 10-second buckets


def campaign_tally(db: sqlite_utils.Database, name: str) -> DeliveriesTally:
    """`winback campaign tally NAME`, plus the campaign's own settings the deliveries screen shows."""
    from console.campaigns import model, tallies

    campaign = model.get(db, name)
    return {
        **tallies.tally(db, name),
        "channel": campaign.channel,
        "variants_templates": {v.label: v.template for v in campaign.variants},
        # Messages per 10 s over the last 5 min, from the ledger: the chart is full the moment a campaign is opened.
        "rate_history": tallies.rate_history(db, name, buckets=RATE_BUCKETS, bucket_seconds=RATE_BUCKET_SECONDS),
        "rate_bucket_seconds": RATE_BUCKET_SECONDS,
    }


def latest_campaign(db: sqlite_utils.Database) -> str | None:
    """The campaign the deliveries screen opens on: a running one, else the most recently created."""
    from console.campaigns import model

    rows = model.list_campaigns(db)
    for row in rows:
        if row["status"] == "running":
            return row["name"]
    launched = [r for r in rows if r.get("launched_at")]
    return (launched or rows or [{"name": None}])[0]["name"]


def launch_campaign(db: sqlite_utils.Database, config: Config, name: str, real: bool = False,
                    accept_warnings: bool = False) -> dict[str, Any]:
    """`winback campaign launch NAME [--real]`, stopping between batches if the console worker is cancelled."""
    from textual.worker import get_current_worker

    from console.campaigns import control
    from screens.launch import worker_notice

    worker = get_current_worker()
    return control.launch(db, config, name, real=real, should_stop=lambda: worker.is_cancelled,
                          accept_warnings=accept_warnings, notice=worker_notice(worker, name)).as_dict()


def pause_campaign(db: sqlite_utils.Database, name: str) -> str:
    from console.campaigns import control

    return control.pause(db, name, reason="operator (console)").status


def resume_campaign(db: sqlite_utils.Database, config: Config, name: str) -> dict[str, Any]:
    """`winback campaign resume NAME`: dispatches again from the ledger (runs until done or paused)."""
    from textual.worker import get_current_worker

    from console.campaigns import control
    from screens.launch import worker_notice

    worker = get_current_worker()
    return control.resume(db, config, name, should_stop=lambda: worker.is_cancelled,
                          notice=worker_notice(worker, name)).as_dict()


def cancel_campaign(db: sqlite_utils.Database, name: str) -> Cancelled:
    from console.campaigns import control

    return control.cancel(db, name, reason="operator (console)")


def campaign_recipients(db: sqlite_utils.Database, name: str, state: str, limit: int = 200,
                        search: str = "") -> dict[str, Any]:
    """`tallies.recipients`: the latest run's recipients in one state, newest change first, masked; with `search`
    only those whose shown text contains it, searched over all of them. `matches`: how many match in all (None
    without a search), `total`: how many are in the state."""
    from console.campaigns import tallies

    rows = tallies.recipients(db, name, state, limit=limit, search=search or None)
    total = tallies.recipient_count(db, name, state)
    matches = tallies.recipient_count(db, name, state, search=search) if search else None
    return {"state": state, "search": search, "rows": rows, "matches": matches, "total": total}


# ---- segments (issue 3: console.segments, console.layers) ------------------------------------------------

def segment_list(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every segment: name, rule text, description, preset (counts come separately: they take longer)."""
    from console import segments

    return [{"name": s.name, "rule": s.rule_text, "description": s.description, "preset": s.preset}
            for s in segments.list_segments(db)]


def segment_counts(db: sqlite_utils.Database, names: list[str]) -> dict[str, int | None]:
    """Members per segment, now; None (shown "—") for a saved rule winback can no longer use, so one such
    segment does not blank every count (`winback segments list` says what is wrong with it)."""
    from console import segments
    from console.errors import BadInput

    counts: dict[str, int | None] = {}
    for name in names:
        try:
            counts[name] = segments.count(db, name)
        except BadInput:
            counts[name] = None
    return counts


def segment_detail(db: sqlite_utils.Database, config: Config, name: str, dimension: str) -> dict[str, Any]:
    """One segment's count, layer matrix and one profile breakdown against the whole base."""
    from console import segments
    from console.segments import counts

    segment = segments.get(db, name)
    matrix = counts.layer_matrix(db, segment, config=config) if _profiled(db) else None
    return {
        "name": name,
        "rule": segment.rule_text,
        "count": segments.count(db, segment),
        "layers": matrix,
        "dimension": dimension,
        "breakdown": segments.breakdown(db, segment, dimension, config=config, limit=8),
    }


def segment_members(db: sqlite_utils.Database, name: str, page: int, unmask: bool = False,
                    order_by: str = "id", search: str = "") -> dict[str, Any]:
    """One page of 50 members in `order_by` (as `segments members --order-by`); unmasked only on request, and then
    the segments service audits it. With `search`, pages of the members whose shown text contains it (`matches`:
    how many in all, `total`: members of the segment; both None without a search)."""
    from console import segments

    rows = segments.members(db, name, page=page, page_size=50, unmask=unmask, order_by=order_by,
                            search=search or None)
    matches = segments.member_count(db, name, search=search, unmask=unmask) if search else None
    total = segments.member_count(db, name) if search else None
    return {"page": page, "unmask": unmask, "order_by": order_by, "search": search, "rows": rows,
            "matches": matches, "total": total}


def rule_count(db: sqlite_utils.Database, rule_text: str) -> dict[str, Any]:
    """How many users a rule being typed matches, or where it fails to parse (column and message)."""
    from console import segments
    from console.errors import BadInput

    try:
        return {"count": segments.count(db, rule_text), "error": None}
    except segments.RuleError as exc:
        return {"count": None, "error": exc.message, "column": exc.column}
    except BadInput as exc:
        return {"count": None, "error": str(exc), "column": None}


def rule_fields() -> list[tuple[str, str]]:
    """(field, what it holds) for the rule editor's help line."""
    from console.segments import fields

    return [(f.name, f.kind_label()) for f in fields.all_fields()]


def save_segment(db: sqlite_utils.Database, name: str, rule_text: str, replace: bool) -> dict[str, Any]:
    """`winback segments create NAME --rule ...` (replace when editing). Audited by the service."""
    from console import segments

    return segments.create(db, name, rule_text, replace=replace).as_dict()


# ---- outcomes (issue 8: console.outcomes) ---------------------------------------------------------------

def campaign_outcomes(db: sqlite_utils.Database, config: Config, name: str) -> dict[str, Any]:
    """`winback outcomes NAME`: reactivation against the holdout (rates, lift, interval, cost per extra user)."""
    from console import outcomes

    return outcomes.campaign_outcomes(db, name, config).to_json()


def why_recipient(db: sqlite_utils.Database, config: Config, user: str, campaign: str) -> str:
    """`winback why USER --campaign C`: the policy decision for one recipient, in words (masked)."""
    from console.policy.explain import explain, explanation_lines

    return "\n".join(explanation_lines(explain(db, config, user, campaign)))


# ---- propensity model (issue 9: console.propensity) -----------------------------------------------------

def model_report(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The latest fit run as `winback model show --json` prints it (None when nothing is fitted), plus the
    calibration merged into one row per bucket for the chart."""
    from console.propensity.report import calibration_table, describe_latest

    report = describe_latest(db)
    if report is not None:
        report["calibration_rows"] = calibration_table(report["calibration"])
    return report
