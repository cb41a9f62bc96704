"""Audit: who did what, when, from where — newest first; `/` searches the whole log, not only the entries shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from screens import sources, table_filter
from screens.base import ListFilter, WinbackScreen, cursor_key
from screens.columns import Column, FitTable
from screens.format import count, local_time

if TYPE_CHECKING:
    from console.audit import AuditEntry
    from screens.sources import AuditPage

# At 80 columns: #, when, action and as much of the details as fits; who and host join when there is room.
AUDIT_COLUMNS = (
    Column("id", "#", "id"),
    Column("at", "when", least=14),
    Column("actor", "who", priority=2, least=6, most=16),
    Column("host", "host", priority=3, least=6, most=16),
    Column("action", "action", least=15, most=24),
    Column("details", "details", priority=1, least=30, most=90),
)


class AuditScreen(ListFilter, WinbackScreen):
    """The append-only audit log (console.audit.recent), refreshed live."""

    LABEL = "Audit"
    CSS_PATH = "audit.tcss"
    POLL_SECONDS = 3.0
    LIMIT = 200  # newest first; a rebuild of a longer table would stall keys while entries pour in
    FILTER_TABLE = "#audit-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListFilter.FILTER_BINDINGS,
        Binding("r", "reload", "Reload", id="audit.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._entries: dict[str, AuditEntry] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="audit-box") as box:
            box.border_title = "Audit log"
            yield FitTable(AUDIT_COLUMNS, cursor_type="row", zebra_stripes=True, id="audit-table")
        yield Static(id="audit-detail")

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        table.focus()
        table_filter.searched_by(table, lambda needle: self.refresh_data())

    def refresh_data(self) -> None:
        needle = table_filter.needle_of(self.query_one("#audit-table", DataTable))
        self.fetch("audit", sources.audit_page, limit=self.LIMIT, search=needle)

    def show_audit(self, page: AuditPage) -> None:
        table = self.query_one("#audit-table", FitTable)
        if page["search"] != table_filter.needle_of(table):
            return  # asked for before the operator typed more
        entries = page["rows"]
        self._entries = {str(e["id"]): e for e in entries}
        in_all = page["total"] if page["matches"] is None else page["matches"]
        box = self.query_one("#audit-box")
        box.border_subtitle = (f"newest {count(len(entries))} of {count(in_all)}" if len(entries) < in_all
                               else f"{count(len(entries))} shown")
        rows = []
        for e in reversed(entries):  # oldest first: new entries append, the table sorts them to the top
            rows.append((str(e["id"]), {
                "id": e["id"], "at": local_time(e["at"], self.timezone, "%m-%d %H:%M:%S"), "actor": e["actor"],
                "host": e["host"], "action": e["action"],
                "details": " · ".join(f"{k}={v}" for k, v in (e["details"] or {}).items()),
            }))
        table.show(rows, newest_first=("id", lambda cell: int(cell.plain)))
        table_filter.found(table, page["search"], page["matches"], page["total"])
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

    def action_reload(self) -> None:
        """r: reload now."""
        self.refresh_data()
