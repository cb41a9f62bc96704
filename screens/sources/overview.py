"""The Overview's, the header's, the Audit screen's and the Model screen's data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import sqlite_utils

from console.config import Config
from screens.sources.campaigns import campaign_rows

if TYPE_CHECKING:   # services load lazily, in the worker that calls them
    from console.audit import AuditEntry
    from console.propensity.report import ModelReport
    from console.segments.member_list import Member
    from screens.sources.campaigns import CampaignListRow

    class ModelPage(ModelReport):   # model_report
        calibration_rows: list[dict[str, Any]]   # report.calibration_table: a column per model's label

    class AuditPage(TypedDict):   # audit_page
        search: str
        rows: list[AuditEntry]    # newest first
        matches: int | None       # entries matching `search` in the whole log; None without a search
        total: int                # entries in the log

    class OverviewProfiles(TypedDict):   # overview_profiles: changes only with a refresh
        funnel: list[tuple[str, int]] | None                          # None before the first refresh
        layers: tuple[list[str], list[str], list[list[int]]] | None   # rows, columns, counts
        heat_state: str                                               # dormant | lost
        layer_rules: list[list[str | None]] | None
        profiles_as_of: int | None
        has_users: bool                                               # False: nothing imported yet

    class OverviewActivity(TypedDict):   # overview_activity: live
        campaigns: list[CampaignListRow] | None   # campaign_rows
        recent: list[AuditEntry]

    class Overview(OverviewProfiles, OverviewActivity):
        pass

    class LayerMembers(TypedDict):   # layer_members
        rule: str
        order_by: str                 # as `segments members --order-by` (screens/member_order.py)
        count: int
        rows: list[Member]            # console.segments.members, masked


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


def profiled(db: sqlite_utils.Database) -> bool:
    """True once `winback refresh` has run (profiles, dormancy and layers exist)."""
    from console import profiles

    return profiles.last_refresh(db) is not None


def dormancy_funnel(db: sqlite_utils.Database) -> list[tuple[str, int]] | None:
    """(state, users) from active to never active, or None before the first `winback refresh`."""
    if not profiled(db):
        return None
    from console.segments import counts

    return [(row["label"], row["users"]) for row in counts.funnel(db)]


def layer_heat(db: sqlite_utils.Database, config: Config | None = None,
               segment: Any = None) -> tuple[list[str], list[str], list[list[int]]] | None:
    """The layer matrix (temperature × loyalty: rows, columns, counts), or None before profiles exist."""
    if not profiled(db):
        return None
    from console.segments import counts

    matrix = counts.layer_matrix(db, segment, config=config)
    return matrix["rows"], matrix["cols"], matrix["counts"]


def overview(db: sqlite_utils.Database, config: Config | None = None) -> Overview:
    """Everything the overview shows, in one read."""
    return {**overview_profiles(db, config), **overview_activity(db)}


# The overview's heat map is about the users to win back: the layer grid of one dormancy state (t toggles).
HEAT_STATES = ("dormant", "lost")


def overview_profiles(db: sqlite_utils.Database, config: Config | None = None, state: str = "dormant"
                      ) -> OverviewProfiles:
    """The overview's slow-moving half: dormancy funnel and the layer matrix of the `state` users (dormant or
    lost); they change only with a refresh.

    `layer_rules`: per cell of the matrix, the rule of that cell's users (`dormancy = dormant and layer = "warm
    loyal"`), or None where the cell is no layer (a "no visits" row). Enter on a cell lists those users.
    """
    if state not in HEAT_STATES:
        raise ValueError(f"heat map state {state!r}: one of {', '.join(HEAT_STATES)}")
    refreshed = None
    if profiled(db):
        from console import profiles

        refreshed = profiles.last_refresh(db)
    matrix = layer_heat(db, config, f"dormancy = {state}")
    return {"funnel": dormancy_funnel(db), "layers": matrix, "heat_state": state,
            "layer_rules": layer_rules(config, matrix, state) if matrix else None,
            "profiles_as_of": refreshed["as_of"] if refreshed else None,
            "has_users": db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None}


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


def layer_members(db: sqlite_utils.Database, rule: str, limit: int = 200, order_by: str = "id") -> LayerMembers:
    """The users of one heat map cell (masked, as `segments members --order-by`): how many, and the first `limit`
    in that order (uplift without a usable fit: BadInput saying why)."""
    from console import segments

    rows = segments.members(db, rule, page=1, page_size=limit, order_by=order_by)
    return {"rule": rule, "order_by": order_by, "count": segments.count(db, rule), "rows": rows}


def overview_activity(db: sqlite_utils.Database, cache: dict | None = None) -> OverviewActivity:
    """The overview's live half: campaigns with their tallies, and the latest audit entries."""
    return {"campaigns": campaign_rows(db, cache), "recent": recent_audit(db, limit=4)}


def model_report(db: sqlite_utils.Database) -> ModelPage | None:
    """The latest fit run as `winback model show --json` prints it (None when nothing is fitted), plus the
    calibration merged into one row per bucket for the chart."""
    from console.propensity.report import calibration_table, describe_latest

    report = describe_latest(db)
    if report is None:
        return None
    return {**report, "calibration_rows": calibration_table(report["calibration"])}
