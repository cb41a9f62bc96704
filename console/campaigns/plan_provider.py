"""What a campaign through an approved-template provider (Aliyun, Tencent: console/approved_templates.py) cannot
do, said before launch (DOMAIN.md "Providers": the product should say so before launch, not after a rejection).

- A coupon the template cannot carry: the provider renders only the approved text, so a coupon or trial code that
  no parameter fills never reaches the customer — and outcomes matched by coupon code would count codes nobody
  received. A real launch is refused with the reason (the operator adds a parameter filled by `offer.code`, or
  launches without the offer: coupons issued into the account beforehand need no code in the SMS).
- Numbers outside the mainland: a mainland signature and template do not reach them (international SMS needs its
  own templates and sign-up at the provider). The real plan says how many.
"""

from __future__ import annotations

import re

import sqlite_utils

from console import approved_templates, offers, templates
from console.campaigns import model
from console.errors import NotFound

CODE_KINDS = ("coupon", "trial")   # the offers that give each recipient a code (console/message_context.py)
# A parameter that shows the code: offer.code or offer["code"] anywhere in its expression or template.
_READS_CODE = re.compile(r"\boffer\s*(?:\.\s*code\b|\[\s*['\"]code['\"]\s*\])")


def coded_offers(db: sqlite_utils.Database, campaign: model.Campaign) -> list[str]:
    """The campaign's offers that issue a code: its offer, or with --offer-by-layer the mapped ones."""
    if campaign.offer:
        names = [campaign.offer]
    elif campaign.offer_by_layer:
        names = [r[0] for r in db.execute("SELECT DISTINCT o.name FROM offer_layers m JOIN offers o ON o.id = m.offer_id "
                                            "ORDER BY o.name")]
    else:
        return []
    out = []
    for name in names:
        try:
            if offers.get(db, name).kind in CODE_KINDS:
                out.append(name)
        except NotFound:
            continue   # reported elsewhere
    return out


def carries_code(approved: approved_templates.Approved) -> bool:
    """Whether a parameter of the approved template shows the recipient's coupon code."""
    return any(_READS_CODE.search(approved.params.get(p, "")) for p in approved.placeholders())


def coupon_problems(db: sqlite_utils.Database, campaign: model.Campaign, transport: str) -> list[str]:
    """Why a real launch would issue codes the customer never sees ([] when it would not)."""
    if transport not in approved_templates.PROVIDERS:
        return []
    coded = coded_offers(db, campaign)
    if not coded:
        return []
    problems = []
    for name in dict.fromkeys(v.template for v in campaign.variants):
        try:
            approved = templates.get(db, name).approved
        except NotFound:
            continue
        if approved is not None and not carries_code(approved):
            problems.append(
                f"offer {', '.join(coded)} gives each recipient a coupon code, but approved template {name!r} "
                f"({approved.code}) has no parameter filled by offer.code: the customer would never see the code, "
                "and outcomes by coupon code would count codes nobody received — use an approved template with a "
                "parameter filled by offer.code, or create the campaign without the offer (a coupon issued into "
                "the account beforehand needs no code in the SMS)")
    return problems


def outside_mainland_warning(count: int, transport: str) -> str | None:
    """The real plan's note on recipients outside +86 through a mainland provider (None when there are none)."""
    if not count or transport not in approved_templates.PROVIDERS:
        return None
    who = "recipient has a number" if count == 1 else "recipients have numbers"
    return (f"{count:,} {who} outside mainland China (not +86): a mainland {transport} signature and template "
            f"do not reach {'it' if count == 1 else 'them'}: international SMS needs its own approved template and "
            f"sign-up at {transport}")
