"""The campaign pipeline's calls into the other areas — segments, templates and offers, rendering, policy, stats.

One place for each dependency, so the pipeline reads the same whatever shape its neighbours take.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlite_utils

from console import offers, secrets, segments, templates
from console import unsubscribe as tokens
from console.config import Config
from console.errors import BadInput
from console.messages import RenderedMessage, Renderer
from console.policy import engine


# -- segments (issue 3) -------------------------------------------------------------------------------------------
def check_segment(db: sqlite_utils.Database, name: str) -> None:
    segment_members_sql(db, name)


def segment_members_sql(db: sqlite_utils.Database, name: str) -> tuple[str, list[Any] | dict[str, Any]]:
    """SQL selecting the segment's member user ids (one column), with its parameters ("all": every user)."""
    return segments.member_ids_query_by_name(db, name)


# -- templates and offers (issue 4) -------------------------------------------------------------------------------
def check_template(db: sqlite_utils.Database, name: str, channel: str) -> None:
    template = templates.get(db, name)
    if template.channel != channel:
        raise BadInput(f"template {name!r} is for {template.channel}, not {channel}")


def template_reads_offer(db: sqlite_utils.Database, name: str) -> bool:
    """True when the template reads `offer` (amount, coupon code …): it cannot render without one."""
    return "offer" in templates.compile_template(templates.get(db, name)).variables


def check_offer(db: sqlite_utils.Database, name: str) -> None:
    """An offer a new campaign or program step may use: it exists and is not retired."""
    offers.get_active(db, name)


def get_offer(db: sqlite_utils.Database, name: str | None) -> Any:
    return offers.get(db, name) if name else None


def offer_validity_days(db: sqlite_utils.Database, name: str | None) -> int | None:
    offer = get_offer(db, name)
    return offer.validity_days if offer is not None else None


# -- rendering (issue 4) ------------------------------------------------------------------------------------------
Render = Callable[[list[int]], dict[int, RenderedMessage]]


def renderer(db: sqlite_utils.Database, config: Config, template_name: str, *, offer: Any = None,
             campaign: Any = None) -> Render:
    """A function user_ids → {user_id: RenderedMessage} for one template, compiled once (reuse it for every batch).

    A user whose message cannot be rendered comes back with `error` set (the dispatcher skips them: render_error).
    """
    real = Renderer(db, config, template_name, offer=offer, campaign=campaign)

    def render(user_ids: list[int]) -> dict[int, RenderedMessage]:
        return {r.user_id: r for r in real.render_ids(user_ids)}

    return render


def render_for_users(db: sqlite_utils.Database, config: Config, template_name: str, user_ids: list[int], *,
                     offer: Any = None, campaign: Any = None) -> dict[int, RenderedMessage]:
    """Render one template for many users: {user_id: RenderedMessage}."""
    return renderer(db, config, template_name, offer=offer, campaign=campaign)(user_ids)


# -- policy (issue 5) ---------------------------------------------------------------------------------------------
POLICY_TABLE = "policy_batch"


def create_policy_table(db: sqlite_utils.Database) -> None:
    """The temp table of candidates the policy verdicts are written back to: one row per user.

    reason NULL = may be sent now; otherwise a ledger reason code ('quiet_hours' with not_before = deferred).
    """
    db.execute(f"DROP TABLE IF EXISTS temp.{POLICY_TABLE}")
    db.execute(
        f"CREATE TEMP TABLE {POLICY_TABLE} (user_id INTEGER PRIMARY KEY, send_id INTEGER, address TEXT, "
        "channel TEXT, reason TEXT, not_before INTEGER, cost REAL)"
    )


def evaluate_policy(db: sqlite_utils.Database, config: Config, *, channel: str, exempt_caps: bool,
                    now: int, real: bool) -> None:
    """Mark every undecided row of the policy table with its verdict: consent, suppression, address, caps and
    quiet hours (console.policy.engine, set-based). Budget is the dispatcher's own (see Dispatcher._over_budget):
    it books dry runs and real runs separately, so a rehearsal never eats the real budget.

    Call inside the claim transaction (BEGIN IMMEDIATE) so that caps hold across processes.
    """
    t = POLICY_TABLE
    engine.evaluate(db, config, channel=channel, at=now, exempt=exempt_caps,
                    audience=f"SELECT user_id, address, cost FROM temp.{t} WHERE reason IS NULL ORDER BY send_id")
    r = engine.RESULT_TABLE
    db.execute(f"UPDATE temp.{t} SET reason = p.reason, not_before = p.defer_until FROM temp.{r} p "
               f"WHERE p.user_id = {t}.user_id AND {t}.reason IS NULL AND p.reason IS NOT NULL")


# -- unsubscribe links and coupon codes (issues 4 and 8) ----------------------------------------------------------
def unsubscribe_links(db: sqlite_utils.Database, config: Config, channel: str, campaign_id: int
                      ) -> Callable[[int], str | None]:
    """A function user_id → the one-click unsubscribe URL `winback serve` verifies (None: no unsubscribe_url).

    The token is console.inbound's own (`tokens.token_for`, what `unsubscribe_token` and the renderer call): the
    server that verifies it also makes it, so the link and the check cannot drift apart. The workspace secret is
    read once, not per recipient.
    """
    pattern = config.channel(channel).get("unsubscribe_url")
    if not pattern:
        return lambda user_id: None
    secret = secrets.workspace_secret(db)

    def link(user_id: int) -> str:
        return str(pattern).replace("{token}", tokens.token_for(secret, user_id, channel, campaign_id))

    return link


# -- stats (issue 8) ----------------------------------------------------------------------------------------------
def minimum_detectable_lift(treated: int, holdout: int, baseline_rate: float) -> float | None:
    # imported here, when a plan needs it: dispatcher processes never do (console.stats no longer loads scipy)
    from console import stats

    if treated <= 0 or holdout <= 0:
        return None
    return stats.minimum_detectable_lift(treated, holdout, baseline_rate)
