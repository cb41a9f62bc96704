"""Deliveries: a campaign's live tallies per variant, progress, a msgs/s sparkline, pause/resume/cancel, and the
recipients in any state (failed ones with the provider's error).

Polls `winback campaign tally` (console.campaigns.tallies) from a thread worker; the table updates in place, so
the cursor stays put while numbers move.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.campaigns.send_errors import groups_words, short_error
from console.campaigns.tallies import cost_words, progress_counts
from screens import sources, table_filter
from screens.base import WinbackScreen, cursor_key, winback_app
from screens.columns import Column, FitTable, number
from screens.dialogs import ConfirmDialog
from screens.format import count, local_time, money, progress, sparkline

if TYPE_CHECKING:
    from console.campaigns.control import Cancelled
    from console.campaigns.tallies import Counts, Recipient
    from screens.sources.campaigns import DeliveriesTally, RecipientsPage

TALLY_COLUMNS = ("planned", "sent", "delivered", "failed", "deferred", "unknown", "skipped")


def _column(counts: Counts, column: str) -> int:
    """One of TALLY_COLUMNS (keys of tallies.Counts) by name."""
    by_name: Mapping[str, Any] = counts
    return int(by_name[column])
# At 80 columns with seven-digit counts the tally keeps planned, sent and failed; the rest join as there is room.
TALLY_PRIORITY = {"planned": 0, "sent": 0, "failed": 0, "skipped": 1, "delivered": 2, "deferred": 3, "unknown": 3}
# The arm's letter is what tells the rows apart: always whole (7: "holdout"). Its variant (template) name is a
# column of its own that goes first when the counts need the room — never "A nosta…" in place of the letter.
TALLY_FIT = (Column("arm", "arm", "name", least=7, most=8),
             Column("variant", "variant", "name", priority=4, least=8, most=24),
             *(Column(c, c, "count", priority=TALLY_PRIORITY[c]) for c in TALLY_COLUMNS))
# A dry run (or the demo's simulated campaign) sends nothing: its `sent` column is what it would send.
WOULD_TALLY_FIT = tuple(Column(c.key, "would send", c.kind, c.priority) if c.key == "sent" else c for c in TALLY_FIT)
RECIPIENT_COLUMNS = (
    Column("address", "address", least=11, most=24),
    Column("user", "user", priority=3, most=16),
    Column("name", "name", priority=2, least=4, most=12),
    Column("arm", "arm", priority=4, least=3, most=12),
    Column("status", "state", least=6),
    Column("why", "why", priority=1, least=10, most=60),
)
RECIPIENT_LIMIT = 200  # the newest changes shown; `/` searches every recipient (tallies.recipients' search)
STATES = ("failed", "deferred", "unknown", "skipped", "sent", "delivered", "planned", "cancelled")


class DeliveriesScreen(WinbackScreen):
    """One campaign, live."""

    LABEL = "Deliveries"
    CSS_PATH = "deliveries.tcss"
    POLL_SECONDS = 1.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "Pause", id="deliveries.pause"),
        Binding("r", "resume", "Resume", id="deliveries.resume"),
        Binding("x", "cancel", "Cancel", id="deliveries.cancel"),
        Binding("f", "next_state", "Filter state", id="deliveries.filter"),
        Binding("enter", "why", "Why", id="deliveries.why", show=False,
                tooltip="On a recipient: their ledger row and why the policy let them through or not"),
        Binding("g", "choose", "Follow another campaign", id="deliveries.choose", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.campaign: str | None = None
        self.state_filter = "failed"
        self.tally: DeliveriesTally | None = None
        self._recipients: dict[str, Recipient] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(id="deliveries-title")
        with Vertical(id="tally-box") as box:
            box.border_title = "Tally"
            yield FitTable(TALLY_FIT, cursor_type="row", id="tally-table")
        yield Static(id="skipped-line")
        yield Static(id="rate-line")
        with Vertical(id="recipients-box") as box:
            box.border_title = "Recipients: failed"
            yield FitTable(RECIPIENT_COLUMNS, cursor_type="row", id="recipients-table")

    def on_mount(self) -> None:
        # The recipients have the focus: `/` searches them and Enter says why — the tally above is three rows to read.
        self.query_one("#recipients-table").focus()
        table_filter.searched_by(self.query_one("#recipients-table", DataTable), self._search_recipients)

    def _search_recipients(self, needle: str) -> None:
        """`/` on the recipients: search every recipient in this state, not only the newest loaded."""
        self.query_one("#recipients-table", DataTable).clear()
        self._fetch_recipients()

    def _fetch_recipients(self) -> None:
        if self.campaign:
            needle = table_filter.needle_of(self.query_one("#recipients-table", DataTable))
            self.fetch("recipients", sources.campaign_recipients, self.campaign, self.state_filter,
                       limit=RECIPIENT_LIMIT, search=needle)

    # ---- which campaign ------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        wanted = getattr(self.app, "followed_campaign", None)
        if wanted and wanted != self.campaign:
            self._follow(wanted)
        if self.campaign is None:
            self.fetch("latest", sources.latest_campaign)
            return
        self.fetch("tally", sources.campaign_tally, self.campaign)
        self._fetch_recipients()

    def _follow(self, name: str) -> None:
        self.campaign = name
        self.tally = None  # the previous campaign's: cancel must not quote its numbers
        self.query_one("#tally-table", DataTable).clear()
        self.query_one("#recipients-table", DataTable).clear()

    def show_latest(self, name: str | None) -> None:
        if name is None:
            self.query_one("#deliveries-title", Static).update(
                Text(" no campaign launched yet — c opens Campaigns, n there starts one", style="dim"))
            return
        self._follow(name)
        self.refresh_data()

    # ---- the tally -----------------------------------------------------------------------------------

    def show_tally(self, tally: DeliveriesTally) -> None:
        if tally["campaign"] != self.campaign:
            return
        self.tally = tally
        self._title(tally)
        rows: list[tuple[str, dict[str, Any]]] = []
        templates = tally.get("variants_templates", {})
        for arm, bucket in tally["variants"].items():
            if arm == "holdout":
                dash = Text("—", justify="right", style="dim")
                rows.append(("holdout", {"arm": "holdout", "variant": "", **dict.fromkeys(TALLY_COLUMNS, dash),
                                         "planned": bucket["holdout"]}))
                continue
            # A long template name is cut with … by the table (FitTable), never a count nor the arm's letter.
            rows.append((arm, {"arm": arm, "variant": templates.get(arm, ""),
                               **{c: _column(bucket, c) for c in TALLY_COLUMNS}}))
        rows.append(("total", {"arm": Text("total", style="bold"), "variant": "",
                               **{c: number(_column(tally, c), "bold") for c in TALLY_COLUMNS}}))
        table = self.query_one("#tally-table", FitTable)
        wanted = TALLY_FIT if tally.get("mode", "real") == "real" else WOULD_TALLY_FIT
        if table.specs != wanted:
            table.set_columns(wanted)
        table.show(rows)
        skipped = tally.get("skipped_by_reason") or {}
        deferred = tally.get("deferred_by_reason") or {}
        line = Text(" skipped: ", style="bold")
        line.append(" · ".join(f"{k.replace('_', ' ')} {count(v)}" for k, v in sorted(skipped.items(),
                                                                                       key=lambda kv: -kv[1]))
                    or "none")
        if deferred:
            # A dry run records the deferred with their time and does not wait: they would wait, in a real send.
            line.append("   would wait: " if tally.get("dry_run") else "   deferred: ", style="bold")
            line.append(" · ".join(f"{k.replace('_', ' ')} {count(v)}" for k, v in deferred.items()))
            if not tally.get("dry_run") and tally.get("deferred_due") and tally["status"] == "running":
                # nothing sends them by itself: `running` at 0/s would otherwise be watched for ever
                line.append(f" · first due {local_time(tally['deferred_due'], self.timezone, '%m-%d %H:%M', label=True)}"
                            ", sent then by `winback campaign run-due` (cron)")
        if tally.get("would_wait"):
            # A dry run in quiet hours records them as would-send with the time a real run would wait until.
            line.append("   would wait: ", style="bold")
            line.append(f"quiet hours {count(tally['would_wait'])}")
        if tally.get("cancelled"):
            # Cancelled recipients are not progress (the bar stops where the campaign did): say how many.
            line.append("   cancelled: ", style="bold red")
            line.append(count(tally["cancelled"]), style="red")
        if len(tally.get("modes") or []) > 1:
            # a step of the demo's ladder the operator's run-due ran too: its runs counted per mode, as the CLI's
            from console.simulated import parts_words

            line.append("\n runs: ", style="bold")
            line.append(parts_words(tally.get("modes") or []))
        self.query_one("#skipped-line", Static).update(line)
        self._rate(tally)

    def _title(self, tally: DeliveriesTally) -> None:
        stored = _run_mode(tally)
        mode = {"real": "REAL", "simulated": "simulated"}.get(stored, "dry-run")
        status = tally["status"]
        text = Text.assemble((f" {tally['campaign']}", "bold"), f" · {tally.get('channel', '')} · ",
                             (mode, "bold yellow" if mode == "REAL" else "cyan"), " · ")
        style = {"running": "bold green", "paused": "bold yellow", "completed": "bold", "cancelled": "red"}
        text.append(status, style.get(status, ""))
        if tally.get("run") is None:
            text.append(" · not launched yet", "dim")
        if tally.get("simulated_program"):   # its rows are the demo's made-up weeks: never shown as a real run's
            # … unless this run is the operator's own (program run-due after the demo's weeks): their dry run
            whose = "made up by the demo" if stored == "simulated" else "this run is your dry run"
            text.append(f" · step of the demo's simulated program {tally['simulated_program']} ({whose}): nothing "
                        "was sent", "yellow")
        self.query_one("#deliveries-title", Static).update(text)

    def _rate(self, tally: DeliveriesTally) -> None:
        if tally.get("run") is None:   # never launched (a draft, or scheduled): no progress, rate or cost yet
            line = Text(" not started: no run yet", "dim")
            if tally.get("budget") is not None:
                line.append(f" · budget {money(tally['budget'], self.currency, places=0)}", "dim")
            self.query_one("#rate-line", Static).update(line)
            return
        done, planned, cancelled = progress_counts(tally)
        seconds = tally.get("rate_bucket_seconds") or 10
        # Messages per second in each 10-second bucket of the ledger (sources.campaign_tally), oldest first.
        rates = [n / seconds for n in tally.get("rate_history") or []]
        current = rates[-1] if rates else tally.get("msgs_per_s_last_minute", 0)
        wide = self.size.width >= 110
        width = 30 if wide else 10  # 80 columns: room for "would cost ¥1,234.56 of ¥2,000"
        line = Text(f" {progress(done, planned, width=14 if wide else 10)}  {count(done)}/{count(planned)}  ")
        line.append(f"rate {sparkline(rates, width):<{width}} {current:,.0f}/s", "cyan")
        line.append(f"  {cost_words(tally['dry_run'])} {money(tally['cost'], self.currency)}")
        if tally.get("budget") is not None:
            line.append(f" of {money(tally['budget'], self.currency, places=0)}")
        self.query_one("#rate-line", Static).update(line)

    # ---- recipients by state ---------------------------------------------------------------------------

    def show_recipients(self, page: RecipientsPage) -> None:
        from console.policy.explain import row_state

        table = self.query_one("#recipients-table", FitTable)
        if page["state"] != self.state_filter or page["search"] != table_filter.needle_of(table):
            return  # asked for before the operator moved on
        rows = page["rows"]
        self._recipients = {str(r["id"]): r for r in rows}
        # a dry run's or the demo's made-up 'sent' was never sent: "would send" / "simulated", as on the person page
        # (its other states keep their word: the title says the run is a dry run)
        table.show([(str(r["id"]), {
            "address": r["address"] or "", "user": r["external_id"], "name": r["name"] or "", "arm": r["arm"],
            "status": row_state(r["status"], r["mode"]),
            "why": short_error(r["error"]) or r["reason"] or "",   # the provider's code first (send_errors)
        }) for r in rows])
        table_filter.found(table, page["search"], page["matches"], page["total"])
        box = self.query_one("#recipients-box")
        # failed or unknown: the causes and how many each, so 200 rows of one error do not hide the others
        causes = f" · {groups_words(page['groups'])}" if page.get("groups") else ""
        box.border_title = f"Recipients: {self._state_words(rows[0]['mode'] if rows else None)}{causes}"
        of = page["total"] if page["matches"] is None else page["matches"]
        box.border_subtitle = (f"{count(len(rows))} of {count(of)} shown (latest first) · f: next state"
                               if len(rows) < of else f"{count(len(rows))} shown (latest first) · f: next state")

    def action_next_state(self) -> None:
        """f: show recipients in the next state (failed → deferred → unknown → skipped → sent …)."""
        states = self._states()
        at = states.index(self.state_filter) if self.state_filter in states else -1
        self.state_filter = states[(at + 1) % len(states)]
        self.query_one("#recipients-table", DataTable).clear()
        # Said at once: the title names the state whose rows are coming (a late page of the previous state is
        # dropped by show_recipients), so f pressed again moves on from what the title says.
        self.query_one("#recipients-box").border_title = f"Recipients: {self._state_words()}"
        self._fetch_recipients()

    # ---- control -------------------------------------------------------------------------------------

    def action_pause(self) -> None:
        """space: pause (the dispatcher stops within one batch)."""
        if self.campaign:
            self.fetch("pause", sources.pause_campaign, self.campaign)

    def done_pause(self, status: str) -> None:
        self.notify(f"{self.campaign}: {status}")
        self.refresh_data()

    def action_resume(self) -> None:
        """r: resume a paused (or interrupted) campaign from its ledger."""
        if not self.campaign:
            return
        name = self.campaign
        if self.tally and self.tally["status"] == "running" and name not in winback_app(self).sends_in_progress():
            # Running, but not from this console: a cron job or a shell may be sending it right now.
            def resume_here(yes: bool | None) -> None:
                if yes:
                    winback_app(self).start_dispatch("resume", name)

            body = ("It may be sending from another process (a cron job, a shell). Resume here only if that "
                    "process died: claims are exclusive, so nobody gets two messages, and rows claimed by a dead "
                    "sender become 'unknown' rather than being sent again.")
            due = self.tally.get("deferred_due")
            if self.tally.get("deferred") and due:
                # a run waiting for quiet hours has no process at all: say what resuming would do now
                body += (f" Its {count(self.tally['deferred'])} deferred are not due before "
                         f"{local_time(due, self.timezone, '%m-%d %H:%M', label=True)}: resumed earlier, it sends "
                         "nothing and waits again; `winback campaign run-due` (cron) sends them then.")
            self.app.push_screen(ConfirmDialog(f"{name} is running", body, yes="Resume here", no="Leave it"),
                                 resume_here)
            return
        if name in winback_app(self).sends_in_progress():
            self.notify(f"{name} is already sending from this console")
            return
        winback_app(self).start_dispatch("resume", name)

    def action_cancel(self) -> None:
        """x: cancel — every recipient not yet sent is recorded cancelled (asks first)."""
        if not self.campaign:
            return
        waiting = count(self.tally["waiting"]) if self.tally else "the remaining"
        self.app.push_screen(ConfirmDialog(
            f"Cancel {self.campaign}?",
            f"{waiting} recipients not yet sent will be recorded as cancelled. This cannot be undone.",
            yes="Cancel campaign", no="Keep sending"), self._cancel)

    def _cancel(self, yes: bool | None) -> None:
        if yes and self.campaign:
            self.fetch("cancel", sources.cancel_campaign, self.campaign)

    def done_cancel(self, result: Cancelled) -> None:
        self.notify(f"{result['campaign']}: cancelled {count(result['cancelled'])} recipients")
        self.refresh_data()

    def action_choose(self) -> None:
        """g: follow another campaign."""
        from screens.dialogs import FormDialog

        self.app.push_screen(FormDialog("Follow campaign", [("name", "campaign", "its name")],
                                        values={"name": self.campaign or ""}), self._chosen)

    def _chosen(self, answer: dict[str, str] | None) -> None:
        if answer and answer["name"]:
            winback_app(self).followed_campaign = answer["name"]
            self.refresh_data()

    @on(DataTable.RowSelected, "#tally-table")
    def _arm_selected(self) -> None:
        self.query_one("#recipients-table").focus()

    @on(DataTable.RowSelected, "#recipients-table")
    def _recipient_selected(self, event: DataTable.RowSelected) -> None:
        self._why(str(event.row_key.value))

    def action_why(self) -> None:
        """Enter: why the recipient under the cursor was or was not messaged."""
        self._why(cursor_key(self.query_one("#recipients-table", DataTable)))

    def _states(self) -> tuple[str, ...]:
        """The states f cycles through: a dry run records nothing as delivered (no receipts come back), so its
        `delivered` view would be a second, always-empty "would send"; the demo's simulated runs may have them."""
        if self.tally and _run_mode(self.tally) == "dry run":
            return tuple(s for s in STATES if s != "delivered")
        return STATES

    def _state_words(self, mode: str | None = None) -> str:
        """The state filter as the operator reads it: a dry run's (or made-up) sent and delivered say what they
        were (mode: of the rows shown, else the tally's run)."""
        from console.policy.explain import row_state

        return row_state(self.state_filter, mode or (self.tally.get("mode") if self.tally else None) or "real")

    def _why(self, key: str | None) -> None:
        """A recipient's ledger row and why the policy let them through or not (`winback why U --campaign C`)."""
        row = self._recipients.get(key or "")
        if row and self.campaign:
            self._why_row = row
            self.fetch("why", sources.why_recipient, self.workspace.config, row["external_id"], self.campaign)

    def done_why(self, text: str) -> None:
        from rich.console import Group

        from console.policy.explain import row_state
        from screens.dialogs import InfoDialog
        from screens.person import why_table

        row = getattr(self, "_why_row", {})
        state = row_state(str(row.get("status")), row.get("mode") or "real")
        ledger = (f"ledger: {state} · arm {row.get('arm')} · attempts {row.get('attempts')}"
                  + (f" · {row.get('reason')}" if row.get("reason") else "")
                  + (f"\nprovider: {row.get('error')}" if row.get("error") else ""))
        # As on the person page: a long fact wraps under its own text, not back at the dialog's left edge.
        body = Group(Text(f"{ledger}\n"), why_table(text.splitlines()))
        self.app.push_screen(InfoDialog(f"Why · {row.get('external_id')} × {self.campaign}", body))


def _run_mode(tally: DeliveriesTally) -> str:
    """The run's mode as the tally stores it ('real', 'dry run', 'simulated', …), else from its dry_run flag."""
    return tally.get("mode") or ("dry run" if tally["dry_run"] else "real")
