"""The variables a template sees, built for a whole batch of recipients with one query per batch.

``user`` (name, region …), ``profile`` (days dormant, last category, last item, order value …), ``offer``
(amount, threshold, concrete expiry, a personal coupon code), ``brand``, ``links`` (unsubscribe, home, deep link
with campaign tracking parameters) and ``recommendations`` (console/recommendations.py). The names are exactly
the allow-list in console/templates/allowed.py (VARIABLES); a test keeps the two in step.

Coupon codes are a keyed hash of the workspace secret, the campaign and the user (console/secrets.py): unique,
unguessable, and recomputable when a redemption comes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypedDict

import sqlite_utils

from console import recommendations
from console.clock import now_ts
from console.config import Config
from console.links import add_tracking
from console.offers import Offer, layer_map
from console.personalisation import refused_sql
from console.privacy import mask_name
from console.secrets import coupon_code, workspace_secret
from console.unsubscribe import token_for

DAY = 86_400

USER_COLUMNS = ("id", "external_id", "name", "phone", "email", "push_token", "region", "gender", "age_band",
                "occupation", "locale", "timezone", "attributes")

# Profile variables and the profiles column (storage/migrations/m002_profiles_segments.py) each is read from.
# None: not stored — days_dormant is counted from dormancy_at when the context is built.
PROFILE_COLUMNS: dict[str, str | None] = {
    "last_seen": "last_event_at",
    "last_order_at": "last_order_at",
    "last_action": "last_action",
    "last_category": "last_category",
    "last_item": "last_object",
    "top_category": "top_category",
    "orders": "orders",
    "spend": "spend",
    "aov": "aov",
    "layer": "layer",
    "dormancy": "dormancy",
    "days_dormant": None,
    "dormancy_at": "dormancy_at",   # last event of the workspace's dormancy metric (not a template variable)
}

_ORDERS = ", ".join(f"'{k}'" for k in recommendations.ORDER_KINDS)
PROFILE_FALLBACKS: dict[str, str] = {
    "last_seen": "(SELECT MAX(e.at) FROM events e WHERE e.user_id = u.id)",
    "last_order_at": f"(SELECT MAX(e.at) FROM events e WHERE e.user_id = u.id AND e.kind IN ({_ORDERS}))",
    "last_action": "(SELECT e.kind FROM events e WHERE e.user_id = u.id ORDER BY e.at DESC, e.id DESC LIMIT 1)",
    "top_category": (
        "(SELECT e.category FROM events e WHERE e.user_id = u.id AND e.category IS NOT NULL "
        "GROUP BY e.category ORDER BY SUM(e.kind IN (" + _ORDERS + ")) DESC, COUNT(*) DESC, MAX(e.at) DESC "
        "LIMIT 1)"),
    "orders": f"(SELECT COUNT(*) FROM events e WHERE e.user_id = u.id AND e.kind IN ({_ORDERS}))",
    "spend": f"(SELECT SUM(e.amount) FROM events e WHERE e.user_id = u.id AND e.kind IN ({_ORDERS}))",
}


def profile_select(only: set[str] | None = None) -> tuple[str, str]:
    """(select list, join clause) for the profile variables (or *only* these), as p_<variable> columns."""
    select = []
    for var, column in PROFILE_COLUMNS.items():
        if only is not None and var not in only:
            continue
        fallback = PROFILE_FALLBACKS.get(var)
        if column and fallback:
            # A user imported since the last refresh has no profile row yet: compute from events instead.
            select.append(f"COALESCE(p.{column}, {fallback}) AS p_{var}")
        elif column:
            select.append(f"p.{column} AS p_{var}")
        else:
            select.append(f"{fallback or 'NULL'} AS p_{var}")
    return ", ".join(select), "LEFT JOIN profiles p ON p.user_id = u.id"


# What a template reads as `user`, `offer` and `links` (docs/templates.md); sample_context fills each with a value.
class UserVars(TypedDict):
    name: str | None
    first_name: str | None
    external_id: str
    region: str | None
    gender: str | None
    age_band: str | None
    occupation: str | None
    locale: str | None
    timezone: str | None
    attributes: dict[str, Any]     # the import's extra columns


class OfferVars(TypedDict):
    name: str
    kind: str                      # coupon | points | trial | none (offers.KINDS)
    amount: float | None
    threshold: float | None
    currency: str
    expires: int | None            # end of the last valid day for this send
    validity_days: int | None
    multiplier: float | None
    trial_days: int | None
    description: str | None
    code: str | None               # this recipient's coupon code (coupon and trial offers)


class LinkVars(TypedDict):
    unsubscribe: str | None        # this recipient's one-click unsubscribe URL, when the workspace has one
    home: str | None
    deep_link: str | None          # home with the campaign's tracking parameters


def _first_name(name: str | None) -> str | None:
    if not name:
        return name
    name = name.strip()
    return name.split()[0] if " " in name else name


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class ContextBuilder:
    """Builds template contexts for many users of one workspace, offer and campaign."""

    def __init__(self, db: sqlite_utils.Database, config: Config, channel: str, *, offer: Offer | None = None,
                 campaign: Any = None, offer_by_layer: bool | None = None, now: int | None = None,
                 needs: frozenset[str] | set[str] | None = None) -> None:
        """*needs*: the top-level variables the template reads (CompiledTemplate.variables); only those parts
        of the context are built, and only their columns queried (None: everything). A template that says
        only "{{ user.name }}" needs no profile, recommendation or unsubscribe-token work per recipient."""
        self.db = db
        self.needs = None if needs is None else frozenset(needs)
        self.config = config
        self.channel = channel
        self.now = now if now is not None else now_ts()
        self.offer = offer
        self.campaign_id = _attr(campaign, "id")
        self.campaign_name = _attr(campaign, "name")
        self.campaign_key = self.campaign_id if self.campaign_id is not None else "preview"
        if offer_by_layer is None:
            offer_by_layer = bool(_attr(campaign, "offer_by_layer")) and offer is None
        self.layer_offers: dict[str, Offer] = {}
        if offer_by_layer:
            self.layer_offers = layer_map(db)
        self.secret = workspace_secret(db)
        settings = config.channel(channel)
        self.unsubscribe_pattern = settings.get("unsubscribe_url")
        ws = config.raw.get("workspace", {}) if isinstance(getattr(config, "raw", None), dict) else {}
        self.home = settings.get("home_url") or settings.get("deep_link") or ws.get("url")
        self.tracking = {"utm_source": "winback", "utm_medium": channel,
                         "utm_campaign": str(self.campaign_name or "preview")}
        self.dormancy_metric = (getattr(config, "dormancy", {}) or {}).get("metric", "order")
        self._offer_cache: dict[int, OfferVars] = {}
        self.lookup = recommendations.Lookup(db)
        self.wants_profile = self.wants("profile")
        self.wants_recommendations = self.wants("recommendations")
        self.wants_user = self.wants("user")
        self.wants_links = self.wants("links")
        # PIPL Art. 24: whether they refused personalised marketing (one primary-key probe; console/messages.py
        # then renders the non-personalised version for them)
        columns = [f"u.{c}" for c in USER_COLUMNS] + [f"{refused_sql('u.id')} AS np_refused"]
        join = ""
        full = self.wants_profile or self.wants_recommendations   # recommendations read the profile too
        if full or self.layer_offers:
            # without profile variables in the template, only the layer (for offers by layer)
            profile_columns, join = profile_select(None if full else {"layer"})
            columns.append(profile_columns)
        if full:
            columns.append(f"{recommendations.last_item_sql()} AS r_last_item")
        if self.wants_recommendations:
            columns.append(f"{recommendations.last_order_item_sql()} AS r_last_bought")
        self.select = f"SELECT {', '.join(columns)} FROM users u {join}"

    def wants(self, variable: str) -> bool:
        """Does the template read this top-level variable?"""
        return self.needs is None or variable in self.needs

    # -- queries ------------------------------------------------------------------------------------------

    def rows_for_ids(self, user_ids: list[int]) -> list[dict[str, Any]]:
        """One query for a batch of user ids (order of the result follows the database, not the list)."""
        cur = self.db.execute(f"{self.select} WHERE u.id IN (SELECT value FROM json_each(?))",
                              [json.dumps([int(u) for u in user_ids])])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def rows_for_query(self, members_sql: str, params: Any = (), batch: int = 2000) -> Iterator[list[dict]]:
        """Rows of every member of an audience given as SQL selecting user ids; yielded in batches."""
        cur = self.db.execute(f"{self.select} WHERE u.id IN ({members_sql}) ORDER BY u.id", params)
        names = [d[0] for d in cur.description]
        while True:
            chunk = cur.fetchmany(batch)
            if not chunk:
                return
            yield [dict(zip(names, row, strict=True)) for row in chunk]

    # -- contexts -----------------------------------------------------------------------------------------

    def contexts(self, rows: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any], Offer | None]]:
        """(row, context, offer) for each row; co-occurrence rows for the batch are loaded in one query."""
        if self.wants_recommendations:
            self.lookup.load_also_bought({r["r_last_bought"] for r in rows if r["r_last_bought"]})
        for row in rows:
            offer = self.offer
            if offer is None and self.layer_offers:
                offer = self.layer_offers.get(row["p_layer"] or "")
            yield row, self.context(row, offer), offer

    def context(self, row: dict[str, Any], offer: Offer | None) -> dict[str, Any]:
        if self.needs is not None and not (self.wants_profile or self.wants_recommendations):
            return self._light_context(row, offer)
        uid = row["id"]
        last_item = last_kind = last_cat = None
        if row["r_last_item"]:
            last_item, last_kind, last_cat = row["r_last_item"].split("\x1f")
        top_category = row["p_top_category"] or last_cat or None
        last_seen = row["p_last_seen"]
        last_order = row["p_last_order_at"]
        days_dormant = row["p_days_dormant"]
        if days_dormant is None:
            anchor = row["p_dormancy_at"] or (last_order if self.dormancy_metric == "order" else last_seen)
            days_dormant = (self.now - anchor) // DAY if anchor else None
        orders, spend = row["p_orders"], row["p_spend"]
        aov = row["p_aov"]
        if aov is None and orders and spend is not None:
            aov = round(spend / orders, 2)
        ctx: dict[str, Any] = {
            "user": self.user_context(row),
            "profile": {
                "days_dormant": days_dormant,
                "days_since_order": (self.now - last_order) // DAY if last_order else None,
                "last_seen": last_seen, "last_order_at": last_order, "last_action": row["p_last_action"],
                "last_category": row["p_last_category"] or last_cat or None,
                "last_item": row["p_last_item"] or last_item, "top_category": top_category,
                "orders": orders, "spend": _number(spend), "aov": _number(aov), "layer": row["p_layer"],
                "dormancy": row["p_dormancy"],
            },
            "brand": self.config.brand,
            "links": self.links(uid),
            "campaign": {"name": self.campaign_name},
            "campaign_tracking": self.tracking,
        }
        if self.wants_recommendations:
            ctx["recommendations"] = self.lookup.for_user(last_item, last_kind, top_category, row["r_last_bought"])
        if offer is not None:
            ctx["offer"] = self.offer_context(offer, uid)
        return ctx

    def _light_context(self, row: dict[str, Any], offer: Offer | None) -> dict[str, Any]:
        """The context of a template that reads neither profile nor recommendations: only the parts it reads
        (and the offer, whose coupon code the ledger records either way)."""
        ctx: dict[str, Any] = {"brand": self.config.brand, "campaign": {"name": self.campaign_name},
                               "campaign_tracking": self.tracking}
        if self.wants_user:
            ctx["user"] = self.user_context(row)
        if self.wants_links:
            ctx["links"] = self.links(row["id"])
        if offer is not None:
            ctx["offer"] = self.offer_context(offer, row["id"])
        return ctx

    def user_context(self, row: dict[str, Any]) -> UserVars:
        attributes = row["attributes"]
        if attributes:
            try:
                attributes = json.loads(attributes)
            except ValueError:
                attributes = {}
        return {
            "name": row["name"], "first_name": _first_name(row["name"]), "external_id": row["external_id"],
            "region": row["region"], "gender": row["gender"], "age_band": row["age_band"],
            "occupation": row["occupation"], "locale": row["locale"], "timezone": row["timezone"],
            "attributes": attributes or {},
        }

    def offer_context(self, offer: Offer, user_id: int) -> OfferVars:
        base = self._offer_cache.get(id(offer))
        if base is None:
            base = {
                "name": offer.name, "kind": offer.kind, "amount": _number(offer.amount),
                "threshold": _number(offer.threshold), "currency": offer.currency or self.config.currency,
                "expires": offer.expires_at(self.now, self.config.timezone), "validity_days": offer.validity_days,
                "multiplier": _number(offer.multiplier), "trial_days": offer.trial_days,
                "description": offer.description, "code": None,
            }
            self._offer_cache[id(offer)] = base
        ctx = base.copy()
        if offer.kind in ("coupon", "trial"):
            ctx["code"] = coupon_code(self.secret, self.campaign_key, user_id)
        return ctx

    def links(self, user_id: int) -> LinkVars:
        unsubscribe = None
        if self.unsubscribe_pattern:
            unsubscribe = str(self.unsubscribe_pattern).replace("{token}", self.unsubscribe_token(user_id))
        home = self.home
        return {"unsubscribe": unsubscribe, "home": home,
                "deep_link": add_tracking(home, self.tracking) if home else None}

    def unsubscribe_token(self, user_id: int) -> str:
        """The token console.inbound verifies, made by console.unsubscribe (campaign 0 in a preview)."""
        return token_for(self.secret, user_id, self.channel, int(self.campaign_id or 0))


def _attr(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


# The values in a context that name the person: masked *before* rendering for what a screen shows, so no filter
# or surrounding text can bring them back (`|upper` made "DAVID WANG", "亲爱的David" escaped a whole-word mask).
PERSONAL_USER_FIELDS = ("name", "first_name")


def masked_context(context: dict[str, Any]) -> dict[str, Any]:
    """A copy of one recipient's context with the person's name masked (David Wang → D**, 王小明 → 王**);
    an empty name stays empty, so lint still reports it. Addresses are not template variables."""
    user = context.get("user")
    if not isinstance(user, dict):
        return context
    masked = dict(user)
    for key in PERSONAL_USER_FIELDS:
        value = masked.get(key)
        if isinstance(value, str) and value:
            masked[key] = mask_name(value)
    return {**context, "user": masked}


def sample_context() -> dict[str, Any]:
    """A made-up recipient with every variable filled: templates are test-rendered with it on save."""
    return {
        "user": {"name": "王小明", "first_name": "王小明", "external_id": "sample", "region": "上海",
                 "gender": "m", "age_band": "25-34", "occupation": "engineer", "locale": "zh_CN",
                 "timezone": "Asia/Shanghai", "attributes": {}},
        "profile": {"days_dormant": 120, "days_since_order": 120, "last_seen": 1_700_000_000,
                    "last_order_at": 1_700_000_000, "last_action": "order", "last_category": "咖啡",
                    "last_item": "挂耳咖啡", "top_category": "咖啡", "orders": 5, "spend": 640, "aov": 128,
                    "layer": "A", "dormancy": "dormant"},
        "offer": {"name": "sample", "kind": "coupon", "amount": 20, "threshold": 100, "currency": "CNY",
                  "expires": 1_700_600_000, "validity_days": 7, "code": "SAMPLE0000", "multiplier": 2,
                  "trial_days": 7, "description": "满100减20"},
        "brand": "品牌",
        "links": {"unsubscribe": "https://brand.example/u/sample", "home": "https://brand.example/",
                  "deep_link": "https://brand.example/?utm_source=winback"},
        "recommendations": {"last_item": "挂耳咖啡", "last_item_kind": "order", "top_category": "咖啡",
                            "best_sellers": ["冷萃咖啡", "咖啡豆"], "also_bought": ["马克杯"]},
        "campaign": {"name": "sample"},
        "campaign_tracking": {"utm_source": "winback"},
    }
