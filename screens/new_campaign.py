"""The campaign creation flow: segment → channel → variants → offer → holdout → budget → schedule, then the
plan funnel, then launch — a dry-run unless the operator ticks "real send" and types the message count. With
"real send" ticked and a time in the schedule field, ctrl+s asks that count before it schedules the real send
(screens.schedule_real).

Every step calls what `winback campaign create|plan|launch` calls (console.campaigns); the fields are checked
there, and what is wrong comes back in words in the error dialog.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, Input, Label, Select, Static

from console.approved_templates import PROVIDERS
from console.campaigns.schedule import parse_schedule
from console.channel_names import CHANNELS
from console.errors import BadInput
from screens import sources
from screens.base import WinbackScreen, winback_app
from screens.launch import confirm_real_launch, prelaunch_check
from screens.plan_pane import render_plan as render_plan  # the pane's text: imported from here by callers
from screens.schedule_real import RealScheduleSteps
from screens.sources.campaigns import CampaignForm

if TYPE_CHECKING:
    from console.campaigns.finished import Plan
    from console.campaigns.model import CampaignDict
    from screens.offers import OffersAndGrid
    from screens.sources.campaigns import CampaignChoices

NO_OFFER, BY_LAYER = "__none__", "__by_layer__"


def approved_names(choices: CampaignChoices, provider: str) -> list[str]:
    """The templates approved at `provider` (aliyun, tencent)."""
    return [n for n, p in choices["approved"].items() if p == provider]



class RealSendSwitch(Checkbox):
    """The real-send switch: its X only while on — Textual draws it on and off and changes only its colour, so
    off read as ticked at a glance (the tmux tour); the words say ON or OFF too."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        super().watch_value()  # the -on class and the Changed message (the words and the plan follow it)


PLAN_HINT = "fill in the steps, then ctrl+s creates the draft and shows who it reaches"
REAL_OFF = "real send: OFF (dry run)"
REAL_ON = "REAL SEND: ON (type the count)"


class NewCampaignScreen(RealScheduleSteps, WinbackScreen):
    """Create a campaign step by step, see its plan, launch it."""

    LABEL = "New campaign"
    CSS_PATH = "new_campaign.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "create", "Create & plan", id="new_campaign.create"),
        Binding("ctrl+l", "launch", "Launch", id="new_campaign.launch"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.choices: CampaignChoices = {"segments": [], "templates": {}, "languages": {}, "offers": [],
                                         "approved": {}}
        self.created: str | None = None
        self.plan: Plan | None = None
        self.real_at: int | None = None   # a real send scheduled at this time, waiting for its typed count

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="flow"):
            with VerticalScroll(id="flow-form") as form:
                form.border_title = "New campaign"
                yield from self._row("name", Input(placeholder="老客回流-12月", id="f-name", compact=True))
                yield from self._row("segment", Select([], prompt="choose", id="f-segment", compact=True))
                yield from self._row("channel", Select([(c, c) for c in CHANNELS], value="sms",
                                                       allow_blank=False, id="f-channel", compact=True))
                yield from self._row("template", Select([], prompt="choose", id="f-template", compact=True))
                yield from self._row("variants", Input(placeholder="other-template=50, …", id="f-variants",
                                                       compact=True))
                yield from self._row("offer", Select([("none", NO_OFFER), ("by layer", BY_LAYER)],
                                                     value=NO_OFFER, allow_blank=False, id="f-offer",
                                                     compact=True))
                yield from self._row("holdout %", Input(value="10", id="f-holdout", compact=True))
                yield from self._row("budget", Input(placeholder="no ceiling", id="f-budget", compact=True))
                yield from self._row("schedule", Input(placeholder="now · every 7d · or a date",
                                                       id="f-schedule", compact=True))
                yield RealSendSwitch(REAL_OFF, id="f-real", compact=True)
            with Vertical(id="flow-plan") as box:
                box.border_title = "Plan"
                yield Static(Text(PLAN_HINT, style="dim"), id="plan")

    def _row(self, label: str, widget: Any) -> ComposeResult:
        with Horizontal(classes="flow-row"):
            yield Label(label)
            yield widget

    def on_mount(self) -> None:
        self.query_one("#f-name", Input).focus()

    def refresh_data(self) -> None:
        if self.created is None:
            self.fetch("choices", sources.campaign_choices)

    def show_choices(self, choices: CampaignChoices) -> None:
        self.choices = choices
        segment = self.query_one("#f-segment", Select)
        keep = segment.value
        segment.set_options([(s, s) for s in choices["segments"]])
        if keep in choices["segments"]:
            segment.value = keep
        elif choices["segments"]:
            segment.value = choices["segments"][0]
        offer = self.query_one("#f-offer", Select)
        keep_offer = offer.value
        offer.set_options([("none", NO_OFFER), ("by layer", BY_LAYER), *[(o, o) for o in choices["offers"]]])
        offer.value = keep_offer if keep_offer in (NO_OFFER, BY_LAYER, *choices["offers"]) else NO_OFFER
        self._fill_templates()

    @on(Select.Changed, "#f-offer")
    @on(Select.Changed, "#f-segment")
    def _by_layer(self) -> None:
        """Offer "by layer": before the draft exists, the plan pane shows what each layer of the segment gets
        and what it costs (screens.offers)."""
        if self.created:
            return
        from screens.offers import offers_and_grid

        offer = self.query_one("#f-offer", Select).value
        if offer != BY_LAYER:
            self._show_hint()
            return
        segment = self.query_one("#f-segment", Select).value
        self.fetch("layer_offers", offers_and_grid, self.workspace.config,
                   segment if isinstance(segment, str) and segment != "all" else None)

    def show_layer_offers(self, data: OffersAndGrid) -> None:
        from screens.offers import by_layer_text

        if not self.created and self.query_one("#f-offer", Select).value == BY_LAYER:
            self.query_one("#plan", Static).update(by_layer_text(data, self.currency))

    @on(Select.Changed, "#f-channel")
    def _fill_templates(self) -> None:
        channel = self.query_one("#f-channel", Select).value
        names = self.choices["templates"].get(str(channel), [])
        provider = self._provider(str(channel))
        approved = self.choices["approved"]
        labels = {n: n for n in names}
        if provider:
            # aliyun/tencent send only templates approved there: those first, the others marked (a real launch of
            # one is refused — console.templates.approval_problems)
            names = sorted(names, key=lambda n: approved.get(n) != provider)
            labels = {n: n if approved.get(n) == provider else f"{n} (not approved at {provider})" for n in names}
        template = self.query_one("#f-template", Select)
        keep = template.value
        template.set_options([(labels[n], n) for n in names])
        if keep in names:   # the operator's choice stands (a dry run works with any template)
            template.value = keep
        elif names:
            ours = [n for n in names if provider and approved.get(n) == provider]
            template.value = self._default_template(ours or names)
        if self.query_one("#f-offer", Select).value != BY_LAYER:
            self._show_hint()

    def _provider(self, channel: str) -> str | None:
        """The approved-template provider the channel sends through (aliyun, tencent), or None."""
        transport = str(self.workspace.config.channel(channel).get("transport", "dryrun")).lower()
        return transport if channel == "sms" and transport in PROVIDERS else None

    def _show_hint(self) -> None:
        """The plan pane before the draft exists; for an aliyun/tencent channel it says that a real send needs a
        template approved there, and whether one is saved."""
        if self.created:
            return
        channel = str(self.query_one("#f-channel", Select).value)
        provider = self._provider(channel)
        if not provider:
            self.query_one("#plan", Static).update(Text(PLAN_HINT, style="dim"))
            return
        approved = approved_names(self.choices, provider)
        if approved:
            self.query_one("#plan", Static).update(Text(
                f"channel {channel} sends through {provider}, which sends only templates approved there: those "
                f"come first ({len(approved)}).\n\n{PLAN_HINT}", style="dim"))
        else:
            self.query_one("#plan", Static).update(Text(
                f"channel {channel} sends through {provider}, which sends only templates approved there, and none "
                "is saved: a real launch would be refused. Add one on Messages (provider_template, approved_text "
                f"and [params]: docs/channels.md); a dry run works with any.\n\n{PLAN_HINT}", style="yellow"))

    def _default_template(self, names: list[str]) -> str:
        """The first of the channel's templates in the workspace's language (locale zh_CN: a template whose
        `language` is zh, or named …-zh when it records none); the first of all when none is."""
        language = self.workspace.config.locale.split("_")[0].lower()
        recorded = self.choices["languages"]

        def speaks(name: str) -> bool:
            said = recorded.get(name)
            return said.lower().split("_")[0] == language if said else name.lower().endswith(f"-{language}")

        return next((n for n in names if speaks(n)), names[0])

    def answers(self) -> CampaignForm:
        """The flow's fields as `model.create` arguments (checked there)."""
        def value(selector: str) -> str:
            return self.query_one(selector, Input).value.strip()

        def chosen(selector: str) -> Any:
            v = self.query_one(selector, Select).value
            # Select.NULL is Textual 8's "nothing chosen" (Select.BLANK is a legacy False that no value is): with
            # BLANK, an empty choice passed as a NoSelection object, so 'choose a template' was never said
            return None if v is Select.NULL else v

        def folded(selector: str) -> str:
            # '１５％', '￥５００' from a Chinese input method read as their ASCII twins (NFKC; the schedule folds itself)
            return unicodedata.normalize("NFKC", value(selector))

        offer = chosen("#f-offer")
        holdout_text = folded("#f-holdout") or "0"
        budget_text = folded("#f-budget").replace(",", "").lstrip("¥$€")
        try:
            holdout = float(holdout_text.rstrip("%"))
        except ValueError:
            raise BadInput(f"holdout {holdout_text!r}: a percentage such as 10") from None
        try:
            budget = float(budget_text) if budget_text else None
        except ValueError:
            raise BadInput(f"budget {budget_text!r}: an amount such as 500, or empty for no ceiling") from None
        if not chosen("#f-template"):
            raise BadInput("choose a template (add one on the Messages screen, key m)")
        if not chosen("#f-segment"):
            raise BadInput("choose a segment")
        schedule = parse_schedule(value("#f-schedule"), self.timezone)
        return CampaignForm(
            name=value("#f-name"), segment=chosen("#f-segment"), channel=chosen("#f-channel"),
            template=chosen("#f-template"),
            variants=[v.strip() for v in value("#f-variants").split(",") if v.strip()],
            offer=offer if offer not in (NO_OFFER, BY_LAYER) else None, offer_by_layer=offer == BY_LAYER,
            holdout=holdout, budget=budget, at=schedule.get("at"), every=schedule.get("every"))

    def unsaved(self) -> str | None:
        """The answers typed before the draft was created (never lose work, issue 18); None once created."""
        if self.created or not self.is_mounted:
            return None
        name = self.query_one("#f-name", Input).value.strip()
        return f"The new campaign {name}" if name else None

    def action_create(self) -> None:
        """ctrl+s: create the draft (checked by the campaigns service) and show its plan."""
        if self.created and self.real_at is not None:   # the real schedule's confirmation, asked again
            self._check_real_schedule()
            return
        if self.created:
            self.notify(f"{self.created} is created; ctrl+l launches it", severity="warning")
            return
        try:
            fields = self.answers()
        except BadInput as exc:
            from screens.dialogs import ErrorDialog

            self.app.push_screen(ErrorDialog("Not yet", str(exc)))
            return
        if fields.at is not None and self.query_one("#f-real", Checkbox).value:
            # a real send at a time: a draft until the pre-launch check and the typed count (screens.schedule_real)
            self.real_at, fields = fields.at, replace(fields, at=None)
        self.fetch("create_campaign", sources.create_campaign, fields)

    def done_create_campaign(self, campaign: CampaignDict) -> None:
        self.created = campaign["name"]
        for widget in self.query("#flow-form Input, #flow-form Select").results():
            widget.disabled = True
        self.query_one("#f-real", Checkbox).focus()
        form = self.query_one("#flow-form")
        form.border_title = f"Campaign {campaign['name']} · {campaign['status']}"
        form.border_subtitle = "ctrl+l launches"
        self._replan()
        if self.real_at is not None:
            self._check_real_schedule()

    @on(Checkbox.Changed, "#f-real")
    def _real_words(self, event: Checkbox.Changed) -> None:
        """On and off read differently, not only in colour (16 colours, NO_COLOR)."""
        event.checkbox.label = REAL_ON if event.value else REAL_OFF

    @on(Checkbox.Changed, "#f-real")
    def _replan(self) -> None:
        if self.created:
            plan = self.query_one("#plan", Static)
            plan.loading = True
            self.fetch("plan", sources.plan_campaign, self.workspace.config, self.created,
                       self.query_one("#f-real", Checkbox).value)

    def show_plan(self, plan: Plan) -> None:
        self.plan = plan
        widget = self.query_one("#plan", Static)
        widget.loading = False
        widget.update(render_plan(plan, self.currency, self.query_one("#flow-plan").content_size.width))
        box = self.query_one("#flow-plan")
        box.border_title = f"Plan · {'REAL via ' + plan['transport'] if plan['real'] else 'dry-run'}"

    def failed_plan(self, text: str) -> None:
        """The plan cannot be made (a bad price in winback.toml, a busy database): said in the plan pane."""
        self.plan = None
        widget = self.query_one("#plan", Static)
        widget.loading = False
        widget.update(Text(f"cannot plan: {text}", style="bold red"))

    def action_launch(self) -> None:
        """ctrl+l: launch — a dry-run unless "real send" is ticked, which runs the pre-launch check and then asks
        for the message count."""
        if not self.created:
            self.notify("create the campaign first (ctrl+s)", severity="warning")
            return
        if self.query_one("#f-real", Checkbox).value:
            if not self.plan or not self.plan["real"]:
                self.notify("the real plan is still loading", severity="warning")
                return
            # the check connects (SMTP log in …), as `launch --real` does before it asks: in a worker
            self.query_one("#plan", Static).loading = True
            self.fetch("launch_check", prelaunch_check, self.workspace.config, self.created)
            return
        winback_app(self).start_dispatch("launch", self.created, real=False)
        self.after_launch()

    def show_launch_check(self, plan: Plan) -> None:
        """The pre-launch check's answer: what stops the launch is said, else the typed count is asked."""
        self.show_plan(plan)
        confirm_real_launch(self, plan)

    def failed_launch_check(self, text: str) -> None:
        """The check itself could not be made (a busy database …): the plan stays, the launch is not asked."""
        self.query_one("#plan", Static).loading = False
        winback_app(self).report_failure("launch_campaign", text, action=True)

    def after_launch(self) -> None:
        """The flow is done: Campaigns shows its list again, and the operator watches the send on Deliveries."""
        name = self.created
        assert name is not None  # only a created campaign is launched
        self.dismiss()
        winback_app(self).open_deliveries(name)
