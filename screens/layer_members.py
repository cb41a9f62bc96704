"""The users of one heat map cell (Enter on the overview's heat map): masked, the first 200, sortable as the
Segments members view; Enter opens a person, `n` saves them as a segment. Split from screens/overview.py (issue
16: modules under ~400 lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from screens import sources
from screens.base import WinbackScreen, cursor_key, winback_app
from screens.columns import Column, FitTable
from screens.member_order import SORT_TOOLTIP, next_order, score_cells, with_score_column
from screens.widgets import EmptyState

if TYPE_CHECKING:
    from screens.sources.overview import LayerMembers

# An empty cell (the heat map's cursor starts on its first, warm × loyal, which no dormant user is in).
EMPTY_LAYER = "Nobody is in this layer now. Esc goes back to the heat map: the arrows move to another cell " \
              "(█ marks the fullest), Enter lists its users."
# A layer's members (Enter on a heat-map cell).
LAYER_MEMBER_COLUMNS = (
    Column("user", "user", least=8, most=16),
    Column("name", "name", priority=2, least=4, most=12),
    Column("phone", "phone", least=11, most=24),
    Column("region", "region", priority=3, least=4, most=12),
    Column("orders", "orders", "count", priority=1),
    Column("last order", "last order", priority=1, least=10),
)


class LayerMembersScreen(WinbackScreen):
    """The users of one heat map cell, masked; Enter opens a person's page, Esc goes back to the overview."""

    LABEL = "Layer"
    CSS_PATH = "layer_members.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "open_person", "Person", show=False, id="layer.person"),
        Binding("n", "save_segment", "Save as segment", id="layer.segment",
                tooltip="A new segment of exactly these users (the rule filled in; name it, ctrl+s)"),
        Binding("S", "member_order", "Sort", key_display="S", id="layer.order", tooltip=SORT_TOOLTIP),
    ]

    def __init__(self, title: str, rule: str) -> None:
        super().__init__()
        self.title_text = title
        self.rule = rule
        self.order = "id"   # S: as the Segments members view (screens/member_order.py)

    def compose_body(self) -> ComposeResult:
        with Vertical(id="layer-members") as box:
            box.border_title = self.title_text
            box.border_subtitle = self.rule
            yield FitTable(LAYER_MEMBER_COLUMNS, cursor_type="row", id="layer-table")
            yield EmptyState(EMPTY_LAYER, id="layer-empty")

    def on_mount(self) -> None:
        self.query_one("#layer-table").focus()

    def refresh_data(self) -> None:
        self.fetch("members", sources.layer_members, self.rule, order_by=self.order)

    def show_members(self, data: LayerMembers) -> None:
        if data["order_by"] != self.order:
            return   # asked for before S was pressed again
        shown = len(data["rows"])
        more = f" (first {shown:,})" if data["count"] > shown else ""
        by = f" · by {self.order}" if self.order != "id" else ""
        self.query_one("#layer-members").border_title = f"{self.title_text} · {data['count']:,} users{more}{by}"
        table = self.query_one("#layer-table", FitTable)
        # an empty cell: what to do instead of a blank table (its header alone says nothing)
        table.display = data["count"] > 0
        self.query_one("#layer-empty").display = not table.display
        wanted = with_score_column(LAYER_MEMBER_COLUMNS, self.order)
        if table.specs != wanted:
            table.set_columns(wanted)
        table.show([
            (r["user"], {"user": r["user"], "name": r["name"] or "—", "phone": r["phone"] or "—",
                         "region": r["region"] or "—", "orders": r["orders"] or 0,
                         "last order": r["last_order"] or "—", **score_cells(self.order, r)})
            for r in data["rows"]])

    def action_member_order(self) -> None:
        """S: sort the layer's users the next way (highest first; unscored last), as the Segments members view."""
        self.order = next_order(self.order)
        self.refresh_data()

    def failed_members(self, text: str) -> None:
        """Not listable in this order (uplift without a usable fit): say why, back to id order."""
        self.notify(text, title="Sort", severity="warning")
        if self.order != "id":
            self.order = "id"
            self.refresh_data()

    @on(DataTable.RowSelected, "#layer-table")
    def _person_selected(self) -> None:
        self.action_open_person()

    def action_open_person(self) -> None:
        user = cursor_key(self.query_one("#layer-table", DataTable))
        if user:
            winback_app(self).open_person(user)

    def action_save_segment(self) -> None:
        """n: the segment editor with this cell's rule filled in, so a campaign can pick exactly these users."""
        from screens.segment_editor import SegmentEditorScreen

        # The editor says it was saved and where to use it: one notification, not a second one from here.
        self.app.push_screen(SegmentEditorScreen(rule=self.rule))
