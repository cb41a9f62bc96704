"""A dry run records no coupon code that the real message could not carry.

Through Aliyun or Tencent the provider sends only the approved text, so a coupon or trial code that no parameter of
the approved template fills never reaches the customer, and a real launch is refused for it
(console/campaigns/plan_provider.py `coupon_problems`). A dry run of such a campaign still renders, costs and
records who it would send to, but records no codes: a code in the ledger says the customer got it, and outcomes
matched by coupon code would count redemptions of codes nobody received. It says why instead (`note`: the launch's notice and its summary's notes).
"""

from __future__ import annotations

import sqlite_utils

from console.campaigns import model
from console.campaigns.plan_provider import coupon_problems
from console.channels import transport_of
from console.config import Config


def withheld(db: sqlite_utils.Database, config: Config, campaign: model.Campaign) -> list[str]:
    """Why a dry run of the campaign records no coupon codes (the refusals a real launch would give), or []."""
    transport = transport_of(config, campaign.channel)
    return coupon_problems(db, campaign, transport)


def note(db: sqlite_utils.Database, config: Config, campaign: model.Campaign) -> str | None:
    """What a dry run of the campaign says when it records no codes (None when it records them)."""
    problems = withheld(db, config, campaign)
    if not problems:
        return None
    return (f"a real launch would be refused: {'; '.join(problems)} — this dry run records no coupon codes "
            "(nobody would get one)")
