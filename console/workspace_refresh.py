"""Everything `winback refresh` recomputes, in order: profiles (dormancy, layers), recommendations, and
propensity scores when a model has been fitted. The CLI and the console call this one function."""

from __future__ import annotations

import time

import sqlite_utils

from console.config import Config
from console.profiles import Progress, RefreshSummary


class WorkspaceRefresh(RefreshSummary):
    recommendations_rebuilt: bool
    scored: int | None             # users re-scored; None when no propensity model is fitted


def refresh_workspace(
    db: sqlite_utils.Database,
    config: Config,
    *,
    as_of: int | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> WorkspaceRefresh:
    """Refresh profiles, then what derives from events and profiles; return the profile summary plus
    `recommendations_rebuilt` and `scored` (users re-scored, or None when no model is fitted)."""
    from console import recommendations
    from console.profiles import refresh as refresh_profiles
    from console.propensity.scoring import refresh_scores

    profiled = refresh_profiles(db, config, as_of=as_of, full=full, progress=progress)
    started = time.perf_counter()
    summary: WorkspaceRefresh = {**profiled, "recommendations_rebuilt": recommendations.refresh(db), "scored": None}
    summary["steps"]["recommendations"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    scored = refresh_scores(db, as_of=summary.get("as_of"), timezone=config.timezone)
    summary["steps"]["scores"] = round(time.perf_counter() - started, 3)
    summary["scored"] = None if scored is None else scored["scored"]
    return summary
