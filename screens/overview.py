"""Overview, the first screen: the dormancy funnel, the heat map of the dormant (or lost) users by layer,
campaigns, and recent audit.

The heat map's meaning never rests on colour: each cell carries its count and a shade mark (░ ▒ ▓ █, fewer to
more) that reads the same in true colour, in 16 colours and under NO_COLOR; the background ramp is added only
where the terminal can draw it as a ramp (256 colours or more)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from screens import sources
from screens.base import WinbackScreen, cursor_key, nav_bindings, winback_app
from screens.columns import Column, FitTable
from screens.format import count, local_time, money, progress, sent_cell
from screens.host import overview_footer
from screens.layer_members import LayerMembersScreen as LayerMembersScreen  # moved; imported from here too
from screens.widgets import BarChart, EmptyState, HeatMap

if TYPE_CHECKING:
    from console.audit import AuditEntry
    from console.workspace_refresh import WorkspaceRefresh
    from screens.sources.campaigns import CampaignListRow
    from screens.sources.overview import OverviewActivity, OverviewProfiles

NO_PROFILES = "no profiles yet — run winback refresh"
# A fresh `winback init`: there is nobody to profile yet, so "run refresh" would send the operator the wrong way.
NO_USERS = "no customers yet — press {key} to import a file (or winback import users FILE)"
# The overview's campaigns: name, state and sent always; the channel goes first when they do not fit, then the
# skipped, the progress bar and the cost ("would ¥1,234": a dry run's).
CAMPAIGN_COLUMNS = (
    Column("name", "name", "name", least=8, most=28),
    Column("channel", "ch", priority=4),
    Column("state", "state", priority=0, least=15),
    Column("progress", "progress", priority=2, least=13),
    Column("sent", "sent", "count"),   # a dry run's or a simulated campaign's reads "would 10,056" (sent_cell)
    Column("skipped", "skipped", "count", priority=3),
    Column("cost", "cost", priority=1, least=12),
)

# Fewer → more users in a cell, as marks (any terminal) and, in 256+ colours, as backgrounds (faint → strong).
SHADES = ("░", "▒", "▓", "█")
_RAMP = ("#1f3f5f", "#215a86", "#2a93d4", "#4fb0ee")
LEGEND = f"{SHADES[0]} fewer {SHADES[1]} {SHADES[2]} {SHADES[3]} more users"


def shade(value: int, top: int) -> int:
    """The shade level (0 … len(SHADES)-1) of a cell holding `value` users when the fullest holds `top`."""
    return min(len(SHADES) - 1, (len(SHADES) * value - 1) // top) if value and top else 0


def _short(label: str) -> str:
    return label.split(" (")[0]


def layer_heat_table(rows: list[str], columns: list[str], cells: list[list[int]], *, width: int | None,
                     cursor: tuple[int, int] | None, ramp: bool) -> Table:
    """The layer grid with a shade mark before each count; backgrounds only when `ramp` (enough colours)."""
    numbers = max((len(count(v)) for row in cells for v in row), default=1) + 2
    needed = max(map(len, rows), default=0) + sum(max(len(c), numbers) + 1 for c in columns)
    if width is not None and needed > width:
        rows, columns = [_short(r) for r in rows], [_short(c) for c in columns]
    # Still too wide (a million users a layer at 80 columns): the shade marks go, never a digit of a count (issue
    # 18); the background still shows the heat where there is colour.
    marks = width is None or max(map(len, rows), default=0) + sum(
        max(len(c), numbers) + 1 for c in columns) <= width
    top = max((v for row in cells for v in row), default=0)
    table = Table(box=None, padding=(0, 0, 0, 1), show_edge=False, expand=False)
    table.add_column("", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for i, (label, values) in enumerate(zip(rows, cells, strict=False)):
        styled = []
        for j, v in enumerate(values):
            level = shade(v, top)
            mark = SHADES[level] if v else " "
            style = f"on {_RAMP[level]}" if v and ramp else ("" if v else "dim")
            if cursor == (i, j):
                style = "bold reverse"
            styled.append(Text(f"{mark} {count(v)}" if marks else count(v), style=style))
        table.add_row(Text(label, style="bold" if cursor and cursor[0] == i else ""), *styled)
    return table


class LayerHeatMap(HeatMap):
    """The overview's heat map: counts with shade marks, so it reads without colour."""

    def render(self) -> RenderableType:
        if not self.matrix:
            return Text(self.empty, style="dim")
        rows, columns, cells = self.matrix
        system = self.app.console.color_system
        ramp = not self.app.no_color and system in ("256", "truecolor")
        return layer_heat_table(list(rows), list(columns), [list(c) for c in cells], width=self.size.width or None,
                                cursor=self.cursor if self.has_focus else None, ramp=ramp)


class OverviewScreen(WinbackScreen):
    """Where dormant users are, what is running, what happened last."""

    LABEL = "Overview"
    CSS_PATH = "overview.tcss"
    POLL_SECONDS = 2.0
    BINDINGS: ClassVar[list[BindingType]] = [
        *overview_footer([b for b in nav_bindings(show=True) if b.id != "goto.overview"]),   # with `i` Import
        Binding("enter", "open_campaign", "Deliveries", show=False, id="overview.open"),
        Binding("l", "layers", "Layers", show=False, id="overview.layers",
                tooltip="Layer heat map: arrows move, Enter lists that layer's users"),
        Binding("t", "toggle_heat", "Dormant/lost", show=False, id="overview.heat_state",
                tooltip="Heat map: dormant ⇄ lost users by layer"),
        Binding("R", "refresh_profiles", "Refresh profiles", key_display="R", show=False, id="overview.refresh",
                tooltip="Recompute profiles, layers, recommendations and scores (winback refresh)"),
        Binding("escape", "back", "Back", show=False, id="back"),  # the first screen: nowhere further back
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="overview-top"):
            with Vertical(id="dormancy") as box:
                box.border_title = "Dormancy"
                yield BarChart(NO_PROFILES, id="funnel")
            with Vertical(id="layers") as box:
                box.border_title = "Dormant users by layer"
                box.border_subtitle = "l, Enter: users · t: lost"
                yield LayerHeatMap(NO_PROFILES, selectable=True, id="heat")
                yield Static(LEGEND, id="heat-legend")
        with Vertical(id="campaigns") as box:
            box.border_title = "Campaigns"
            yield FitTable(CAMPAIGN_COLUMNS, cursor_type="row", id="campaign-table")
            yield EmptyState("no campaigns yet — press c to create one", id="no-campaigns")
        yield Static(id="refresh-status", markup=False)
        yield Static(id="recent")

    def __init__(self) -> None:
        super().__init__()
        self._profiles_at = float("-inf")
        self._profiles_as_of: int | None = None   # when profiles were last refreshed (under the dormancy box)
        self._tally_cache: dict = {}  # settled campaigns' tallies, reused between polls (see sources)
        self._layer_rules: list[list[str | None]] = []  # per heat map cell: the rule of its users, or None
        self.heat_state = "dormant"  # whose layers the heat map shows: dormant or lost (t)

    def on_mount(self) -> None:
        # Honest placeholders until the first read lands (usually within a frame or two).
        self.query_one("#funnel").loading = True
        self.query_one("#heat").loading = True
        self.query_one("#campaign-table").focus()  # Enter opens a campaign; l (or Tab) goes to the heat map
        self.query_one("#refresh-status").display = False  # shown from the first `R` on

    # Dormancy and layers move only when profiles are refreshed: read them every PROFILE_SECONDS, not every poll.
    PROFILE_SECONDS = 30.0

    def refresh_data(self) -> None:
        now = time.monotonic()
        if now - self._profiles_at > self.PROFILE_SECONDS:
            self._profiles_at = now
            self.fetch("profiles", sources.overview_profiles, self.workspace.config, self.heat_state)
        self.fetch("activity", sources.overview_activity, self._tally_cache)

    def show_profiles(self, data: OverviewProfiles) -> None:
        funnel = self.query_one("#funnel", BarChart)
        heat = self.query_one("#heat", HeatMap)
        funnel.loading = heat.loading = False
        funnel.empty = heat.empty = (NO_PROFILES if data.get("has_users", True)
                                     else NO_USERS.format(key=winback_app(self).key_for("import", "i")))
        funnel.refresh()
        heat.refresh()
        funnel.rows = tuple(data["funnel"]) if data["funnel"] else None
        heat.matrix = tuple(data["layers"]) if data["layers"] else None
        self._layer_rules = data.get("layer_rules") or []
        state = data.get("heat_state", self.heat_state)
        other = "dormant" if state == "lost" else "lost"
        box = self.query_one("#layers")
        box.border_title = f"{state.capitalize()} users by layer"
        box.border_subtitle = f"l, Enter: users · {winback_app(self).key_for('overview.heat_state', 't')}: {other}"
        self._profiles_as_of = data.get("profiles_as_of")
        self._say_profiles_as_of()
        self.call_after_refresh(self._say_profiles_as_of)   # the box's width once laid out

    def on_resize(self) -> None:
        self.call_after_refresh(self._say_profiles_as_of)

    def _say_profiles_as_of(self) -> None:
        """'profiles as of … UTC+8' under the dormancy box: with its zone, as every other time the console shows
        (the header's is the clock, not the profiles'); in a narrow box the year goes first, as in the header."""
        as_of = self._profiles_as_of
        dormancy = self.query_one("#dormancy")
        words = [f"profiles as of {local_time(as_of, self.timezone, fmt, label=True)}"
                 for fmt in ("%Y-%m-%d %H:%M", "%m-%d %H:%M")] if as_of else [""]
        room = dormancy.outer_size.width - 6   # corners, the border's run before the subtitle and its spaces
        dormancy.border_subtitle = next((w for w in words if len(w) <= room), words[-1])

    def show_activity(self, data: OverviewActivity) -> None:
        self._show_campaigns(data["campaigns"] or [])
        self._show_recent(data["recent"])

    def _show_campaigns(self, campaigns: list[CampaignListRow]) -> None:
        table = self.query_one("#campaign-table", FitTable)
        self.query_one("#no-campaigns").display = not campaigns
        table.display = bool(campaigns)
        rows = []
        for c in campaigns:
            # a simulated campaign (the demo's) is always completed: its state says what it is, in the same width.
            # A launched dry run's mode is in its sent count ("would 400", sent_cell), as on the Campaigns list:
            # saying it in the state too took the name's room at 80 columns ('we-miss…'). Scheduled ones say it.
            dry = c.get("dry_run") and c["status"] == "scheduled"
            state = "simulated" if c.get("simulated") else c["status"] + (" (dry)" if dry else "")
            rows.append((c["name"], {
                "name": c["name"], "channel": c["channel"], "state": state,
                "progress": progress(c.get("done", 0), c.get("planned", 0), width=8),
                "sent": sent_cell(c.get("sent", 0), c.get("mode")), "skipped": c.get("skipped", 0),
                # A dry run spends nothing: its money is what it would cost.
                "cost": Text(("would " if c.get("dry_run") and c.get("cost") is not None else "")
                             + money(c.get("cost"), self.currency, places=0), justify="right"),
            }))
        table.show(rows)

    def _show_recent(self, entries: list[AuditEntry]) -> None:
        recent = self.query_one("#recent", Static)
        if not entries:
            recent.update(Text(" Recent: nothing yet", style="dim"))
            return
        text = Text(" Recent: ", style="bold")
        for i, e in enumerate(entries[:3]):
            if i:
                text.append(" · ", style="dim")
            text.append(f"{local_time(e['at'], self.timezone, '%H:%M')} {e['actor']} {e['action']}")
        recent.update(text)

    @on(DataTable.RowSelected, "#campaign-table")
    def _campaign_selected(self) -> None:
        self.action_open_campaign()  # the table takes Enter itself: its selection is the screen's Enter

    def action_open_campaign(self) -> None:
        """Enter on a campaign: its live deliveries."""
        table = self.query_one("#campaign-table", DataTable)
        name = cursor_key(table)
        if name:
            winback_app(self).open_deliveries(name)

    def action_layers(self) -> None:
        """l: focus the layer heat map."""
        self.query_one("#heat", HeatMap).focus()

    def action_toggle_heat(self) -> None:
        """t: the heat map of the lost users instead of the dormant (and back)."""
        self.heat_state = "lost" if self.heat_state == "dormant" else "dormant"
        self._profiles_at = time.monotonic()
        self.fetch("profiles", sources.overview_profiles, self.workspace.config, self.heat_state)

    @on(HeatMap.Selected, "#heat")
    def _layer_selected(self, event: HeatMap.Selected) -> None:
        """Enter on a heat map cell: the list of that cell's users (dormant or lost, in that layer)."""
        heat = self.query_one("#heat", HeatMap)
        rows, columns, _ = heat.matrix or ((), (), ())
        try:
            rule = self._layer_rules[event.row][event.column]
        except IndexError:
            rule = None
        cell = f"{_short(rows[event.row])} {_short(columns[event.column])}" if rows else "this cell"
        if rule:
            self.app.push_screen(LayerMembersScreen(f"{self.heat_state} · {cell}", rule))
            return
        self.notify(f"{cell} is no layer (these users have no visits or orders to place them).",
                    title="Not a layer", severity="warning")


    # ---- R: `winback refresh` from the console ---------------------------------------------------------------

    def action_refresh_profiles(self) -> None:
        """R (or "Refresh profiles…" in the palette): recompute profiles, layers, recommendations and scores as
        `winback refresh` does, in a thread worker with its own connection; the line above "Recent" shows the
        steps, then the result, and the funnel and heat map are read again."""
        from screens.refresh import refresh_running, start_refresh

        app = winback_app(self)
        if refresh_running(app):
            self.notify("A refresh is running: its result comes here.", title="Refresh", severity="warning")
            return
        self._refresh_line(Text("Refreshing profiles …", style="bold"))
        start_refresh(app, self._refresh_step, self._refreshed, self._refresh_failed)

    def _refresh_line(self, text: Text) -> None:
        status = self.query_one("#refresh-status", Static)
        status.display = True
        status.update(text)

    def _refresh_step(self, what: str, step: int, total: int) -> None:
        self._refresh_line(Text.assemble(("Refreshing ", "bold"), (what, "bold"), " ",
                                         (progress(step, total, width=10) if total else "…", "")))

    def _refreshed(self, summary: WorkspaceRefresh) -> None:
        """The refresh committed: say what it did, and read the figures it changed."""
        from screens.refresh import result_line

        line = result_line(summary, self.timezone)
        self._refresh_line(Text(line))
        self.notify(line, title="Refresh finished")
        winback_app(self).data_version += 1  # every screen reads again what the refresh changed
        self._profiles_at = float("-inf")  # dormancy and layers moved: read them now, not in PROFILE_SECONDS
        self.refresh_data()

    def _refresh_failed(self, text: str) -> None:
        self._refresh_line(Text(f"Refresh did not happen: {text}", style="bold red"))
