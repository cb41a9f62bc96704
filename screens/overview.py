"""Overview, the first screen: the dormancy funnel, the layer heat map, campaigns, and recent audit."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from screens import sources
from screens.base import WinbackScreen, cursor_key, nav_bindings, sync_table, winback_app
from screens.format import count, local_time, money, progress
from screens.widgets import BarChart, EmptyState, HeatMap

NO_PROFILES = "no profiles yet — run winback refresh"


class OverviewScreen(WinbackScreen):
    """Where dormant users are, what is running, what happened last."""

    LABEL = "Overview"
    CSS_PATH = "overview.tcss"
    POLL_SECONDS = 2.0
    BINDINGS: ClassVar[list[BindingType]] = [
        *[b for b in nav_bindings(show=True) if b.id != "goto.overview"],
        Binding("enter", "open_campaign", "Deliveries", show=False, id="overview.open"),
        Binding("l", "layers", "Layers", show=False, id="overview.layers",
                tooltip="Layer heat map: arrows move, Enter opens the layer"),
        Binding("escape", "back", "Back", show=False, id="back"),  # the first screen: nowhere further back
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="overview-top"):
            with Vertical(id="dormancy") as box:
                box.border_title = "Dormancy"
                yield BarChart(NO_PROFILES, id="funnel")
            with Vertical(id="layers") as box:
                box.border_title = "Layers (users; darker = more)"
                box.border_subtitle = "l, then Enter opens a layer"
                yield HeatMap(NO_PROFILES, selectable=True, id="heat")
        with Vertical(id="campaigns") as box:
            box.border_title = "Campaigns"
            table: DataTable = DataTable(cursor_type="row", id="campaign-table")
            table.add_column("name", key="name")
            table.add_column("ch", key="channel")  # short: 80 columns leave room for "would ¥1,234"
            table.add_column("state", key="state")
            table.add_column("progress", key="progress")
            table.add_column("sent", key="sent")
            table.add_column("skipped", key="skipped")
            table.add_column("cost", key="cost")
            yield table
            yield EmptyState("no campaigns yet — press c to create one", id="no-campaigns")
        yield Static(id="recent")

    def __init__(self) -> None:
        super().__init__()
        self._profiles_at = float("-inf")
        self._tally_cache: dict = {}  # settled campaigns' tallies, reused between polls (see sources)
        self._layer_segments: list[list[str | None]] = []  # per heat map cell: its preset segment, or None

    def on_mount(self) -> None:
        # Honest placeholders until the first read lands (usually within a frame or two).
        self.query_one("#funnel").loading = True
        self.query_one("#heat").loading = True
        self.query_one("#campaign-table").focus()  # Enter opens a campaign; l (or Tab) goes to the heat map

    # Dormancy and layers move only when profiles are refreshed: read them every PROFILE_SECONDS, not every poll.
    PROFILE_SECONDS = 30.0

    def refresh_data(self) -> None:
        now = time.monotonic()
        if now - self._profiles_at > self.PROFILE_SECONDS:
            self._profiles_at = now
            self.fetch("profiles", sources.overview_profiles, self.workspace.config)
        self.fetch("activity", sources.overview_activity, self._tally_cache)

    def show_profiles(self, data: dict[str, Any]) -> None:
        funnel = self.query_one("#funnel", BarChart)
        heat = self.query_one("#heat", HeatMap)
        funnel.loading = heat.loading = False
        funnel.rows = tuple(data["funnel"]) if data["funnel"] else None
        heat.matrix = tuple(data["layers"]) if data["layers"] else None
        self._layer_segments = data.get("layer_segments") or []
        as_of = data.get("profiles_as_of")
        self.query_one("#dormancy").border_subtitle = (
            f"profiles as of {local_time(as_of, self.timezone)}" if as_of else "")

    def show_activity(self, data: dict[str, Any]) -> None:
        self._show_campaigns(data["campaigns"] or [])
        self._show_recent(data["recent"])

    def _show_campaigns(self, campaigns: list[dict[str, Any]]) -> None:
        table = self.query_one("#campaign-table", DataTable)
        self.query_one("#no-campaigns").display = not campaigns
        table.display = bool(campaigns)
        rows = []
        for c in campaigns:
            state = c["status"] + (" (dry)" if c.get("dry_run") and c["status"] != "draft" else "")
            rows.append((c["name"], [
                c["name"], c["channel"], state,
                progress(c.get("done", 0), c.get("planned", 0), width=8),
                Text(count(c.get("sent", 0)), justify="right"),
                Text(count(c.get("skipped", 0)), justify="right"),
                # A dry run spends nothing: its money is what it would cost.
                Text(("would " if c.get("dry_run") and c.get("cost") is not None else "")
                     + money(c.get("cost"), self.currency, places=0), justify="right"),
            ]))
        sync_table(table, rows)

    def _show_recent(self, entries: list[dict[str, Any]]) -> None:
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

    @on(HeatMap.Selected, "#heat")
    def _layer_selected(self, event: HeatMap.Selected) -> None:
        """Enter on a heat map cell: the Segments screen on that layer's preset segment."""
        heat = self.query_one("#heat", HeatMap)
        rows, columns, _ = heat.matrix or ((), (), ())
        try:
            segment = self._layer_segments[event.row][event.column]
        except IndexError:
            segment = None
        if segment:
            winback_app(self).open_segment(segment)
            return
        cell = f"{rows[event.row]} × {columns[event.column]}" if rows else "this cell"
        self.notify(f"No preset segment for {cell}. Users there are in no layer, or the preset was deleted — "
                    "winback init recreates the presets; n on Segments makes one.",
                    title="No segment for this cell", severity="warning")
