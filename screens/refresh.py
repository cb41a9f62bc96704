"""`winback refresh` from the console (R on the overview, "Refresh profiles…" in the palette): the same service,
console.workspace_refresh.refresh_workspace, in a thread worker with its own connection.

The worker is the app's (group "app:refresh"), so leaving the overview does not stop it; its steps and its result
are handed to the overview's callbacks on the event loop. An input or environment failure (a locked database)
is said in place; a bug also reaches the app's error dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.worker import WorkerState

from screens.base import background_priority
from screens.failures import operator_message
from screens.host import ConsoleHost

if TYPE_CHECKING:
    from console.workspace_refresh import WorkspaceRefresh

GROUP = "app:refresh"


def refresh_running(app: ConsoleHost) -> bool:
    return any(w.group == GROUP and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers)


def start_refresh(app: ConsoleHost, step: Callable[[str, int, int], None], done: Callable[[WorkspaceRefresh], None],
                  failed: Callable[[str], None]) -> None:
    """Run the refresh; `step(what, n, total)` as it goes, then `done(summary)` or `failed(text)` — each called on
    the event loop."""
    from console.workspace_refresh import refresh_workspace

    workspace = app.workspace

    def profiles_step(n: int, total: int | None) -> None:
        # The profile steps are the long part; recommendations and scores follow the last one.
        total = total or 0
        what = "profiles" if n < total else "recommendations and scores"
        app.call_from_thread(step, what, n, total if n < total else 0)

    def work() -> WorkspaceRefresh | None:   # None: failed, and said so (failed or the bug dialog)
        background_priority()
        try:
            db = workspace.open()
            try:
                summary = refresh_workspace(db, workspace.config, progress=profiles_step)
            finally:
                db.close()
        except Exception as error:
            text = operator_message(error)
            app.call_from_thread(failed, text or f"a bug in winback: {type(error).__name__}: {error}")
            if text is None:
                raise  # the app's error dialog reports a bug (app_workers)
            return None
        app.call_from_thread(done, summary)
        return summary

    app.run_worker(work, name="refresh_workspace", group=GROUP, thread=True, exit_on_error=False)


def result_line(summary: WorkspaceRefresh, timezone: str) -> str:
    """What the refresh did, as `winback refresh` says it, on one line."""
    from console.timefmt import local_date

    parts = [f"Refreshed ({summary['mode']}) as of {local_date(summary['as_of'], timezone)}: "
             f"{summary['users_recomputed']:,} users recomputed, {summary['profiles']:,} profiles, "
             f"{summary['seconds']:.1f} s"]
    if summary.get("recommendations_rebuilt"):
        parts.append("recommendations rebuilt")
    if summary.get("scored") is not None:
        parts.append(f"scores for {summary['scored']:,}")
    return " · ".join(parts)
