"""Audit: who did what, when, from where — newest first, `/` to filter by action."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from screens import sources
from screens.base import WinbackScreen, cursor_key, sync_table
from screens.format import local_time


class AuditScreen(WinbackScreen):
    """The append-only audit log (console.audit.recent), refreshed live."""

    LABEL = "Audit"
    CSS_PATH = "audit.tcss"
    POLL_SECONDS = 3.0
    LIMIT = 200  # newest first; a rebuild of a longer table would stall keys while entries pour in
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/", id="audit.filter"),
        Binding("r", "reload", "Reload", id="audit.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.action_filter_text = ""
        self._entries: dict[str, dict[str, Any]] = {}

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter by action, e.g. campaign.* — Enter applies, Esc leaves", id="audit-filter", classes="escapable")
        with Vertical(id="audit-box") as box:
            box.border_title = "Audit log"
            table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="audit-table")
            table.add_column("#", key="id")
            table.add_column("when", key="at")
            table.add_column("who", key="actor")
            table.add_column("action", key="action")
            table.add_column("details", key="details")
            yield table
        yield Static(id="audit-detail")

    def on_mount(self) -> None:
        self.query_one("#audit-filter").display = False
        self.query_one("#audit-table").focus()

    def refresh_data(self) -> None:
        pattern = self.action_filter_text or None
        if pattern and "*" not in pattern and "%" not in pattern:
            pattern = f"*{pattern}*"
        self.fetch("audit", sources.recent_audit, limit=self.LIMIT, action=pattern)

    def show_audit(self, entries: list[dict[str, Any]]) -> None:
        table = self.query_one("#audit-table", DataTable)
        self._entries = {str(e["id"]): e for e in entries}
        box = self.query_one("#audit-box")
        box.border_subtitle = f"{len(entries)} shown" + (f" · filter {self.action_filter_text}"
                                                         if self.action_filter_text else "")
        rows = []
        for e in reversed(entries):  # oldest first: new entries append, the table sorts them to the top
            details = " · ".join(f"{k}={v}" for k, v in (e["details"] or {}).items())
            rows.append((str(e["id"]), [
                Text(str(e["id"]), justify="right"),
                local_time(e["at"], self.timezone, "%m-%d %H:%M:%S"),
                e["actor"], e["action"], details[:60],
            ]))
        sync_table(table, rows, newest_first=("id", lambda cell: int(cell.plain)))
        self._show_detail()

    @on(DataTable.RowHighlighted, "#audit-table")
    def _show_detail(self) -> None:
        key = cursor_key(self.query_one("#audit-table", DataTable))
        entry = self._entries.get(key or "")
        detail = self.query_one("#audit-detail", Static)
        if entry is None:
            detail.update(Text(" the audit log is empty" if not self._entries else "", style="dim"))
            return
        details = " · ".join(f"{k}={v}" for k, v in (entry["details"] or {}).items())
        when = local_time(entry["at"], self.timezone, "%Y-%m-%d %H:%M:%S", label=True)
        detail.update(Text(f" {when} {entry['actor']}@{entry['host']} {entry['action']}  {details}"))

    def action_filter(self) -> None:
        """/: filter by action."""
        box = self.query_one("#audit-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#audit-filter")
    def _apply_filter(self, event: Input.Submitted) -> None:
        self.action_filter_text = event.value.strip()
        self.query_one("#audit-table").focus()
        if not self.action_filter_text:
            event.input.display = False
        self.refresh_data()

    def action_reload(self) -> None:
        """r: reload now."""
        self.refresh_data()
