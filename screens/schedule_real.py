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
from screens.dialogs import ConfirmDialog, ErrorDialog, FormDialog
from screens.format import count
from screens.launch import ask_warnings_then_count, count_words, prelaunch_check

if TYPE_CHECKING:
    from console.campaigns.finished import Plan
    from console.campaigns.model import CampaignDict
    from screens.sources.campaigns import CampaignListRow

    _Flow = WinbackScreen
else:
    _Flow = object


def schedule_real(db: sqlite_utils.Database, name: str, at: int, plan: Plan) -> CampaignDict:
    """Schedule NAME's launch at `at` as a real send, confirmed in the console on `plan` (prelaunch_check's)."""
    from console.campaigns.confirmation import confirm_real

    return confirm_real(db, name, at=at, plan=plan, how="console",
                        accept_warnings=bool(plan.get("warnings"))).as_dict()


def confirm_real_schedule(screen: Screen, plan: Plan, when: str, answered: Callable[[bool], None], *,
                          stays: str = "stays a draft") -> None:
    """Ask for the typed count of `plan` (prelaunch_check's answer) before a real send is scheduled at `when`;
    `answered(True)` once typed, `answered(False)` when the check refused it or the operator went back. `stays`
    says what the campaign is left as when the check refuses it."""
    name = plan["campaign"]
    if plan.get("problems"):
        screen.app.push_screen(ErrorDialog("Not scheduled", f"{name} {stays}: the pre-launch check failed — "
                                           + "; ".join(plan.get("problems") or [])))
        answered(False)
        return
    body = (f"At {when}: {count_words(plan, scheduled=True)}\n"
            f"{count(plan.get('total_parts', plan['est_parts']))} billed parts · {plan['channel']} via "
            f"{plan['transport']}\nrun-due sends it then — or holds it, sending nothing, if the check fails then or "
            "the run would send over 10% more")
    ask_warnings_then_count(screen, plan, f"Schedule {name} for real?", body, "Schedule", answered)


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


def unschedule_campaign(db: sqlite_utils.Database, name: str) -> CampaignDict:
    """Take back NAME's scheduled one-off launch, as `winback campaign unschedule NAME` (the same service and audit
    entry): a draft again, or completed after a dry run; a real confirmation ends with it."""
    from console.campaigns.confirmation import unschedule

    return unschedule(db, name).as_dict()


class ScheduledCampaignKeys(_Flow):
    """The Campaigns list's keys for a scheduled one-off (mixed into CampaignsScreen): confirm it again as a real
    send (a held one, a void one, or to move it) and unschedule it — what `winback campaign schedule NAME --at WHEN
    --real` and `unschedule NAME` do, through the same services (so the same audit entries), the DB work in thread
    workers (`fetch`). The confirmation is the creation flow's: the pre-launch check, the content warnings, the
    typed count (confirm_real_schedule)."""

    _rows: dict[str, CampaignListRow]        # the list as last shown, by name (CampaignsScreen.show_campaigns)
    _planned_for: str | None
    _reconfirm_at: int | None = None         # the time being confirmed, between the form and the typed count
    _reconfirm_was_dry = False               # what is confirmed was a scheduled dry run (never confirmed before)

    def schedule_keys_hint(self, *, dry: bool = False) -> str:
        """The keys in force ([keys] may remap them), for the plan pane's line about a scheduled campaign. A dry
        run was never confirmed: for it, r makes it a real send."""
        app = winback_app(self)
        return (f"{app.key_for('campaigns.reconfirm', 'r')}: {'make it a real send' if dry else 'confirm again'} · "
                f"{app.key_for('campaigns.unschedule', 'u')}: unschedule")

    def _scheduled_one_off(self, verb: str) -> CampaignListRow | None:
        """The highlighted campaign if it is a scheduled one-off; else it says why `verb` does not apply."""
        from textual.widgets import DataTable

        from screens.base import cursor_key

        name = cursor_key(self.query_one("#campaigns-table", DataTable))
        row = self._rows.get(name) if name else None
        if row is None:
            return None
        if row["status"] != "scheduled" or row["every_days"]:
            state = f"recurring every {row['every_days']} days" if row["every_days"] else row["status"]
            self.notify(f"{row['name']} is {state}: only a scheduled one-off launch can be {verb}",
                        title=f"Not {verb}", severity="warning")
            return None
        return row

    def action_reconfirm(self) -> None:
        """Confirm the highlighted scheduled one-off again as a real send: its time (kept, or a new one), then the
        pre-launch check and the typed count."""
        from console.clock import now_ts
        from console.timefmt import local_time

        row = self._scheduled_one_off("confirmed")
        if row is None:
            return
        at = row["next_run_at"]
        keep = local_time(at, self.timezone, "%Y-%m-%d %H:%M", label=False) if at and at > now_ts() else ""
        if row["hold_reason"]:
            why = f"HELD, not sent: {row['hold_reason']}"
        elif row["void"]:
            why = "confirmation VOID: " + "; ".join(row["void"])
        else:
            why = "a real send" if row["mode"] == "real" else "a dry run now: confirming makes it a REAL send"
        # a scheduled dry run was never confirmed: it is made a real send, not confirmed "again"
        title = f"Confirm {row['name']} again" if row["mode"] == "real" else f"Make {row['name']} a real send"
        self.app.push_screen(FormDialog(
            title, [("at", "time", "2026-12-08 09:00")], values={"at": keep},
            body=f"{why}\nWhen should it be sent? Then the pre-launch check runs and you type the message count.",
            submit="check"), lambda answer: self._reconfirm_time(row["name"], answer))

    def _reconfirm_time(self, name: str, answer: dict[str, str] | None) -> None:
        from console.campaigns.schedule import parse_at
        from console.errors import BadInput

        if answer is None:
            return
        try:
            at = parse_at(answer["at"], self.timezone, option="time")
        except BadInput as exc:
            self.app.push_screen(ErrorDialog("Not confirmed", f"{name} is unchanged: {exc}"))
            return
        self._reconfirm_at = at
        self.notify(f"checking {name} before it is confirmed …", timeout=4)
        self._reconfirm_was_dry = self._rows[name]["mode"] != "real" if name in self._rows else False
        self.fetch("reconfirm_check", prelaunch_check, self.workspace.config, name)

    def show_reconfirm_check(self, plan: Plan) -> None:
        from console.timefmt import local_time

        at = self._reconfirm_at
        if at is None:
            return
        confirm_real_schedule(self, plan, local_time(at, self.timezone),
                              lambda yes: self._reconfirm_answered(yes, at, plan), stays="is unchanged")

    def failed_reconfirm_check(self, text: str) -> None:
        self._reconfirm_at = None
        self.app.push_screen(ErrorDialog("Not confirmed", text))

    def _reconfirm_answered(self, yes: bool, at: int, plan: Plan) -> None:
        self._reconfirm_at = None
        if yes:
            self.fetch("reconfirm", schedule_real, plan["campaign"], at, plan)
        else:
            self.notify(f"{plan['campaign']} is unchanged", title="not confirmed")

    def done_reconfirm(self, campaign: CampaignDict) -> None:
        from console.timefmt import local_time

        when = local_time(campaign["next_run_at"], self.timezone)
        again = "a dry run made a real send" if self._reconfirm_was_dry else "confirmed again"
        self.notify(f"{campaign['name']}: a real send at {when}, {again}", title="scheduled")
        self._reload_list()

    def failed_reconfirm(self, text: str) -> None:
        self.app.push_screen(ErrorDialog("Not confirmed", text))
        self._reload_list()

    def action_unschedule(self) -> None:
        """Take back the highlighted scheduled one-off, after a confirm dialog; nothing is launched."""
        row = self._scheduled_one_off("unscheduled")
        if row is None:
            return
        name = row["name"]
        held = f"HELD: {row['hold_reason']}\n" if row["hold_reason"] else ""
        body = (f"{held}Nothing will be launched: it becomes a draft again (or completed, after a dry run)"
                + ("; its real-send confirmation ends with it." if row["mode"] == "real" else "."))

        def answered(yes: bool | None) -> None:
            if yes:
                self.fetch("unschedule", unschedule_campaign, name)

        self.app.push_screen(ConfirmDialog(f"Unschedule {name}?", body, yes="Unschedule", no="Keep it"), answered)

    def done_unschedule(self, campaign: CampaignDict) -> None:
        self.notify(f"{campaign['name']} ({campaign['status']}): nothing will be launched", title="unscheduled")
        self._reload_list()

    def failed_unschedule(self, text: str) -> None:
        self.app.push_screen(ErrorDialog("Not unscheduled", text))
        self._reload_list()

    def _reload_list(self) -> None:
        """The list and the highlighted campaign's plan pane again: its state and schedule line changed."""
        self._planned_for = None
        self.refresh_data()
