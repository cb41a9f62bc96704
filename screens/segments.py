"""Segments: the list with live counts; for the one under the cursor its layer matrix, profile breakdowns against
the whole base, and its members (paged, masked; `U` unmasks the page, which the segments service audits).

`n` creates and `e` edits a rule on the segment editor screen, where the count updates as you type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from screens import sources, table_filter
from screens.base import ListFilter, WinbackScreen, cursor_key
from screens.columns import Column, FitTable
from screens.fit_rows import FitRows
from screens.format import bar, count
from screens.member_order import SORT_TOOLTIP, next_order, score_cells, with_score_column
from screens.widgets import EmptyState, HeatMap

if TYPE_CHECKING:
    from console.segments.breakdowns import BreakdownRow
    from screens.sources.segments import MembersPage, SegmentDetail, SegmentItem

DIMENSIONS = ("region", "gender", "age_band", "occupation", "access_channel", "top_category", "aov_band",
              "last_action", "last_object", "layer", "grid")
VIEWS = {"seg-layers": "1 Layers", "seg-breakdown": "2 Breakdown", "seg-members": "3 Members"}
# S cycles the members' order, with the score sorted by in a column: screens/member_order.py (the overview's layer
# list sorts the same way).
# A long segment name is cut with …, its count never.
SEGMENT_COLUMNS = (Column("name", "name", "name", least=8, most=40), Column("users", "users", "count"))
# Members at 80 columns leave out the layer, then the dormancy (view 1 shows both); a score sorted by stays.
MEMBER_COLUMNS = (
    Column("user", "user", least=8, most=16),
    Column("name", "name", priority=2, least=4, most=12),
    Column("phone", "phone", least=11, most=24),
    Column("dormancy", "dormancy", priority=3, least=8, most=14),
    Column("layer", "layer", priority=4, least=8, most=14),
    Column("orders", "orders", "count", priority=1),
    Column("last order", "last order", priority=1, least=10),
)


# The breakdown is drawn in a Static with FitTable's rules (screens/fit_rows.py): a long value is cut with …, the
# users whole with separators; the bar goes before a value would be cut below 8 cells.
BREAKDOWN_COLUMNS = (
    Column("value", "", "name", least=8, most=20),
    Column("users", "users", "count"),
    Column("bar", "", priority=1, least=12, most=12),
    Column("share", "share", "count"),
    Column("index", "index", "count"),
)


def render_breakdown(rows: list[BreakdownRow], dimension: str) -> Group:
    """Share of the segment per value, with a bar, and its index against the whole base (100 = as common)."""
    head = Text(f"by {dimension.replace('_', ' ')} · index 100 = as common as in all users", style="dim")
    top = max((r["share"] for r in rows), default=0) or 1

    def index(value: int | None) -> Text:
        style = "green" if value and value >= 120 else "red" if value and value <= 80 else ""
        return Text("—" if value is None else str(value), style=style)

    return Group(head, FitRows(BREAKDOWN_COLUMNS, [{
        "value": str(r["value"]), "users": r["users"], "bar": Text(bar(r["share"] / top, 12), "cyan"),
        "share": Text(f"{100 * r['share']:.0f}%"), "index": index(r["index"]),
    } for r in rows]))


class SegmentsScreen(ListFilter, WinbackScreen):
    """Segments and what is inside them."""

    LABEL = "Segments"
    CSS_PATH = "segments.tcss"
    POLL_SECONDS = 10.0  # counts move as imports and refreshes land
    FILTER_TABLE = "#segments-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListFilter.FILTER_BINDINGS,
        Binding("n", "new", "New", id="segments.new"),
        Binding("e", "edit", "Edit", id="segments.edit", tooltip="Edit the rule of the segment under the cursor"),
        Binding("1", "view('seg-layers')", "Layers", id="segments.layers"),
        Binding("2", "view('seg-breakdown')", "Breakdown", id="segments.breakdown"),
        Binding("3", "view('seg-members')", "Members", id="segments.members"),
        Binding("v", "next_dimension", "Next breakdown", id="segments.dimension", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]", id="segments.next_page",
                show=False),
        Binding("left_square_bracket", "page(-1)", "Previous page", key_display="[", id="segments.prev_page",
                show=False),
        Binding("U", "unmask", "Unmask page (audited)", key_display="U", id="segments.unmask", show=False),
        Binding("S", "member_order", "Sort members", key_display="S", id="segments.order", show=False,
                tooltip=SORT_TOOLTIP),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None
        self.dimension = DIMENSIONS[0]
        self.page = 1
        self.unmasked = False
        self.order = "id"  # members' order, one of MEMBER_ORDERS
        self._rules: dict[str, str] = {}
        self._counts: dict[str, Text] = {}
        self._all_rows: list = []
        self._wanted: str | None = None  # open_segment asked for it before the list had loaded

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="segments-main"):
            with Vertical(id="segment-list") as box:
                box.border_title = "Segments"
                yield FitTable(SEGMENT_COLUMNS, cursor_type="row", id="segments-table")
                yield EmptyState("no segments yet — n creates one (winback init adds the presets)",
                                 id="no-segments")
            with Vertical(id="segment-detail") as box:
                box.border_title = "Segment"
                yield Static(id="segment-rule")
                yield Static(id="segment-views")
                with ContentSwitcher(initial="seg-layers", id="segment-switcher"):
                    yield HeatMap("no profiled users here — run winback refresh", id="seg-layers")
                    yield Static(id="seg-breakdown")
                    yield FitTable(MEMBER_COLUMNS, cursor_type="row", id="seg-members")

    def on_mount(self) -> None:
        self.query_one("#segments-table").focus()
        table_filter.searched_by(self.query_one("#seg-members", DataTable), self._search_members)
        self._show_views()

    def _search_members(self, needle: str) -> None:
        """`/` on the members: search every member of the segment (from page 1), not only the page loaded."""
        self.page = 1
        self.query_one("#seg-members", DataTable).clear()
        self._show_views()
        self._load_members()

    def refresh_data(self) -> None:
        self.fetch("segments", sources.segment_list)

    def show_rows(self, rows: Any) -> None:
        self._all_rows = list(rows)
        self.query_one("#segments-table", FitTable).show(self._all_rows)

    def show_segments(self, rows: list[SegmentItem]) -> None:
        self._rules = {r["name"]: r["rule"] for r in rows}
        table = self.query_one("#segments-table", DataTable)
        self.show_rows([(r["name"], {"name": r["name"], "users": self._counts.get(r["name"], Text("…", justify="right"))})
                        for r in rows])
        self.query_one("#segment-list").border_subtitle = f"{len(rows)}"
        self.query_one("#no-segments").display = not rows
        table.display = bool(rows)
        self.fetch("counts", sources.segment_counts, [r["name"] for r in rows])
        if self._wanted and self._wanted in self._rules:
            self._go_to(self._wanted)
        elif self.selected is None and rows:
            self._select(cursor_key(table))

    def show_counts(self, counts: dict[str, int | None]) -> None:
        self._counts = {name: Text(count(n), justify="right") for name, n in counts.items()}
        self.show_rows([(key, {"name": key, "users": self._counts.get(key, cells["users"])})
                        for key, cells in self._all_rows])

    @on(DataTable.RowHighlighted, "#segments-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(str(event.row_key.value))

    def _select(self, name: str | None) -> None:
        if not name or name == self.selected:
            return
        self.selected = name
        self.page, self.unmasked = 1, False
        self._load_detail()
        self._load_members()

    def _load_detail(self) -> None:
        if self.selected:
            self.fetch("detail", sources.segment_detail, self.workspace.config, self.selected, self.dimension)

    def _load_members(self) -> None:
        if self.selected:
            needle = table_filter.needle_of(self.query_one("#seg-members", DataTable))
            self.fetch("members", sources.segment_members, self.selected, self.page, self.unmasked, self.order,
                       search=needle)

    def show_detail(self, detail: SegmentDetail) -> None:
        if detail["name"] != self.selected:
            return
        box = self.query_one("#segment-detail")
        box.border_title = f"{detail['name']} · {count(detail['count'])} users"
        self.query_one("#segment-rule", Static).update(Text.assemble(("rule ", "dim"), detail["rule"]))
        matrix = detail["layers"]
        self.query_one("#seg-layers", HeatMap).matrix = (
            (matrix["rows"], matrix["cols"], matrix["counts"]) if matrix and matrix["total"] else None)
        self.query_one("#seg-breakdown", Static).update(render_breakdown(detail["breakdown"],
                                                                         detail["dimension"]))

    def _narrow(self) -> bool:
        """Under NARROW columns the members take the whole width (the list hides) and leave out the layer."""
        return self.size.width < self.NARROW

    NARROW = 120

    def show_members(self, page: MembersPage) -> None:
        table = self.query_one("#seg-members", FitTable)
        if page["search"] != table_filter.needle_of(table):
            return  # asked for before the operator typed more
        wanted = with_score_column(MEMBER_COLUMNS, self.order)
        if table.specs != wanted:
            table.set_columns(wanted)
        rows = []
        for r in page["rows"]:
            cells: dict[str, Any] = {**r, "phone": r["phone"] or r["email"] or "", "last order": r["last_order"],
                                     **score_cells(self.order, r)}
            rows.append((r["user"], cells))
        table.show(rows)
        table_filter.found(table, page["search"], page["matches"], page["total"])
        self._show_views()

    def _show_views(self) -> None:
        current = self.query_one("#segment-switcher", ContentSwitcher).current
        # At 80 columns the members need the whole width: the list steps aside until 1 or 2 brings it back.
        segment_list = self.query_one("#segment-list")
        hide = current == "seg-members" and self._narrow()
        if segment_list.display == hide:
            if hide and self.focused is self.query_one("#segments-table"):
                self.query_one("#seg-members").focus()
            segment_list.display = not hide
            if not hide:
                self.query_one("#segments-table").focus()
        text = Text()
        for view, label in VIEWS.items():
            if view == "seg-members":
                label += f" p{self.page}" + (" UNMASKED" if self.unmasked else "")
                if self.order != "id":
                    label += f" by {self.order}" + (" (calibrated)" if self.order == "uplift" else "")
            if view == "seg-breakdown":
                label += f": {self.dimension}"
            text.append(f" {label} ", "bold reverse" if view == current else "dim")
            text.append(" ")
        self.query_one("#segment-views", Static).update(text)

    # ---- keys -------------------------------------------------------------------------------------------

    def action_view(self, view: str) -> None:
        """1 2 3: layer matrix, breakdown, members."""
        self.query_one("#segment-switcher", ContentSwitcher).current = view
        self._show_views()

    def action_next_dimension(self) -> None:
        """v: break the segment down by the next profile dimension."""
        self.dimension = DIMENSIONS[(DIMENSIONS.index(self.dimension) + 1) % len(DIMENSIONS)]
        self.action_view("seg-breakdown")
        self._load_detail()

    def action_page(self, step: int) -> None:
        """] and [: the next or previous page of members."""
        self.page = max(1, self.page + step)
        self.action_view("seg-members")
        self._load_members()

    def action_member_order(self) -> None:
        """S: sort the members by the next order (highest first; users without a score last), from page 1."""
        self.order = next_order(self.order)
        self.page = 1
        self.action_view("seg-members")
        self._load_members()

    def failed_members(self, text: str) -> None:
        """Members could not be listed in this order (uplift without a usable fit): say why, back to id order."""
        self.notify(text, title="Sort members", severity="warning")
        if self.order != "id":
            self.order = "id"
            self._load_members()

    def action_unmask(self) -> None:
        """U: show this page's full names and contacts (recorded in the audit log); again to mask."""
        self.unmasked = not self.unmasked
        self.action_view("seg-members")
        self._load_members()
        if self.unmasked:
            self.notify("contact details shown — recorded in the audit log", severity="warning")

    def action_new(self) -> None:
        """n: a new segment (the editor counts as you type)."""
        from screens.segment_editor import SegmentEditorScreen

        self.app.push_screen(SegmentEditorScreen(), self._saved)

    def action_edit(self) -> None:
        """e: edit the rule of the segment under the cursor."""
        from screens.segment_editor import SegmentEditorScreen

        if self.selected:
            self.app.push_screen(SegmentEditorScreen(self.selected, self._rules.get(self.selected, "")),
                                 self._saved)

    def open_segment(self, name: str) -> None:
        """Put `name` under the cursor and show its layers (now, or as soon as the list has loaded)."""
        self._wanted = name
        if name in self._rules:
            self._go_to(name)

    def _go_to(self, name: str) -> None:
        self._wanted = None
        if getattr(self, "_filter_text", ""):
            self._filter_text = ""  # a filter that hides the segment asked for would hide it silently
            for bar in self.query("#list-filter").results(Input):
                bar.value = ""
                bar.display = False
            self._apply_filter()
        table = self.query_one("#segments-table", DataTable)
        table.focus()
        self._move_to(table, name)
        self._select(name)
        self.action_view("seg-layers")

    def _saved(self, name: str | None) -> None:
        if name:
            # Under the cursor once the list that holds it has loaded (moving it at the next refresh came before
            # the reload: a new segment was not in the table yet and the cursor stayed on the first one).
            self.selected = None
            self._wanted = name
            self.refresh_data()

    def _move_to(self, table: DataTable, name: str) -> None:
        keys = [str(k.value) for k in table.rows]
        if name in keys:
            table.move_cursor(row=keys.index(name))
