"""Offers (`O`, or "Go to Offers" in the palette): every offer, and the layer → offer mapping drawn as the
layer grid itself — each cell its users, its offer and what that offer costs if every one of them used it.

`Enter` on a cell gives that layer another offer (or none); `n` adds an offer and `e` edits the one under the
cursor through a form (console.offers.add, audited as `winback offers add` / `map` are); `x` retires it after
asking (console.offers.retire, as `winback offers retire`): kept for the campaigns that used it, no longer offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from screens.base import WinbackScreen, cursor_key
from screens.columns import Column, FitTable
from screens.fit_rows import FitRows
from screens.format import count, money
from screens.sources.offers import (
    NO_OFFER,
    GridCell,
    OfferGrid,
    OffersAndGrid,
    listed_offers,
    map_layer,
    offers_and_grid,
    retire_offer,
    save_offer,
)

if TYPE_CHECKING:
    from console.offers import OfferRow

__all__ = ["NO_OFFER", "OffersAndGrid", "OffersScreen", "by_layer_text", "offers_and_grid"]


# Drawn in the creation flow's plan pane (about 36 cells at 80 columns): the counts and costs whole, the offer cut
# with … before the cost goes (screens/fit_rows.py); a layer's name ('cool regular') is never cut.
BY_LAYER_COLUMNS = (
    Column("layer", "layer", "name", least=12, most=24),
    Column("users", "users", "count"),
    Column("offer", "offer", "name", least=6, most=24),
    Column("cost", "cost ≤", "count", priority=1),
)


# The offers: a long name is cut with … before what the offer is ("… valid 14 days": its figures read whole up to
# 48 cells); "layers" says how many at 80 columns (their names from 120 up, cut with … when long)
OFFER_COLUMNS = (
    Column("name", "name", "name", least=8, most=56),
    Column("summary", "what", least=48, most=60),
    Column("layers", "layers", least=8, most=60),
)


def by_layer_text(data: OffersAndGrid, currency: str) -> Group:
    """What "by layer" gives each layer of the audience and what it costs if all use it (the creation flow)."""
    grid = data["grid"]
    who = data.get("segment") or "everyone"
    head = Text(f"by layer · {who}: what each layer gets", style="bold")
    if not grid:
        return Group(head, Text("no layers yet — run `winback refresh`", style="dim"))
    rows: list[dict[str, Any]] = []
    users_total, value_total, without = 0, 0.0, 0
    for line in grid["cells"]:
        for cell in line:
            if not cell["users"]:
                continue
            users_total += cell["users"]
            value = cell["amount"] * cell["users"] if cell["amount"] is not None else None
            value_total += value or 0
            if cell["offer"] is None:
                without += cell["users"]
            rows.append({"layer": cell["layer"], "users": cell["users"],
                         "offer": Text(cell["offer"] or "none", style="" if cell["offer"] else "dim"),
                         "cost": Text(money(value, currency, places=0) if value is not None else "—")})
    rows.append({"layer": Text("total", style="bold"), "users": users_total,
                 "cost": Text(money(value_total, currency, places=0))})
    table = FitRows(BY_LAYER_COLUMNS, rows)
    # the cost in all said here too: at 80 columns a wide cost column is the one left out (the offer stays)
    notes = Text(f"cost ≤ {money(value_total, currency, places=0)} in all: face value if every user used the "
                 "coupon · O maps offers", style="dim")
    if without:
        notes = Text(f"{count(without)} users in layers without an offer get none\n", style="dim") + notes
    return Group(head, table, notes)


def _widest_line(text: Text) -> int:
    """The width in cells of a multi-line cell's widest line."""
    return max((line.cell_len for line in text.split("\n")), default=0)


FORM = [
    ("name", "Name", "back20"),
    ("kind", "Kind", "coupon | points | trial | none"),
    ("threshold", "Spend over", "100 (coupon)"),
    ("amount", "Amount off", "20 (coupon)"),
    ("validity_days", "Valid days", "7"),
    ("multiplier", "Points ×", "2 (points)"),
    ("trial_days", "Trial days", "7 (trial)"),
    ("description", "Description", "满100减20"),
]


class OffersScreen(WinbackScreen):
    """Offers and the layer grid of who gets which."""

    LABEL = "Offers"
    CSS_PATH = "offers.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "map", "Map offer", id="offers.map",
                tooltip="On a layer of the grid: give it another offer (or none)"),
        Binding("n", "new", "New offer", id="offers.new"),
        Binding("e", "edit", "Edit offer", id="offers.edit", tooltip="Edit the offer under the cursor"),
        Binding("x", "retire", "Retire offer", id="offers.retire",
                tooltip="Retire the offer under the cursor (asks first; kept for the campaigns that used it)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._offers: dict[str, OfferRow] = {}
        self._grid: OfferGrid | None = None
        self._sent: tuple[str, dict[str, str], bool] = ("New offer", {}, False)   # the form last sent to be saved

    def compose_body(self) -> ComposeResult:
        with Vertical(id="offer-grid-box") as box:
            box.border_title = "Layers → offers (users · offer · face value if all use it)"
            box.border_subtitle = "Enter: change a layer's offer"
            yield DataTable(cursor_type="cell", id="offer-grid", show_cursor=True)
            yield Static(id="offer-grid-empty")
        with Vertical(id="offer-list-box") as box:
            box.border_title = "Offers"
            yield FitTable(OFFER_COLUMNS, cursor_type="row", id="offer-list")

    def on_mount(self) -> None:
        self.query_one("#offer-grid").focus()

    def refresh_data(self) -> None:
        self.fetch("offers", offers_and_grid, self.workspace.config)

    def show_offers(self, data: OffersAndGrid) -> None:
        self._offers = {o["name"]: o for o in data["offers"]}
        narrow = self.size.width < 120

        def layers(names: str) -> str:
            # At 80 columns the list of layer names would be cut into something unreadable: say how many.
            if not names:
                return "—"
            n = len(names.split(", "))
            return f"{n} layer{'s' if n != 1 else ''}" if narrow else names

        def row(o: OfferRow) -> dict[str, str | Text]:
            if o["state"] == "retired":  # listed for the campaigns that name it, dim; it has no layers
                return {"name": Text(o["name"], style="dim"), "summary": Text(o["summary"], style="dim"),
                        "layers": Text("retired", "dim italic")}
            return {"name": o["name"], "summary": o["summary"], "layers": layers(o["layers"])}

        self.query_one("#offer-list", FitTable).show([(o["name"], row(o)) for o in data["offers"]])
        retired = sum(o["state"] == "retired" for o in data["offers"])
        self.query_one("#offer-list-box").border_subtitle = (
            f"{len(data['offers']) - retired} active" + (f" · {retired} retired" if retired else ""))
        self._grid = data["grid"]
        self._show_grid()

    def _show_grid(self) -> None:
        grid = self.query_one("#offer-grid", DataTable)
        empty = self.query_one("#offer-grid-empty", Static)
        data = self._grid
        grid.display = bool(data and data["cells"])
        empty.display = not grid.display
        if not data or not data["cells"]:
            empty.update(Text("no layers yet — run `winback refresh` (profiles make the layers)", style="dim"))
            return
        narrow = self.size.width < 100
        cursor = grid.cursor_coordinate
        headers = ["", *(label.split(" (")[0] if narrow else label for label in data["cols"])]
        rows: list[list[Text]] = []
        for label, line in zip(data["rows"], data["cells"], strict=False):
            cells = [Text(label.split(" (")[0] if narrow else label, style="bold")]
            for cell in line:
                text = Text(justify="right")
                text.append(f"{count(cell['users'])} users\n")
                text.append(cell["offer"] or "no offer", "bold" if cell["offer"] else "dim")
                text.append("\n")
                value = cell["amount"] * cell["users"] if cell["amount"] is not None else None
                text.append(f"≤{money(value, self.currency, places=0)}" if value is not None else "—", "dim")
                cells.append(text)
            rows.append(cells)
        # Each column gets its width here, from what it will hold. Left to the DataTable, the widths are measured
        # only when the table next idles; a paint before that caches every cell cut to its header's width
        # ("back1", no row labels) and the cache outlives the measuring (seen at 80x24 after mapping an offer).
        widths = [max([Text(header).cell_len, *(_widest_line(row[j]) for row in rows)])
                  for j, header in enumerate(headers)]
        grid.clear(columns=True)
        grid.add_column(headers[0], key="row", width=widths[0])
        for j, header in enumerate(headers[1:]):
            grid.add_column(header, key=str(j), width=widths[j + 1])
        for i, cells in enumerate(rows):
            grid.add_row(*cells, key=str(i), height=3)
        if cursor.column == 0:
            cursor = cursor._replace(column=1)
        grid.move_cursor(row=cursor.row, column=cursor.column, animate=False)

    def _layer_under_cursor(self) -> GridCell | None:
        if not self._grid or not self._grid["cells"]:
            return None
        coordinate = self.query_one("#offer-grid", DataTable).cursor_coordinate
        if coordinate.column == 0:
            return None
        return self._grid["cells"][coordinate.row][coordinate.column - 1]

    @on(DataTable.CellSelected, "#offer-grid")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.action_map()

    def action_map(self) -> None:
        """Enter on a layer: choose its offer (or none); audited as `winback offers map`."""
        from screens.dialogs import ChoiceDialog

        if self.focused is self.query_one("#offer-list", DataTable):
            self.action_edit()
            return
        cell = self._layer_under_cursor()
        if cell is None:
            self.notify("Move to a layer's cell (arrows), then Enter.", severity="warning")
            return
        layer = cell["layer"]
        choices = [(name, f"{name} · {o['summary']}") for name, o in self._offers.items() if o["state"] == "active"]
        choices.append((NO_OFFER, "no offer for this layer"))

        def chosen(name: str | None) -> None:
            if name:
                self.fetch("map_layer", map_layer, layer, None if name == NO_OFFER else name)

        self.app.push_screen(ChoiceDialog(f"Offer for {layer} ({count(cell['users'])} users)", choices,
                                          body=f"now: {cell['offer'] or 'no offer'}"), chosen)

    def done_map_layer(self, layer: str) -> None:
        self.notify(f"{layer}: offer changed (audited).", title="Offers")
        self.refresh_data()

    def action_new(self) -> None:
        """n: a new offer through a form."""
        self._form("New offer", {}, replace=False)

    def _offer_under_cursor(self) -> OfferRow | None:
        """The offer under the cursor in the list, or the grid cell's offer."""
        name: str | None
        if self.focused is self.query_one("#offer-list", DataTable):
            name = cursor_key(self.query_one("#offer-list", DataTable))
        else:
            cell = self._layer_under_cursor()
            name = cell["offer"] if cell else None
        return self._offers.get(name or "")

    def action_edit(self) -> None:
        """e: edit the offer under the cursor in the list (the grid's cell: its offer)."""
        offer = self._offer_under_cursor()
        if offer is None:
            self.notify("No offer there to edit: n adds one.", severity="warning")
            return
        if offer["state"] == "retired":
            self.notify(f"{offer['name']} is retired: it stays as the campaigns used it. n adds a new offer.",
                        severity="warning")
            return
        fields: Mapping[str, Any] = offer   # read by the form's field names
        values = {key: "" if fields.get(key) is None else f"{fields[key]:g}" if isinstance(fields[key], float)
                  else str(fields[key]) for key, _, _ in FORM}
        self._form(f"Edit offer {offer['name']}", values, replace=True)

    def _form(self, title: str, values: dict[str, str], *, replace: bool) -> None:
        from screens.dialogs import FormDialog

        def answered(answer: dict[str, str] | None) -> None:
            if answer:
                self._sent = (title, answer, replace)   # asked again as typed if the service refuses it
                self.fetch("save_offer", save_offer, {**answer, "currency": self.currency}, replace)

        self.app.push_screen(FormDialog(title, FORM, values=values,
                                        body="A coupon needs spend over, amount off and valid days."), answered)

    def failed_save_offer(self, text: str) -> None:
        from screens.dialogs import refused_then_again

        title, answer, replace = self._sent
        refused_then_again(self, "Could not save offer", text, lambda: self._form(title, answer, replace=replace))

    def done_save_offer(self, name: str) -> None:
        self.notify(f"offer {name} saved (audited).", title="Offers")
        self.refresh_data()

    # ---- retiring (x, or "Retire an offer…" in the palette) ------------------------------------------------

    def action_retire(self) -> None:
        """x: retire the offer under the cursor (the grid cell's offer), after saying what that changes."""
        offer = self._offer_under_cursor()
        if offer is None:
            self.notify("No offer there to retire: move to one in the list (Tab) or a cell with an offer.",
                        severity="warning")
            return
        self.confirm_retire(offer)

    def choose_retire(self) -> None:
        """The palette's "Retire an offer…" (screens/palette.py): read the offers, ask which active one, then the
        same question as `x`."""
        self.fetch("retire_choices", listed_offers)

    def show_retire_choices(self, listed: list[OfferRow]) -> None:
        from screens.dialogs import ChoiceDialog

        active = {o["name"]: o for o in listed if o["state"] == "active"}
        if not active:
            self.notify("No active offer to retire.", severity="warning")
            return
        choices = [(name, f"{name} · {o['summary']}" + (f" · {o['layers']}" if o["layers"] else ""))
                   for name, o in active.items()]
        self.app.push_screen(ChoiceDialog("Retire which offer?", choices),
                             lambda name: self.confirm_retire(active[name]) if name else None)

    def confirm_retire(self, offer: OfferRow) -> None:
        """Ask first; a mapped offer's question names the layers that lose it (the answer unmaps them too)."""
        from screens.dialogs import ConfirmDialog

        name = offer["name"]
        if offer["state"] == "retired":
            self.notify(f"{name} is already retired.", severity="warning")
            return
        layers = [layer for layer in offer["layers"].split(", ") if layer]
        body = (f"{name} ({offer['summary']}) stays for the campaigns that used it; new campaigns, programs and "
                "the layer grid no longer offer it.")
        if layers:
            body += (f"\n\nIt is mapped to {len(layers)} layer{'s' if len(layers) != 1 else ''}: "
                     f"{', '.join(layers)}. Retiring takes it off them: their users get no offer in by-layer "
                     "campaigns until you map another.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.fetch("retire_offer", retire_offer, name, bool(layers))

        self.app.push_screen(ConfirmDialog(f"Retire offer {name}?", body,
                                           yes="Retire and unmap" if layers else "Retire", no="Keep"), answered)

    def done_retire_offer(self, name: str) -> None:
        self.notify(f"offer {name} retired (audited).", title="Offers")
        self.refresh_data()
