"""Rendering messages for real recipients: one (preview), a batch (campaigns), a whole audience (lint).

The operator must see exactly what each person will receive, what it costs and where the copy breaks before
anything is sent. One code path renders for all three: :class:`Renderer` (template compiled once, contexts built
per batch by console/message_context.py, SMS measured by console/sms_length.py). What a render gives —
RenderedMessage, its masked twin, `classify` for a failure — is console/rendered.py (also exported here).
"""

from __future__ import annotations

import heapq
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NotRequired, TypedDict

import sqlite_utils

from console import offers as offers_mod
from console import recommendations, segments
from console import templates as templates_mod
from console.approved_templates import FIELD_PARAMS, FIELD_PROVIDER, FIELD_TEMPLATE, Approved
from console.channel_names import ADDRESS_COLUMN
from console.config import Config, channel_price
from console.errors import NotFound
from console.links import add_tracking
from console.message_context import ContextBuilder
from console.offers import Offer
from console.personalised_copy import AS_WRITTEN, RefusedCopy
from console.rendered import RenderedMessage as RenderedMessage
from console.rendered import classify
from console.rendered import mask_personal as mask_personal
from console.sms_length import Warning_, compose, measure, sms_settings
from console.templates import Empty, Template, compile_template, locale_of
from console.users import find_user

BATCH = 1000
RECS_MAX_AGE = 86_400   # previews and campaign batches accept recommendations built within a day; lint rebuilds
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")  # a false {% if %} on its own line leaves a blank run



class Renderer:
    """Renders one template for many recipients of one workspace (and one offer / campaign)."""

    def __init__(self, db: sqlite_utils.Database, config: Config, template: Template | str, *,
                 offer: Offer | str | None = None, campaign: Any = None, offer_by_layer: bool | None = None,
                 now: int | None = None, recommendations_max_age: int | None = RECS_MAX_AGE) -> None:
        if isinstance(template, str):
            template = templates_mod.get(db, template)
        if isinstance(offer, str):
            offer = offers_mod.get(db, offer)
        self.db = db
        self.config = config
        self.template = template
        self.channel = template.channel
        self.compiled = compile_template(template, locale_of(config))
        recommendations.refresh(db, max_age=recommendations_max_age)
        # Only the context parts the template reads are built (its variables, found once by jinja2.meta).
        self.builder = ContextBuilder(db, config, self.channel, offer=offer, campaign=campaign,
                                      offer_by_layer=offer_by_layer, now=now, needs=self.compiled.variables)
        self.address_column = ADDRESS_COLUMN[self.channel]
        self.sms = sms_settings(config) if self.channel == "sms" else None
        self.price = channel_price(config, self.channel)
        self.field_parts = [(f"fields[{i}]", f) for i, f in enumerate(template.fields)]
        # PIPL Art. 24: what a person who refused personalised marketing gets (console/personalised_copy.py)
        self.copy = RefusedCopy(db, config, template, self.builder, offer_by_layer=bool(self.builder.layer_offers))

    # -- one recipient ---------------------------------------------------------------------------------------

    def render_row(self, row: dict[str, Any], context: dict[str, Any], offer: Offer | None, *,
                   keep_source: bool = True) -> RenderedMessage:
        msg = RenderedMessage(user_id=row["id"], channel=self.channel, external_id=row["external_id"],
                              to=row[self.address_column] if self.address_column else None, name=row.get("name"),
                              _source=(self, row, context, offer) if keep_source else None)
        refused = bool(row.get("np_refused"))
        msg.copy = self.copy.plan.version(refused)
        msg.copy_reason = self.copy.plan.reason(refused) if refused else None
        compiled, field_parts = self.copy.version(msg.copy, self.compiled, self.field_parts)
        if msg.copy != AS_WRITTEN:
            try:
                context, offer = self.copy.context(row, context, offer, compiled)
            except (NotFound, LookupError) as exc:
                msg.error_kind, msg.error = "undefined", str(exc)
                return msg
        if offer is not None:
            msg.offer = offer.name
            msg.coupon_code = context["offer"]["code"]
            msg.offer_expires = context["offer"]["expires"]
        try:
            texts, empties = compiled.render(context)
        except Exception as exc:  # one recipient's broken data must not stop the batch: it is reported
            msg.error_kind, msg.error = classify(exc)
            return msg
        msg.empties = empties
        warnings: list[str] = []
        body = texts.get("body", "")
        if self.channel == "sms" and self.template.approved is not None:
            s = self.sms
            assert s is not None  # __init__ reads the SMS settings for the sms channel
            self._render_approved(msg, self.template.approved, texts, s)
            warnings.extend(msg.warnings)
        elif self.channel == "sms":
            content = body.strip()
            s = self.sms
            assert s is not None  # __init__ reads the SMS settings for the sms channel
            m = measure(content, s.mode, s.signature, s.opt_out, flagged_words=s.flagged_words)
            msg.content, msg.text = content, compose(content, s.signature, s.opt_out)
            msg.units, msg.parts, msg.encoding = m.units, m.parts, m.encoding
            msg.cost = m.parts * self.price
            warnings.extend(m.warnings)
            if s.signature_note:   # cn mode added the 【】 the signature lacked: said, not silent
                warnings.append(Warning_("signature_brackets", s.signature_note))
        else:
            msg.content = msg.text = body.strip() if self.channel != "email" else _BLANK_RUNS.sub("\n\n", body)
            msg.units, msg.parts = len(msg.text), 1
            msg.cost = self.price
            if self.channel == "email":
                # A subject is one header line: never let a newline from the data through.
                msg.subject = " ".join(texts.get("subject", "").split())
                msg.preheader = " ".join(texts.get("preheader", "").split()) or None
                msg.html = texts.get("html")
                msg.units = len(msg.subject) + len(msg.text)
                if not self.builder.unsubscribe_pattern:
                    warnings.append(Warning_("no_unsubscribe_url",
                                             "no unsubscribe_url in [channels.email]: the unsubscribe link is empty"))
            elif self.channel == "push":
                msg.title = " ".join(texts.get("title", "").split())
                link = texts.get("link", "").strip()
                msg.link = add_tracking(link, self.builder.tracking) if link else None
            for part, name in field_parts:
                msg.fields[name] = texts.get(part, "")
        if self.address_column and not msg.to:
            warnings.append(Warning_("no_address", f"no {self.address_column.replace('_', ' ')} for this user"))
        for e in empties:
            warnings.append(Warning_("empty_field", f"{e.expression} is empty: renders {e.snippet!r}"))
        msg.warnings = warnings
        return msg

    def _render_approved(self, msg: RenderedMessage, approved: Approved, texts: dict[str, str],
                         s: Any) -> None:
        """An approved template: the text the provider renders (【sign_name】 + approved text with the parameters;
        no opt-out added: the approved text carries it), and the code and parameters the transport sends."""
        sign_name = str(self.config.channel(self.channel).get("sign_name") or "") if hasattr(
            self.config, "channel") else ""
        signature = f"【{sign_name}】" if sign_name else s.signature
        content = texts.get("body", "")
        opt_out = s.opt_out.strip()
        m = measure(content, s.mode, signature, "", flagged_words=s.flagged_words,
                    marketing=bool(opt_out) and opt_out not in content)
        msg.content, msg.text = content, compose(content, signature, "")
        msg.units, msg.parts, msg.encoding = m.units, m.parts, m.encoding
        msg.cost = m.parts * self.price
        msg.warnings = list(m.warnings)
        msg.fields = {
            FIELD_PROVIDER: approved.provider,
            FIELD_TEMPLATE: approved.code,
            FIELD_PARAMS: {name: texts.get(f"params.{name}", "") for name in approved.placeholders()},
        }
        if msg.coupon_code and msg.coupon_code not in msg.text:
            # the provider renders only the approved text: a code it does not carry never reaches the customer
            # (a real launch is refused for it: console.campaigns.plan_provider)
            msg.warnings.append(Warning_("coupon_not_in_template", (
                f"coupon code of offer {msg.offer} is not in approved template {approved.code}'s text (no parameter "
                "filled by offer.code): the customer never sees it, and a real launch is refused")))

    # -- many recipients -------------------------------------------------------------------------------------

    def render_ids(self, user_ids: Iterable[int]) -> Iterator[RenderedMessage]:
        """Messages for *user_ids* in the order given, one context query per batch of 1,000."""
        ids = [int(u) for u in user_ids]
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            rows = self.builder.rows_for_ids(chunk)
            done = {row["id"]: self.render_row(row, ctx, offer) for row, ctx, offer in self.builder.contexts(rows)}
            for uid in chunk:
                yield done.get(uid) or RenderedMessage(uid, self.channel, error="user no longer exists",
                                                       error_kind="no_user")

    def render_query(self, members_sql: str, params: Any = ()) -> Iterator[RenderedMessage]:
        """Messages for every member of an audience given as SQL that selects user ids."""
        for rows in self.builder.rows_for_query(members_sql, params):
            for row, ctx, offer in self.builder.contexts(rows):
                yield self.render_row(row, ctx, offer)


def render_for_users(db: sqlite_utils.Database, config: Config, template: Template | str, user_ids: Iterable[int], *,
                     offer: Offer | str | None = None, campaign: Any = None) -> Iterator[RenderedMessage]:
    """Render *template* for *user_ids* (in that order); the campaign's id and name key coupon codes and tracking.

    With no *offer* and a campaign whose ``offer_by_layer`` is true, each user gets their layer's offer.
    A recipient whose message cannot be rendered comes back with ``error`` set, never as an exception.
    """
    return Renderer(db, config, template, offer=offer, campaign=campaign).render_ids(user_ids)


# ---------------------------------------------------------------------------------------------------------
# Preview


class PreviewFacts(TypedDict):
    """preview's facts about the message (`winback preview --json` adds them to the message's keys)."""
    template: str
    version: int
    channel: str
    segments: list[str]        # the user's segments
    currency: str
    mode: NotRequired[str]     # SMS only: the length rules (console/sms_length.py) …
    price: NotRequired[float]  # … and the price of one part


def preview(db: sqlite_utils.Database, config: Config, template: str | Template, user: str, *,
            offer: str | None = None, campaign: Any = None) -> tuple[RenderedMessage, PreviewFacts]:
    """Render *template* for one real user: the message and facts about it (segments, template version)."""
    user_id = int(find_user(db, user, bare_id=True)["id"])
    renderer = Renderer(db, config, template, offer=offer, campaign=campaign, offer_by_layer=offer is None)
    msg = next(renderer.render_ids([user_id]))
    info: PreviewFacts = {"template": renderer.template.name, "version": renderer.template.version,
            "channel": renderer.channel, "segments": segments.segments_of_user(db, user_id),
            "currency": config.currency}
    if renderer.sms:
        info["mode"], info["price"] = renderer.sms.mode, renderer.price
    return msg, info


# ---------------------------------------------------------------------------------------------------------
# Lint over an audience


def _masked_snippet(msg: RenderedMessage, empty: Empty) -> str:
    """What an empty expression renders, quoted from the message rendered with masked values."""
    for e in msg.masked().empties:
        if (e.part, e.expression) == (empty.part, empty.expression):
            return e.snippet
    return msg.mask(empty.snippet) or ""


class LintReport(TypedDict):
    """What `lint` found rendering a template for every member of an audience (`templates lint --json`)."""

    template: str
    version: int
    channel: str
    recipients: int
    rendered: int
    failed: int
    errors: list[dict[str, Any]]        # kind, count, message, examples
    empty_fields: list[dict[str, Any]]  # part, expression, count, renders, examples, summary
    warnings: list[dict[str, Any]]      # code, count, message, examples
    parts_histogram: dict[str, int]     # billed parts → recipients
    total_cost: float
    without_address: int
    currency: str
    longest: list[dict[str, Any]]       # the longest messages: external_id, units, parts, …
    seconds: float
    per_second: int | None
    # PIPL Art. 24: what the template (or the campaign's offer by layer) personalises, and how many recipients
    # who refused personalised marketing get each non-personalised version (fallback / generic)
    personalised: list[str]
    non_personalised: dict[str, int]
    # What the CLI and the Messages screen add: the segment linted over, the providers' content rules.
    segment: NotRequired[str]
    content_warnings: NotRequired[list[dict[str, str]]]
    warning_count: NotRequired[int]


def lint(db: sqlite_utils.Database, config: Config, template: str | Template, members_sql: str, params: Any = (), *,
         offer: Offer | str | None = None, campaign: Any = None, offer_by_layer: bool | None = None,
         examples: int = 3, longest: int = 5, unmask: bool = False,
         progress: Callable[[int, int | None], None] | None = None) -> LintReport:
    """Render for every member of an audience and report what an operator must fix before sending.

    Render errors by kind with example users, expressions that come out empty ("17 recipients render 'Hi ,'"),
    warnings, the parts histogram, total estimated cost and the recipients whose messages are longest. The
    texts quoted in the report (longest messages, what an empty field renders) show the recipients' names and
    addresses masked unless *unmask*.
    """
    started = time.perf_counter()
    if offer_by_layer is None:
        offer_by_layer = offer is None
    renderer = Renderer(db, config, template, offer=offer, campaign=campaign, offer_by_layer=offer_by_layer,
                        recommendations_max_age=None)
    total = db.execute(f"SELECT COUNT(*) FROM ({members_sql})", params).fetchone()[0] if progress else None
    errors: dict[tuple[str | None, str], list] = {}   # (kind, message): classify() always sets both
    empties: dict[tuple[str, str], list] = {}
    warn_counts: Counter[str] = Counter()
    warn_example: dict[str, tuple[str, list[str]]] = {}
    parts: Counter[int] = Counter()
    top: list[tuple[int, int, dict[str, Any]]] = []
    cost = 0.0
    count = rendered = unbillable = 0
    refused: Counter[str] = Counter()
    for msg in renderer.render_query(members_sql, params):
        count += 1
        if msg.copy != AS_WRITTEN:
            refused[msg.copy] += 1
        who = msg.external_id or str(msg.user_id)
        if msg.error is not None:
            entry = errors.setdefault((msg.error_kind, msg.error), [0, []])
            entry[0] += 1
            if len(entry[1]) < examples:
                entry[1].append(who)
            continue
        rendered += 1
        parts[msg.parts] += 1
        if renderer.address_column and not msg.to:
            unbillable += 1         # no phone / email / token: nothing will be sent, nothing billed
        else:
            cost += msg.cost
        seen_slots = set()
        for e in msg.empties:
            key = (e.part, e.expression)
            if key in seen_slots:
                continue
            seen_slots.add(key)
            if key not in empties:
                empties[key] = [0, [], e.snippet if unmask else _masked_snippet(msg, e)]
            entry = empties[key]
            entry[0] += 1
            if len(entry[1]) < examples:
                entry[1].append(who)
        for w in msg.warnings:
            code = getattr(w, "code", "warning")
            if code == "empty_field":
                continue
            warn_counts[code] += 1
            ex = warn_example.setdefault(code, (str(w), []))
            if len(ex[1]) < examples:
                ex[1].append(who)
        item = (msg.units, -msg.user_id)
        if len(top) < longest or item > top[0][:2]:
            shown = msg if unmask else msg.masked()
            text = shown.subject + " | " + shown.text if shown.subject else shown.text
            entry_top = (msg.units, -msg.user_id, {"external_id": who, "units": msg.units, "parts": msg.parts,
                                                   "text": text})
            if len(top) < longest:
                heapq.heappush(top, entry_top)
            else:
                heapq.heapreplace(top, entry_top)
        if progress and count % 5000 == 0:
            progress(count, total)
    seconds = time.perf_counter() - started
    if progress:
        progress(count, total)
    return {
        "template": renderer.template.name,
        "version": renderer.template.version,
        "channel": renderer.channel,
        "recipients": count,
        "rendered": rendered,
        "failed": count - rendered,
        "errors": [
            {"kind": kind, "count": n, "message": message, "examples": ex}
            for (kind, message), (n, ex) in sorted(errors.items(), key=lambda kv: -kv[1][0])
        ],
        "empty_fields": [
            {"part": part, "expression": expr, "count": n, "renders": snippet, "examples": ex,
             "summary": f"{n:,} recipient{'s render' if n != 1 else ' renders'} {snippet!r} ({expr} is empty)"}
            for (part, expr), (n, ex, snippet) in sorted(empties.items(), key=lambda kv: -kv[1][0])
        ],
        "warnings": [
            {"code": code, "count": n, "message": warn_example[code][0], "examples": warn_example[code][1]}
            for code, n in warn_counts.most_common()
        ],
        "parts_histogram": {str(k): v for k, v in sorted(parts.items())},
        "total_cost": round(cost, 4),
        "without_address": unbillable,
        "currency": config.currency,
        "longest": [t[2] for t in sorted(top, reverse=True)],
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds) if seconds > 0 else None,
        "personalised": list(renderer.copy.plan.personalised),
        "non_personalised": dict(sorted(refused.items())),
    }
