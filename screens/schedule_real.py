"""A REAL send scheduled from the creation flow (issue 16): the real-send switch on and a time in the schedule field.

The confirmation a real launch asks (screens.launch) is given when the campaign is scheduled, in the same order
as `winback campaign create --at WHEN --real`: the campaign is created a draft, the pre-launch check runs (in a
worker: it connects to the channel's server), what stops it is said and nothing is asked; then the content
warnings (a second confirmation), then the typed message count. Only then is it scheduled real
(console.campaigns.confirmation.confirm_real); `winback campaign run-due` sends it at its time, or holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlite_utils
from textual.screen import Screen
from textual.widgets import Static

from screens.base import WinbackScreen, winback_app
from screens.dialogs import ConfirmDialog, ErrorDialog, TypedCountDialog
from screens.format import count, money
from screens.launch import prelaunch_check

if TYPE_CHECKING:
    from console.campaigns.finished import Plan
    from console.campaigns.model import CampaignDict

    _Flow = WinbackScreen
else:
    _Flow = object


def schedule_real(db: sqlite_utils.Database, name: str, at: int, plan: Plan) -> CampaignDict:
    """Schedule NAME's launch at `at` as a real send, confirmed in the console on `plan` (prelaunch_check's)."""
    from console.campaigns.confirmation import confirm_real

    return confirm_real(db, name, at=at, plan=plan, how="console",
                        accept_warnings=bool(plan.get("warnings"))).as_dict()


def confirm_real_schedule(screen: Screen, plan: Plan, when: str, answered: Callable[[bool], None]) -> None:
    """Ask for the typed count of `plan` (prelaunch_check's answer) before a real send is scheduled at `when`;
    `answered(True)` once typed, `answered(False)` when the check refused it or the operator went back."""
    name = plan["campaign"]
    if plan.get("problems"):
        screen.app.push_screen(ErrorDialog("Not scheduled", f"{name} stays a draft: the pre-launch check failed — "
                                           + "; ".join(plan.get("problems") or [])))
        answered(False)
        return
    currency = plan.get("currency", "CNY")
    body = (f"At {when}: {count(plan['to_send'])} messages · {count(plan['est_parts'])} billed parts · about "
            f"{money(plan['est_cost'], currency)} · {plan['channel']} via {plan['transport']}\n"
            "run-due sends it then — or holds it, sending nothing, if the check fails then or over 10% more "
            "would be sent")
    warnings = plan.get("warnings") or []

    def typed(yes: bool | None) -> None:
        answered(bool(yes))

    def ask_count(go: bool | None = True) -> None:
        if not go:
            answered(False)
            return
        screen.app.push_screen(TypedCountDialog(f"Schedule {name} for real?", body, plan["to_send"]), typed)

    if warnings:   # R (issue 13): the providers' content rules — a second, explicit confirmation first
        screen.app.push_screen(ConfirmDialog(
            f"{len(warnings)} content warning{'s' if len(warnings) > 1 else ''}",
            "\n".join(f"! {w}" for w in warnings)
            + "\n\nThe providers may refuse these messages or suspend the signature. Schedule anyway?",
            yes="Schedule anyway", no="Fix first"), ask_count)
        return
    ask_count()


class RealScheduleSteps(_Flow):
    """The creation flow's steps for a real send at a time (mixed into NewCampaignScreen, which sets `real_at`
    when ctrl+s creates the draft and calls _check_real_schedule once it exists)."""

    created: str | None
    real_at: int | None

    def show_plan(self, plan: Plan) -> None:   # the flow's Plan pane (NewCampaignScreen)
        raise NotImplementedError

    def _check_real_schedule(self) -> None:
        assert self.created is not None  # only a created draft is checked
        self.query_one("#plan", Static).loading = True
        self.fetch("schedule_check", prelaunch_check, self.workspace.config, self.created)

    def show_schedule_check(self, plan: Plan) -> None:
        """The pre-launch check of the real send to schedule: what stops it is said, else the typed count."""
        from console.timefmt import local_time

        self.show_plan(plan)
        if self.real_at is not None:
            at = self.real_at
            confirm_real_schedule(self, plan, local_time(at, self.timezone),
                                  lambda yes: self._real_schedule_answered(yes, at, plan))

    def failed_schedule_check(self, text: str) -> None:
        self.query_one("#plan", Static).loading = False
        winback_app(self).report_failure("create_campaign", text, action=True)

    def _real_schedule_answered(self, yes: bool, at: int, plan: Plan | None) -> None:
        if yes and self.created and plan is not None:
            self.fetch("schedule_real", schedule_real, self.created, at, plan)
        else:
            self.query_one("#flow-form").border_subtitle = "a draft, not scheduled · ctrl+s asks again"

    def failed_schedule_real(self, text: str) -> None:
        from screens.dialogs import ErrorDialog

        self.app.push_screen(ErrorDialog("Not scheduled", text))
        self._real_schedule_answered(False, 0, None)

    def done_schedule_real(self, campaign: CampaignDict) -> None:
        from console.timefmt import local_time

        self.real_at = None
        form = self.query_one("#flow-form")
        when = local_time(campaign["next_run_at"], self.timezone) if campaign["next_run_at"] else "?"
        form.border_title = f"{campaign['name']} · scheduled REAL at {when}"
        form.border_subtitle = "run-due sends it then"
        self.notify(f"{campaign['name']}: a real send at {when}", title="scheduled")
