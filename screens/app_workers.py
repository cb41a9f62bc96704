"""Worker plumbing of the console app: sends started from the console, and the one place where every worker's
result or failure ends up (a notification, an operator's error dialog, or the bug dialog)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from screens.base import background_priority
from screens.dialogs import ErrorDialog
from screens.failures import operator_message
from screens.host import ConsoleHost

if TYPE_CHECKING:
    from console.campaigns.summary import SummaryDict


class WorkerReports(ConsoleHost):
    """Mixed into WinbackApp: campaign sends in thread workers, and what a finished or failed worker says."""

    _noticed: dict[str, float]  # failure text → when it was last notified (report_failure)

    # ---- sends started from the console -------------------------------------------------------------

    def start_dispatch(self, action: str, name: str, *, real: bool = False, accept_warnings: bool = False) -> None:
        """Launch (dry-run unless `real`) or resume a campaign in a thread worker owned by the app.

        The send runs in the console process like `winback campaign launch` would in a shell: same function, same
        ledger. Leaving the console cancels the worker and the dispatcher stops after its current batch; the
        campaign then resumes with `winback campaign resume NAME`.
        """
        from screens import sources

        workspace = self.workspace

        def send() -> SummaryDict:
            background_priority()
            db = workspace.open()
            try:
                if action == "launch":
                    return sources.launch_campaign(db, workspace.config, name, real, accept_warnings)
                return sources.resume_campaign(db, workspace.config, name)
            finally:
                db.close()

        self.data_version += 1
        self.run_worker(send, name=f"{action}_campaign", group=f"dispatch:{name}", description=name,
                        thread=True, exit_on_error=False)

    def sends_in_progress(self) -> list[str]:
        return [w.description for w in self.workers
                if w.group.startswith("dispatch:") and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]

    # ---- the one place worker failures end up ----------------------------------------------------------

    def worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's state change (WinbackApp's Worker.StateChanged handler): results the app keeps, and
        failures said as the operator's error or as a bug."""
        worker = event.worker
        if event.state == WorkerState.SUCCESS and worker.name == "running":
            self.running_campaigns = tuple(worker.result or ())
            return
        if event.state == WorkerState.SUCCESS and worker.group.startswith("dispatch:"):
            summary = worker.result or {}
            self.notify(send_notice(summary, worker.description),
                        title="dry run finished" if summary.get("dry_run", True) else "send finished")
            return
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        assert error is not None  # a worker in the ERROR state holds its exception
        self.log.error(f"worker {worker.name!r} failed", error)
        text = operator_message(error)
        if text is not None:
            # Input or environment (a locked database, a bad price in winback.toml): said plainly, never "a bug".
            self.report_failure(worker.name, text, action=is_action(worker.name))
            return
        message = f"{type(error).__name__}: {error}"
        if isinstance(self.screen, ErrorDialog) and self.screen.message == message:
            return  # the same failure from several polls: one dialog is enough
        self.push_screen(ErrorDialog(
            failure_title(worker.name), message,
            hint="This is a bug in winback, not something you did. Nothing was changed by the failed step.",
        ))

    # How long the same notification is not repeated: a poll every second must not stack up toasts.
    REPEAT_NOTICE_SECONDS = 30.0

    def report_failure(self, name: str, text: str, *, action: bool, polled: bool = False) -> None:
        """An input or environment error that no screen showed in place.

        After the operator's own action (save, set, launch…) it is the answer to their key: a dialog with the
        words, no "bug" label. A load or poll that fails says so in a notification, which takes no focus (the
        operator may be typing) and is not repeated while the same failure goes on.
        """
        if (action or is_action(name)) and not polled:
            if isinstance(self.screen, ErrorDialog) and self.screen.message == text:
                return
            self.push_screen(ErrorDialog(failure_title(name), text))
            return
        now = time.monotonic()
        if now - self._noticed.get(text, float("-inf")) < self.REPEAT_NOTICE_SECONDS:
            return
        self._noticed[text] = now
        self.notify(text, title=failure_title(name), severity="error", timeout=8)


def send_notice(summary: Mapping[str, Any], name: str) -> str:
    """'nov-sms: completed · sent 2,071' for a real send; a dry run sends nothing, so its count is what it would
    send: 'nov-sms: completed · dry run · would send 2,071'. (Unsure — no summary — counts as a dry run: never
    claim a send that may not have happened.)"""
    figure = f"{summary.get('sent', 0):,}"
    head = f"{summary.get('campaign', name)}: {summary.get('outcome', 'done')}"
    if summary.get("dry_run", True):
        return f"{head} · dry run · would send {figure}"
    # what went wrong and what waits, as the CLI's launch says it: 'paused · sent 0' alone hid 200 failures
    counts = "".join(f" · {word} {summary[key]:,}" for key, word in
                     (("failed", "failed"), ("unknown", "unknown"), ("deferred", "deferred")) if summary.get(key))
    why = ""
    if summary.get("outcome") == "paused" and summary.get("pause_reason"):
        why = f" — {summary['pause_reason']}; r on Deliveries resumes"
    return f"{head} · sent {figure}{counts}{why}"


def is_action(worker_name: str) -> bool:
    """'set_cap', 'launch_campaign': a worker the operator started with a key (see VERBS), not a load."""
    return worker_name.split("_")[0] in VERBS


VERBS = {"set", "add", "remove", "save", "create", "launch", "resume", "pause", "cancel", "why", "find", "retire",
         "map", "start", "stop", "refresh"}


def failure_title(worker_name: str) -> str:
    """'set_cap' → 'Could not set cap'; 'activity' → 'Could not load activity'."""
    if not worker_name:
        return "Something went wrong"
    words = worker_name.replace("_", " ")
    return f"Could not {words}" if worker_name.split("_")[0] in VERBS else f"Could not load {words}"
