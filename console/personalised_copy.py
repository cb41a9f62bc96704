"""Which version of a message a person gets when they refused personalised marketing (PIPL Art. 24).

console/personalisation.py records the refusal; console/templates/personal.py says which template variables are
personalised (picked for the person from their behaviour: recommendations, their inferred top category, their
behaviour layer) and reads a template's `[fallback]`. Here, per renderer (one template, one campaign or preview):

- the template reads nothing personalised and gives no offer by layer → everyone gets it *as written*;
- else a person who refused gets the template's `[fallback]` (its offer in a by-layer campaign) …
- … or, without one, the *generic* default: the template as written with the personalised values replaced by
  values the same for everyone (the shop's best sellers, no "also bought", no top category, no layer) and, in a
  by-layer campaign, no offer.

Whoever did not refuse gets the template as written. The version and the reason travel with the rendered message
(RenderedMessage.copy, copy_reason): preview, lint and `why` show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import sqlite_utils

from console import offers as offers_mod
from console.templates import Locale, Template, compile_template, locale_of
from console.templates.files import fallback_version, part_sources
from console.templates.personal import personalised_reads

if TYPE_CHECKING:
    from console.config import Config
    from console.message_context import ContextBuilder
    from console.offers import Offer
    from console.templates import CompiledTemplate

AS_WRITTEN = "as written"
FALLBACK = "fallback"
GENERIC = "generic"
BY_LAYER = "offer by layer"   # what reads as personalised when the campaign picks each person's offer by layer


class CopyChoice(TypedDict):
    """Which version a person gets and why (`why --json`, preview's facts)."""

    copy: str                  # as written | fallback | generic
    reason: str
    refused: bool              # they refused personalised marketing
    personalised: list[str]    # what in the template (or campaign) is personalised


@dataclass(frozen=True)
class CopyPlan:
    """What a template (in a campaign or a preview) does for those who refused personalised marketing."""

    template: str
    personalised: tuple[str, ...]   # personalised variables read, and BY_LAYER when offers go by layer
    has_fallback: bool
    fallback_offer: str | None

    def version(self, refused: bool) -> str:
        if not refused or not self.personalised:
            return AS_WRITTEN
        return FALLBACK if self.has_fallback else GENERIC

    def choice(self, refused: bool) -> CopyChoice:
        return {"copy": self.version(refused), "reason": self.reason(refused), "refused": refused,
                "personalised": list(self.personalised)}

    def reason(self, refused: bool) -> str:
        what = ", ".join(self.personalised)
        if not refused:
            return ("did not refuse personalised marketing: the template as written"
                    + (f" (personalised: {what})" if what else ""))
        if not self.personalised:
            return ("refused personalised marketing (PIPL Art. 24); the template reads nothing personalised, "
                    "so everyone gets it as written")
        variables = ", ".join(p for p in self.personalised if p != BY_LAYER)
        offer = ""
        if BY_LAYER in self.personalised:
            offer = (f"offer {self.fallback_offer} (its [fallback] offer) instead of their layer's"
                     if self.fallback_offer else "no offer (their layer's is chosen by their behaviour)")
        if self.has_fallback:
            done = "; ".join(x for x in (f"not {variables}" if variables else "", offer) if x)
            return "refused personalised marketing (PIPL Art. 24): the template's [fallback]" + (
                f" — {done}" if done else "")
        done = "; ".join(x for x in (f"{variables} replaced by values the same for everyone" if variables else "",
                                      offer) if x)
        return f"refused personalised marketing (PIPL Art. 24) and the template has no [fallback]: the generic " \
               f"version — {done}"


def plan_for(template: Template, config: Config | None = None, *, by_layer: bool = False) -> CopyPlan:
    """The copy plan of *template*; *by_layer*: the campaign (or preview) gives each person their layer's offer."""
    reads = personalised_reads(part_sources(template), locale_of(config) if config is not None else Locale())
    return CopyPlan(template=template.name, personalised=(*reads, *((BY_LAYER,) if by_layer else ())),
                    has_fallback=template.fallback is not None,
                    fallback_offer=template.fallback.offer if template.fallback is not None else None)


def version_template(template: Template) -> Template:
    """The template whose parts a person who refused renders: the fallback version, or the template itself."""
    return fallback_version(template)


def overall_best_sellers(db: sqlite_utils.Database, n: int = 3) -> list[str]:
    """The shop's best sellers over every category: the same for everyone (the generic version's
    recommendations.best_sellers)."""
    return [r[0] for r in db.execute(
        "SELECT object FROM rec_item_orders GROUP BY object ORDER BY SUM(orders) DESC, object LIMIT ?", [n])]


def neutral_context(context: dict[str, Any], best_sellers: list[str]) -> dict[str, Any]:
    """A copy of one person's context with every personalised value (PERSONALISED) replaced by one the same for
    everyone; facts about them (name, last order, last item …) are kept."""
    out = dict(context)
    rec = out.get("recommendations")
    if isinstance(rec, dict):
        out["recommendations"] = {**rec, "best_sellers": list(best_sellers), "also_bought": [],
                                  "top_category": None}
    profile = out.get("profile")
    if isinstance(profile, dict):
        out["profile"] = {**profile, "top_category": None, "layer": None}
    return out



class RefusedCopy:
    """What a renderer (console/messages.py) needs for those who refused: the plan, the fallback compiled on first
    use, and their context with personalised values (and a by-layer offer) replaced."""

    def __init__(self, db: sqlite_utils.Database, config: Config, template: Template, builder: ContextBuilder, *,
                 offer_by_layer: bool) -> None:
        self.db = db
        self.config = config
        self.template = template
        self.builder = builder
        self.plan = plan_for(template, config, by_layer=offer_by_layer)
        self._fallback: tuple[CompiledTemplate, list[tuple[str, str]]] | None = None
        self._best_sellers: list[str] | None = None
        self._offer: Offer | None = None

    def version(self, copy: str, compiled: CompiledTemplate, field_parts: list[tuple[str, str]]
                ) -> tuple[CompiledTemplate, list[tuple[str, str]]]:
        """(compiled template, field parts) to render *copy* with: the template's own (given) unless *copy* is the
        fallback."""
        if copy != FALLBACK:
            return compiled, field_parts
        if self._fallback is None:
            version = version_template(self.template)
            self._fallback = (compile_template(version, locale_of(self.config)),
                              [(f"fields[{i}]", f) for i, f in enumerate(version.fields)])
        return self._fallback

    def context(self, row: dict[str, Any], context: dict[str, Any], offer: Offer | None,
                compiled: CompiledTemplate) -> tuple[dict[str, Any], Offer | None]:
        """(context, offer) of a person who refused: personalised values replaced by values the same for everyone;
        in a by-layer campaign the [fallback]'s offer, or none. Raises NotFound for a [fallback] offer that does not
        exist, LookupError when the copy needs an offer and a by-layer campaign has none for them."""
        if self._best_sellers is None:
            self._best_sellers = overall_best_sellers(self.db)
        context = neutral_context(context, self._best_sellers)
        if BY_LAYER in self.plan.personalised:
            name = self.plan.fallback_offer
            if name and self._offer is None:
                self._offer = offers_mod.get(self.db, name)
            offer = self._offer if name else None
            context.pop("offer", None)
            if offer is not None:
                context["offer"] = self.builder.offer_context(offer, row["id"])
            elif "offer" in compiled.variables:
                raise LookupError("refused personalised marketing: their layer's offer is chosen by their behaviour "
                                  "and the template's [fallback] names no offer (add offer = \"NAME\" to it, or "
                                  "give the campaign one offer for everyone)")
        return context, offer


class VariantCopy(TypedDict):
    label: str
    template: str
    copy: str                  # as written | fallback | generic
    reason: str


class CampaignCopy(TypedDict):
    """`why USER --campaign C`: whether they refused personalised marketing and the copy each variant gives them."""

    refused: bool
    refused_at: int | None
    variants: list[VariantCopy]


def copy_for_campaign(db: sqlite_utils.Database, config: Config, campaign_id: int, user_id: int) -> CampaignCopy:
    """Which version of each of the campaign's templates the user gets (as its renderer decides: by-layer offers
    count as personalised when the campaign has no one offer and layers have offers)."""
    from console import templates
    from console.errors import NotFound
    from console.personalisation import choice_of

    refusal = choice_of(db, user_id)
    offer, offer_by_layer = db.execute("SELECT offer, offer_by_layer FROM campaigns WHERE id = ?",
                                       [campaign_id]).fetchone()
    by_layer = bool(offer_by_layer) and offer is None and bool(offers_mod.layer_map(db))
    variants: list[VariantCopy] = []
    for label, name in db.execute("SELECT label, template FROM campaign_variants WHERE campaign_id = ? "
                                  "ORDER BY label", [campaign_id]):
        try:
            plan = plan_for(templates.get(db, name), config, by_layer=by_layer)
        except NotFound:
            continue
        variants.append({"label": label, "template": name, "copy": plan.version(refusal is not None),
                         "reason": plan.reason(refusal is not None)})
    return {"refused": refusal is not None, "refused_at": refusal["at"] if refusal else None, "variants": variants}
