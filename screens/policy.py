"""Policy: frequency caps, quiet hours, the suppression list (search, add, remove with reason), consent overview.

Every change goes through the console.policy functions the CLI uses (`winback caps set`, `quiet-hours set`,
`suppress add|remove`), in a thread worker; those functions validate and write the audit entry.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from console.policy.suppression import mask
from screens import sources
from screens.base import WinbackScreen, cursor_key
from screens.columns import Column, FitTable
from screens.dialogs import FormDialog, refused_then_again
from screens.format import count, local_time

if TYPE_CHECKING:
    from console.policy.caps import CapSet
    from console.policy.suppression import Suppressed, SuppressionRow
    from screens.sources.policy import PolicyState


# Suppressions at 80 columns: the address, the user and the reason whole; a long address is cut with …
SUPPRESSION_COLUMNS = (
    Column("id", "#", "id"),
    Column("channel", "channel", least=7),
    Column("address", "address", least=12, most=32),
    Column("user", "user", priority=1, least=8, most=20),
    Column("reason", "reason", priority=2, least=10, most=30),
    Column("at", "since", least=10),
)


# Caps: "at most" a count (thousands separators, never cut)
CAP_COLUMNS = (Column("channel", "channel", least=7), Column("max", "at most", "count"),
               Column("window", "per", least=4))


class PolicyScreen(WinbackScreen):
    """Who may be messaged, how often, and when."""

    LABEL = "Policy"
    CSS_PATH = "policy.tcss"
    POLL_SECONDS = 5.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New", id="policy.new", tooltip="New cap (caps list) or suppression (suppression list)"),
        Binding("x", "remove", "Remove", id="policy.remove",
                tooltip="Remove the cap, or lift the suppression (with a reason) under the cursor"),
        Binding("q", "quiet_hours", "Quiet hours", id="policy.quiet"),
        Binding("slash", "search", "Search", key_display="/", id="policy.search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.search = ""
        self._caps: dict[str, dict[str, Any]] = {}
        self._entries: dict[str, SuppressionRow] = {}
        self._sent: dict[str, str] = {}   # what the last cap, quiet-hours or suppression form sent

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="policy-top"):
            with Vertical(id="caps-box") as box:
                box.border_title = "Frequency caps"
                yield FitTable(CAP_COLUMNS, cursor_type="row", id="caps-table")
            with Vertical(id="rules-box") as box:
                box.border_title = "Quiet hours · consent"
                yield Static(id="quiet")
                yield Static(id="consent")
        yield Input(placeholder="search suppressions: address, user, reason — Enter applies", id="policy-search",
                    classes="escapable")
        with Vertical(id="suppress-box") as box:
            box.border_title = "Suppression list (in force)"
            yield FitTable(SUPPRESSION_COLUMNS, cursor_type="row", zebra_stripes=True, id="suppress-table")

    def on_mount(self) -> None:
        self.query_one("#policy-search").display = False
        self.query_one("#caps-table").focus()

    def refresh_data(self) -> None:
        self.fetch("policy", sources.policy_state, self.workspace.config, self.search)

    def show_policy(self, data: PolicyState) -> None:
        self._caps = {str(c["id"]): c for c in data["caps"]}
        self.query_one("#caps-table", FitTable).show([
            (str(c["id"]), {"channel": c["channel"], "max": c["max"], "window": c["window"]}) for c in data["caps"]])
        self.query_one("#caps-box").border_subtitle = "none: no limit" if not data["caps"] else "strictest wins"
        window = data["window"]
        quiet = Text()
        if window is None:
            quiet.append("quiet hours off", style="bold yellow")
            quiet.append(" — marketing may go out at any hour")
        else:
            quiet.append(f"quiet {window['quiet']}", style="bold")
            quiet.append(f", sending {window['sending']}\nin recipients' own time zones")
        quiet.append(f" (from {data['window_source']})", style="dim")
        self.query_one("#quiet", Static).update(quiet)
        self._show_consent(data["consent"])
        self._entries = {str(e["id"]): e for e in data["suppressions"]}
        rows = [(str(e["id"]), {
            "id": e["id"], "channel": e["channel"], "address": mask(e["channel"], e["address"]), "user": e["user"],
            "reason": e["reason"], "at": local_time(e["at"], self.timezone, "%Y-%m-%d"),
        }) for e in data["suppressions"]]
        self.query_one("#suppress-table", FitTable).show(rows)
        box = self.query_one("#suppress-box")
        shown = (f"{count(len(rows))} shown" if len(rows) >= data["matched"]   # else the newest: say there are more
                 else f"the newest {count(len(rows))} of {count(data['matched'])}"
                 + ("" if self.search else " · / searches them all"))
        box.border_subtitle = shown + (f" · search {self.search!r}" if self.search else "")

    def _show_consent(self, overview: Any) -> None:
        widget = self.query_one("#consent", Static)
        if not overview:
            widget.update(Text("consent overview: not available yet", style="dim"))
            return
        # One line per channel under the two of quiet hours: the box shows five at 80×24 and scrolls beyond.
        lines = [f"{row['channel']:<6} granted {count(row.get('granted', 0)):>7}"
                 f"  withdrawn {count(row.get('withdrawn', 0)):>6}" for row in overview]
        widget.update(Text("\n".join(lines)))

    # ---- actions ---------------------------------------------------------------------------------------

    def _on_caps(self) -> bool:
        return self.focused is self.query_one("#caps-table")

    def action_new(self) -> None:
        """n: a new cap (caps table focused) or a new suppression (otherwise)."""
        if self._on_caps():
            self._cap_form({})
        else:
            self._suppression_form({"channel": "all", "reason": "manual"})

    def _cap_form(self, values: dict[str, str]) -> None:
        self.app.push_screen(
            FormDialog("Set a frequency cap", [("rule", "cap", "sms 2/7d  ·  any 1/1d  ·  email 1/12h")],
                       body="At most N messages per rolling window; all caps apply, the strictest wins.",
                       values=values),
            self._set_cap)

    def _suppression_form(self, values: dict[str, str]) -> None:
        self.app.push_screen(
            FormDialog("Suppress an address or user", [
                ("target", "address/user", "138 0013 8000 · a@b.cn · user external id"),
                ("channel", "channel", "all | sms | email | push"),
                ("reason", "reason", "manual | opt_out | bounce | complaint"),
                ("note", "note", "optional"),
            ], values=values),
            self._add_suppression)

    # A refusal (a cap, span or address the service cannot read) opens the form again as it was typed.
    def failed_set_cap(self, text: str) -> None:
        refused_then_again(self, "Could not set cap", text, lambda: self._cap_form(self._sent))

    def failed_add_suppression(self, text: str) -> None:
        refused_then_again(self, "Could not add suppression", text, lambda: self._suppression_form(self._sent))

    def failed_set_quiet_hours(self, text: str) -> None:
        refused_then_again(self, "Could not set quiet hours", text, lambda: self._quiet_form(self._sent))

    def _set_cap(self, answer: dict[str, str] | None) -> None:
        if answer and answer["rule"]:
            self._sent = answer
            self.fetch("set_cap", sources.set_cap, answer["rule"])

    def done_set_cap(self, result: CapSet) -> None:
        self.notify(f"cap {result['rule']} set")
        self.refresh_data()

    def _add_suppression(self, answer: dict[str, str] | None) -> None:
        if answer and answer["target"]:
            self._sent = answer
            self.fetch("add_suppression", sources.add_suppression, self.workspace.config, **answer)

    def done_add_suppression(self, result: Suppressed) -> None:
        self.notify("suppressed" if result["created"] else "already suppressed — nothing changed")
        self.refresh_data()

    def action_remove(self) -> None:
        """x: remove the cap or lift the suppression under the cursor (asks, and a lift needs a reason)."""
        if self._on_caps():
            cap = self._caps.get(cursor_key(self.query_one("#caps-table", DataTable)) or "")
            if cap:
                from screens.dialogs import ConfirmDialog

                self.app.push_screen(
                    ConfirmDialog("Remove cap?", f"Remove the cap {cap['label']}? Sends will no longer count "
                                  "against it.", yes="Remove"),
                    partial(self._remove_cap, cap))
            return
        entry = self._entries.get(cursor_key(self.query_one("#suppress-table", DataTable)) or "")
        if entry:
            who = mask(entry["channel"], entry["address"]) or entry["user"]
            self.app.push_screen(
                FormDialog(f"Lift suppression #{entry['id']}?", [("why", "why", "say why (required, audited)")],
                           body=f"{who} on {entry['channel']} ({entry['reason']}) may be messaged again."),
                partial(self._remove_suppression, entry))

    def _remove_cap(self, cap: dict[str, Any], yes: bool | None) -> None:
        if yes:
            self.fetch("remove_cap", sources.remove_cap, cap["channel"], cap["window"])

    def done_remove_cap(self, removed: list[str]) -> None:
        self.notify(f"removed cap {', '.join(removed)}")
        self.refresh_data()

    def _remove_suppression(self, entry: SuppressionRow, answer: dict[str, str] | None) -> None:
        if answer is not None:
            self.fetch("remove_suppression", sources.remove_suppression, self.workspace.config, entry["id"],
                       answer["why"])

    def done_remove_suppression(self, ids: list[int]) -> None:
        self.notify(f"lifted suppression {', '.join(f'#{i}' for i in ids)}")
        self.refresh_data()

    def action_quiet_hours(self) -> None:
        """q: set quiet hours (e.g. 20:00-08:00, or off)."""
        self._quiet_form({})

    def _quiet_form(self, values: dict[str, str]) -> None:
        self.app.push_screen(
            FormDialog("Quiet hours", [("span", "quiet", "20:00-08:00  ·  off")],
                       body="No marketing sends in this span, in each recipient's own time zone.", values=values),
            self._set_quiet)

    def _set_quiet(self, answer: dict[str, str] | None) -> None:
        if answer and answer["span"]:
            self._sent = answer
            self.fetch("set_quiet_hours", sources.set_quiet_hours, answer["span"])

    def done_set_quiet_hours(self, _window: Any) -> None:
        self.notify("quiet hours set")
        self.refresh_data()

    def action_search(self) -> None:
        """/: search the suppression list."""
        field = self.query_one("#policy-search", Input)
        field.display = True
        field.focus()

    @on(Input.Submitted, "#policy-search")
    def _apply_search(self, event: Input.Submitted) -> None:
        self.search = event.value.strip()
        if not self.search:
            event.input.display = False
        self.query_one("#suppress-table").focus()
        self.refresh_data()
