"""Campaigns: every campaign with its state, the plan of the one under the cursor, launch and new.

`n` opens the creation flow. `l` launches a dry-run at once (dry-runs never ask); `L` launches for real after
the pre-launch check (screens.launch) and the operator typing the message count the real plan shows. A scheduled
one-off is confirmed again as a real send with `r` (held, void, or moved) and taken back with `u`
(screens.schedule_real.ScheduledCampaignKeys).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from screens import sources
from screens.base import ListFilter, WinbackScreen, cursor_key, winback_app
from screens.columns import Column, FitTable
from screens.fit_rows import FitRows
from screens.format import money, sent_cell
from screens.launch import confirm_real_launch, prelaunch_check
from screens.new_campaign import NewCampaignScreen, render_plan
from screens.schedule_real import ScheduledCampaignKeys

if TYPE_CHECKING:
    from console.campaigns.finished import Plan
    from console.outcome_figures import OutcomesDict
    from screens.sources.campaigns import CampaignListRow

# The campaign list at 80 columns shows name, state and sent; the rest joins as the terminal widens.
CAMPAIGN_COLUMNS = (
    Column("name", "name", "name", least=8, most=32),
    Column("channel", "ch", priority=4),
    Column("status", "state", priority=1, least=15),   # "scheduled ·real" (·held, ·void) whole, never "·re…"
    Column("planned", "planned", "count", priority=2),
    Column("sent", "sent", "count"),
    Column("failed", "failed", "count", priority=3),
    Column("skipped", "skipped", "count", priority=5),
    Column("cost", "cost", "count", priority=6),
)


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.2f} pp"


# The arms, drawn in the panel with FitTable's rules (screens/fit_rows.py): counts whole however many digits, an
# arm's long name cut with …
OUTCOME_COLUMNS = (Column("arm", "arm", "name", least=4, most=16), Column("users", "users", "count"),
                   Column("back", "back", "count"), Column("rate", "rate", "count"))


def render_outcomes(result: OutcomesDict) -> Group:
    """Who came back, per arm and against the holdout: rates, lift with its 95% interval, cost per extra user."""
    currency = result.get("currency", "CNY")
    window = "window open" if result["window_open"] else "window closed"
    head = Text(f"{result['window_days']}-day window · {window}", style="dim")
    arms = FitRows(OUTCOME_COLUMNS, [{
        "arm": arm["arm"], "users": arm["users"], "back": arm["converters"],
        "rate": Text("—" if arm["rate"] is None else f"{100 * arm['rate']:.2f}%"),
    } for arm in result["arms"]], header_style="bold")
    text = Text()
    for c in result["comparisons"]:
        text.append(f"\n{c['arm']} vs holdout ", style="bold")
        text.append(_pp(c["absolute_lift"]), "bold green" if c["significant"] else "")
        if (low := c["ci_low"]) is not None and (high := c["ci_high"]) is not None:   # both or neither
            # on a line of its own: beside the list at 80 columns (36 cells) "A vs holdout -0.76 pp" leaves no
            # room, and a wrapped interval ("95% [-1.74," / "0.21]") is read as two numbers
            text.append(f"\n  95% [{100 * low:.2f}, {100 * high:.2f}]")
        if c["p_value"] is not None:
            text.append(f"  p={c['p_value']:.3f}")
        if c["cost_per_incremental"] is not None:
            text.append(f"\n  {money(c['cost_per_incremental'], currency)} per extra user back")
    if result.get("verdict"):
        text.append(f"\n\n{result['verdict']}", style="bold")
    for note in result.get("notes", [])[:2]:
        text.append(f"\n{note}", style="dim")
    return Group(head, arms, text)


def _state(row: CampaignListRow) -> str:
    """The state column: the demo's simulated campaign says so (it is always completed); a scheduled one how it will
    be launched. A launched dry run's mode is in its sent count ("would 292", screens.format.sent_cell), which
    leaves its name room at 80 columns; a dry-run draft's is not shown until it has one."""
    if row.get("simulated"):
        return "simulated"
    if row["status"] == "scheduled":
        return row["status"] + _scheduled_mode(row)
    return row["status"]


def _scheduled_mode(row: CampaignListRow) -> str:
    """How a scheduled campaign will be launched (issue 16): held (a real send run-due did not launch), real, dry."""
    return (" ·held" if row["hold_reason"] else " ·void" if row["void"] else " ·real" if row["mode"] == "real"
            else " ·dry")


def _schedule_note(row: CampaignListRow, tz: str | None, keys: str = "") -> Text | None:
    """The plan pane's first line for a scheduled campaign: when, real or dry run — or why run-due held it; a
    one-off's then says `keys` (r: confirm again · u: unschedule)."""
    from console.timefmt import local_time

    if row["status"] != "scheduled" or not row["next_run_at"]:
        return None
    when = local_time(row["next_run_at"], tz)
    hint = Text(f"{keys}\n" if keys and not row["every_days"] else "", style="dim")
    if row["hold_reason"]:
        return Text.assemble(Text(f"HELD, not sent — scheduled real at {when}: {row['hold_reason']}\n",
                                  style="bold red"), hint)
    if row["void"]:   # run-due will hold it: the operator should confirm again first
        return Text.assemble(Text(f"scheduled REAL at {when}, confirmation VOID: {'; '.join(row['void'])} — "
                                  "confirm again\n", style="bold red"), hint)
    return Text.assemble(Text(f"scheduled {'REAL' if row['mode'] == 'real' else 'dry run'} at {when}\n",
                              style="bold"), hint)


class CampaignsScreen(ListFilter, ScheduledCampaignKeys, WinbackScreen):
    """The list of campaigns and the plan of the highlighted one."""

    LABEL = "Campaigns"
    CSS_PATH = "campaigns.tcss"
    POLL_SECONDS = 3.0
    FILTER_TABLE = "#campaigns-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListFilter.FILTER_BINDINGS,
        Binding("n", "new", "New", id="campaigns.new"),
        Binding("l", "launch(False)", "Dry-run", id="campaigns.launch",
                tooltip="Launch a dry-run now (records everything, sends nothing)"),
        Binding("L", "launch(True)", "Real…", key_display="L", id="campaigns.launch_real",
                tooltip="Launch for real: shows the real plan and asks you to type the message count"),
        Binding("enter", "open", "Deliveries", id="campaigns.open"),
        Binding("t", "toggle_outcomes", "Outcomes", id="campaigns.outcomes",
                tooltip="Show the plan or the outcomes against the holdout"),
        # a scheduled one-off only: not in the 80-column footer; its plan pane names them, ? and ctrl+p list them
        Binding("r", "reconfirm", "Confirm again", id="campaigns.reconfirm", show=False,
                tooltip="Confirm a scheduled send again as a real send (held, void, or a new time)…"),
        Binding("u", "unschedule", "Unschedule", id="campaigns.unschedule", show=False,
                tooltip="Unschedule a scheduled launch (asks first; nothing is sent)…"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._plans: dict[tuple[str, bool], Plan] = {}
        self._planned_for: str | None = None
        self._real_pending: str | None = None   # a real launch waiting for its plan before it asks to confirm
        self.showing = "plan"  # or "outcomes"
        self._tally_cache: dict = {}  # settled campaigns' tallies, reused between polls (see sources)
        self._flow: NewCampaignScreen | None = None  # the creation flow opened from here: its draft, once made
        self._scheduled: dict[str, Text] = {}   # scheduled campaigns' first plan line: when, real or dry, held
        self._rows: dict[str, CampaignListRow] = {}   # the list as shown, for r / u (ScheduledCampaignKeys)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="campaigns-main"):
            with Vertical(id="campaign-list") as box:
                box.border_title = "Campaigns"
                yield FitTable(CAMPAIGN_COLUMNS, cursor_type="row", id="campaigns-table", extras_first=True)
                yield Static(Text("no campaigns yet — n starts one", style="dim"), id="no-campaigns")
            with Vertical(id="campaign-plan") as box:
                box.border_title = "Plan"   # "Plan · NAME" once loaded: the campaign may be a real one
                yield Static(id="campaign-plan-text")

    def refresh_data(self) -> None:
        self.fetch("campaigns", sources.campaign_rows, self._tally_cache)

    def show_campaigns(self, rows: list[CampaignListRow]) -> None:
        table = self.query_one("#campaigns-table", FitTable)
        self.query_one("#no-campaigns").display = not rows
        table.display = bool(rows)
        self._rows = {r["name"]: r for r in rows}
        self._scheduled = {r["name"]: note for r in rows if (note := _schedule_note(
            r, self.timezone, self.schedule_keys_hint(dry=r["mode"] != "real")))}
        table.show([(r["name"], {**r, "status": _state(r), "cost": Text(money(r["cost"], self.currency), justify="right"),
                                  "sent": sent_cell(r["sent"], r["mode"])}) for r in rows])
        if rows and self._planned_for is None:
            self._plan_highlighted()
        self._to_new_draft(table)

    def _to_new_draft(self, table: FitTable) -> None:
        """Back from the creation flow with a draft made: the cursor goes to it, so `l` (which never asks)
        launches the new draft, not the campaign highlighted before."""
        made = self._flow.created if self._flow else None
        if made is None or made not in [str(key.value) for key in table.rows]:
            return
        self._flow = None
        table.move_cursor(row=table.get_row_index(made))

    @on(DataTable.RowHighlighted, "#campaigns-table")
    def _plan_highlighted(self) -> None:
        name = cursor_key(self.query_one("#campaigns-table", DataTable))
        if name and name != self._planned_for:
            self._planned_for = name
            self._load_panel(name)

    def _load_panel(self, name: str) -> None:
        self.query_one("#campaign-plan-text", Static).loading = True
        if self.showing == "outcomes":
            self.fetch("outcomes", sources.campaign_outcomes, self.workspace.config, name)
        else:
            self.fetch("plan", sources.plan_campaign, self.workspace.config, name, False)

    def action_toggle_outcomes(self) -> None:
        """t: the right panel shows the plan or the outcomes against the holdout."""
        self.showing = "outcomes" if self.showing == "plan" else "plan"
        if self._planned_for:
            self._load_panel(self._planned_for)

    def show_outcomes(self, result: OutcomesDict) -> None:
        if result["campaign"] != self._planned_for or self.showing != "outcomes":
            return
        widget = self.query_one("#campaign-plan-text", Static)
        widget.loading = False
        widget.update(render_outcomes(result))
        self.query_one("#campaign-plan").border_title = f"Outcomes · {result['campaign']}"

    def on_resize(self) -> None:
        """The plan's labels and bars are laid out for the pane's width (render_plan): drawn again for the new one
        once the layout has it — the wider pane's lines wrapped every bar onto a line of its own."""
        plan = self._plans.get((self._planned_for, False)) if self._planned_for else None
        if plan is not None and self.showing == "plan":
            self.call_after_refresh(self.show_plan, plan)

    def show_plan(self, plan: Plan) -> None:
        self._plans[(plan["campaign"], plan["real"])] = plan
        if plan["real"] and getattr(self, "_real_pending", None) == plan["campaign"]:
            self._real_pending = None
            if plan.get("launch_refusal"):
                # Running, paused, cancelled or already sent: no count to type, say why not (the plan shows why).
                self.notify(plan["launch_refusal"], title="Cannot launch", severity="warning")
            else:
                confirm_real_launch(self, plan)
                return
        if plan["campaign"] != self._planned_for or self.showing != "plan":
            return
        widget = self.query_one("#campaign-plan-text", Static)
        widget.loading = False
        text = render_plan(plan, self.currency, self.query_one("#campaign-plan").content_size.width)
        note = self._scheduled.get(plan["campaign"])
        widget.update(Text.assemble(note, text) if note else text)
        self.query_one("#campaign-plan").border_title = f"Plan · {plan['campaign']}"

    def failed_plan(self, text: str) -> None:
        """The plan (or outcomes) cannot be made — a bad price in winback.toml, a busy database: said in the
        panel, not as a bug, and the panel stops loading."""
        if getattr(self, "_real_pending", None):
            self._real_pending = None
            self.notify(text, title="Cannot plan the real launch", severity="error")
        widget = self.query_one("#campaign-plan-text", Static)
        widget.loading = False
        widget.update(Text(f"cannot {'plan' if self.showing == 'plan' else 'measure'}: {text}", style="bold red"))

    def failed_outcomes(self, text: str) -> None:
        self.failed_plan(text)

    def action_new(self) -> None:
        """n: the creation flow."""
        self._flow = NewCampaignScreen()
        self.app.push_screen(self._flow)

    def action_launch(self, real: bool) -> None:
        """l: dry-run now; L: plan for real, then ask for the typed count."""
        name = cursor_key(self.query_one("#campaigns-table", DataTable))
        if name:
            self.launch(name, real)

    def launch(self, name: str, real: bool) -> None:
        """Launch `name`: a dry-run starts now and Deliveries follows it; a real one is planned, then confirmed."""
        if not real:
            winback_app(self).start_dispatch("launch", name, real=False)
            winback_app(self).open_deliveries(name)
            return
        self._real_pending = name
        self.notify(f"checking {name} before the real launch …", timeout=4)
        # the pre-launch check first (it connects, as `launch --real` does before it asks); its answer is a real
        # plan, which show_plan hands to confirm_real_launch
        self.fetch("plan", prelaunch_check, self.workspace.config, name)

    @on(DataTable.RowSelected, "#campaigns-table")
    def _campaign_selected(self) -> None:
        self.action_open()  # the table takes Enter itself: its selection is the screen's Enter

    def action_open(self) -> None:
        """Enter: the campaign's live deliveries."""
        name = cursor_key(self.query_one("#campaigns-table", DataTable))
        if name:
            winback_app(self).open_deliveries(name)
