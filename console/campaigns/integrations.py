"""The campaign pipeline's calls into the other areas — segments, templates and offers, rendering, policy, stats.

One place for each dependency, so the pipeline reads the same whichever version of a neighbour is installed.
Where a neighbour's module is not there (yet), a thin fallback with the agreed behaviour keeps campaigns usable;
each fallback says so in its docstring.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from console.config import Config
from console.errors import BadInput, NotFound


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


# -- segments (issue 3) -------------------------------------------------------------------------------------------
def check_segment(db: sqlite_utils.Database, name: str) -> None:
    segment_members_sql(db, name)


def segment_members_sql(db: sqlite_utils.Database, name: str) -> tuple[str, list[Any] | dict[str, Any]]:
    """SQL selecting the segment's member user ids (one column), with its parameters.

    Fallback without console.segments: the built-in segment `all` (every user).
    """
    segments = _optional("console.segments")
    if segments is not None and hasattr(segments, "get"):
        try:
            segment = segments.get(db, name)
        except NotFound:
            if name != "all":
                raise
        else:
            sql, params = segments.member_ids_query(db, segment)
            return sql, params
    if name == "all":
        return "SELECT id FROM users", []
    raise NotFound(f"no segment named {name!r} (see `winback segments list`)")


# -- templates and offers (issue 4) -------------------------------------------------------------------------------
def _template_row(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    if not db["templates"].exists():
        return None
    rows = list(db.query("SELECT * FROM templates WHERE name = ?", [name]))
    return rows[0] if rows else None


def get_template(db: sqlite_utils.Database, name: str) -> Any:
    templates = _optional("console.templates")
    if templates is not None and hasattr(templates, "get"):
        return templates.get(db, name)
    row = _template_row(db, name)
    if row is None:
        raise NotFound(f"no template named {name!r} (see `winback templates list`)")
    return row


def _attr(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def check_template(db: sqlite_utils.Database, name: str, channel: str) -> None:
    template = get_template(db, name)
    tchannel = _attr(template, "channel")
    if tchannel and tchannel != channel:
        raise BadInput(f"template {name!r} is for {tchannel}, not {channel}")


def check_offer(db: sqlite_utils.Database, name: str) -> None:
    offers = _optional("console.offers")
    if offers is None:
        raise NotFound(f"no offer named {name!r}")
    offers.get(db, name)


def get_offer(db: sqlite_utils.Database, name: str | None) -> Any:
    if not name:
        return None
    offers = _optional("console.offers")
    return offers.get(db, name) if offers is not None else None


def offer_validity_days(db: sqlite_utils.Database, name: str | None) -> int | None:
    offer = get_offer(db, name)
    return _attr(offer, "validity_days") if offer is not None else None


# -- rendering (issue 4) ------------------------------------------------------------------------------------------
@dataclass
class Rendered:
    """One user's rendered message, whichever renderer produced it."""

    user_id: int
    text: str = ""
    subject: str | None = None
    html: str | None = None
    parts: int = 1
    cost: float | None = None
    coupon_code: str | None = None
    error: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def _normalise(item: Any) -> Rendered:
    text = _attr(item, "text") or _attr(item, "body") or ""
    fields = {k: _attr(item, k) for k in ("title", "link", "preheader", "name", "external_id")
              if _attr(item, k) is not None}
    extra = _attr(item, "fields")
    if isinstance(extra, dict):
        fields.update(extra)
    return Rendered(
        user_id=int(_attr(item, "user_id")),
        text=text,
        subject=_attr(item, "subject"),
        html=_attr(item, "html"),
        parts=int(_attr(item, "parts") or 1),
        cost=_attr(item, "cost"),
        coupon_code=_attr(item, "coupon_code"),
        error=_attr(item, "error"),
        fields=fields,
    )


def render_for_users(db: sqlite_utils.Database, config: Config, template_name: str, user_ids: list[int], *,
                     offer: Any = None, campaign: Any = None) -> dict[int, Rendered]:
    """Render one template for many users: {user_id: Rendered}. A user whose render fails has `error` set."""
    messages = _optional("console.messages")
    if messages is not None and hasattr(messages, "render_for_users"):
        template = get_template(db, template_name)
        out = messages.render_for_users(db, config, template, user_ids, offer=offer, campaign=campaign)
        items = out.values() if isinstance(out, dict) else out
        return {r.user_id: r for r in map(_normalise, items)}
    return _fallback_render(db, config, template_name, user_ids, offer=offer, campaign=campaign)


_ENV: Any = None


def _jinja():
    global _ENV
    if _ENV is None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        _ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        _ENV.globals.clear()
    return _ENV


def _fallback_render(db, config, template_name, user_ids, *, offer=None, campaign=None) -> dict[int, Rendered]:
    """Fallback without console.messages: Jinja2 sandbox over the user's row, SMS signature/opt-out and parts."""
    row = get_template(db, template_name)
    env = _jinja()
    body = env.from_string(_attr(row, "body") or "")
    subject = env.from_string(_attr(row, "subject") or "") if _attr(row, "subject") else None
    html = env.from_string(_attr(row, "html") or "") if _attr(row, "html") else None
    channel = _attr(row, "channel") or _attr(campaign, "channel") or "sms"
    settings = config.channel(channel)
    marks = ",".join("?" for _ in user_ids)
    users = {r["id"]: r for r in db.query(f"SELECT * FROM users WHERE id IN ({marks})", list(user_ids))}
    offer_ctx = {k: _attr(offer, k) for k in ("name", "kind", "threshold", "amount", "validity_days")} if offer else {}
    out: dict[int, Rendered] = {}
    for uid in user_ids:
        user = users.get(uid)
        if user is None:
            out[uid] = Rendered(uid, error="user no longer exists")
            continue
        ctx = {"user": user, "offer": offer_ctx, "brand": config.brand,
               "campaign": {"name": _attr(campaign, "name")}}
        try:
            text = body.render(ctx)
            r = Rendered(uid, text=text, subject=subject.render(ctx) if subject else None,
                         html=html.render(ctx) if html else None,
                         fields={"name": user.get("name"), "external_id": user.get("external_id")})
        except Exception as exc:  # a template error is a per-recipient skip, not a crash
            out[uid] = Rendered(uid, error=f"{type(exc).__name__}: {exc}")
            continue
        if channel == "sms":
            signature = str(settings.get("signature", f"【{config.brand}】"))
            opt_out = str(settings.get("opt_out_text", "拒收请回复R"))
            r.text = f"{signature}{r.text}{opt_out}"
            r.parts = 1 if len(r.text) <= 70 else math.ceil(len(r.text) / 67)
        out[uid] = r
    return out


# -- policy (issue 5) ---------------------------------------------------------------------------------------------
POLICY_TABLE = "policy_batch"


def create_policy_table(db: sqlite_utils.Database) -> None:
    """The temp table the policy engine reads and marks: one row per candidate user.

    reason NULL = may be sent now; otherwise a ledger reason code ('quiet_hours' with not_before = deferred).
    """
    db.execute(f"DROP TABLE IF EXISTS temp.{POLICY_TABLE}")
    db.execute(
        f"CREATE TEMP TABLE {POLICY_TABLE} (user_id INTEGER PRIMARY KEY, send_id INTEGER, address TEXT, "
        "channel TEXT, reason TEXT, not_before INTEGER, cost REAL)"
    )


def evaluate_policy(db: sqlite_utils.Database, config: Config, *, channel: str, exempt_caps: bool,
                    now: int, real: bool) -> None:
    """Mark every row of the policy table with its verdict: consent, suppression, caps, quiet hours.

    Call inside the claim transaction (BEGIN IMMEDIATE) so that caps hold across processes.
    """
    engine = _optional("console.policy.engine")
    if engine is not None and hasattr(engine, "evaluate"):
        engine.evaluate(db, config, table=POLICY_TABLE, channel=channel, exempt_caps=exempt_caps, now=now)
        return
    _fallback_policy(db, config, channel=channel, exempt_caps=exempt_caps, now=now)


def _fallback_policy(db, config, *, channel, exempt_caps, now) -> None:
    """Fallback without console.policy.engine: consent, suppression and caps as set-based SQL; quiet hours."""
    t = POLICY_TABLE
    consent = _optional("console.policy.consent")
    if consent is not None and hasattr(consent, "mark_no_consent"):
        consent.mark_no_consent(db, config, channel, table=t)
    else:
        db.execute(
            f"UPDATE {t} SET reason = 'no_consent' WHERE reason IS NULL AND COALESCE((SELECT c.status FROM consents c "
            f"WHERE c.user_id = {t}.user_id AND c.channel = ? ORDER BY c.at DESC, c.id DESC LIMIT 1), 'withdrawn') "
            "!= 'granted'", [channel])
    if db["suppressions"].exists():
        db.execute(
            f"UPDATE {t} SET reason = 'suppressed' WHERE reason IS NULL AND ("
            f"EXISTS (SELECT 1 FROM suppressions s WHERE s.removed_at IS NULL AND s.user_id = {t}.user_id "
            "AND s.channel IN (:ch, 'all')) OR "
            f"EXISTS (SELECT 1 FROM suppressions s WHERE s.removed_at IS NULL AND s.address = {t}.address "
            "AND s.channel IN (:ch, 'all')))", {"ch": channel})
    if not exempt_caps and db["caps"].exists():
        for rule in db.query("SELECT channel, max_count, window_seconds FROM caps WHERE channel IN (?, 'any')",
                             [channel]):
            db.execute(
                f"UPDATE {t} SET reason = 'capped' WHERE reason IS NULL AND (SELECT COUNT(*) FROM sends s "
                f"WHERE s.user_id = {t}.user_id AND s.counts_for_caps = 1 AND s.claimed_at > :since "
                "AND s.status IN ('claimed','sent','delivered','bounced','unknown') "
                "AND (:any OR s.channel = :ch)) >= :max",
                {"since": now - rule["window_seconds"], "any": int(rule["channel"] == "any"), "ch": channel,
                 "max": rule["max_count"]})
    _fallback_quiet_hours(db, config, now)


def _fallback_quiet_hours(db, config, now) -> None:
    window = _quiet_window(db, config)
    if window is None:
        return
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    start, end = window  # the sending window, minutes after local midnight
    t = POLICY_TABLE
    zones = [r[0] for r in db.execute(
        f"SELECT DISTINCT COALESCE(u.timezone, '') FROM {t} JOIN users u ON u.id = {t}.user_id "
        f"WHERE {t}.reason IS NULL")]
    for zone in zones:
        try:
            tz = ZoneInfo(zone or config.timezone)
        except Exception:
            tz = ZoneInfo(config.timezone)
        local = datetime.fromtimestamp(now, tz)
        minute = local.hour * 60 + local.minute
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if inside:
            continue
        day = local.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)
        if day <= local:
            day += timedelta(days=1)
        db.execute(
            f"UPDATE {t} SET reason = 'quiet_hours', not_before = ? WHERE reason IS NULL AND user_id IN "
            f"(SELECT id FROM users WHERE COALESCE(timezone, '') = ?)", [int(day.timestamp()), zone])


def _quiet_window(db, config) -> tuple[int, int] | None:
    value: Any = None
    if db["settings"].exists():
        row = db.execute("SELECT value FROM settings WHERE key = 'quiet_hours'").fetchone()
        if row:
            try:
                value = json.loads(row[0])
            except ValueError:
                value = None
    if value is None:
        value = config.quiet_hours or None
    if not value or value == "off" or (isinstance(value, dict) and value.get("off")):
        return None

    def minutes(text: str) -> int:
        h, _, m = str(text).partition(":")
        return int(h) * 60 + int(m or 0)

    try:
        return minutes(value["start"]), minutes(value["end"])
    except (KeyError, TypeError, ValueError):
        return None


# -- unsubscribe links and coupon codes (issues 4 and 8) ----------------------------------------------------------
def unsubscribe_url(db: sqlite_utils.Database, config: Config, channel: str, campaign_id: int,
                    user_id: int) -> str | None:
    pattern = config.channel(channel).get("unsubscribe_url")
    if not pattern:
        return None
    inbound = _optional("console.inbound")
    if inbound is not None and hasattr(inbound, "unsubscribe_token"):
        token = inbound.unsubscribe_token(db, user_id, channel, campaign_id)
    else:
        from console import secrets

        token = secrets.keyed_hash(secrets.workspace_secret(db), "unsubscribe", user_id, channel,
                                   campaign_id).hex()[:32]
        token = f"{user_id}.{channel}.{campaign_id}.{token}"
    return str(pattern).replace("{token}", token)


# -- stats (issue 8) ----------------------------------------------------------------------------------------------
def minimum_detectable_lift(treated: int, holdout: int, baseline_rate: float) -> float | None:
    stats = _optional("console.stats")
    if stats is None or treated <= 0 or holdout <= 0:
        return None
    return stats.minimum_detectable_lift(treated, holdout, baseline_rate)
