"""One person's page (`w` or "Find a person…" from any screen): profile and layer, consent, suppressions with
their reasons and sources, every message ever planned or sent to them, recent events, and `why` for a campaign.

Masked (138****5678, 王*) until `U`, which unmasks and is audited like `winback why --unmask`. The data comes
from console.people in thread workers (WinbackScreen.fetch); nothing here touches SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from console import people
from console.config import Config
from screens.base import WinbackScreen, cursor_key
from screens.columns import Column, FitTable
from screens.format import count, local_time, money

if TYPE_CHECKING:
    from console.policy.consent import ConsentRow
    from console.programs.funnel import ProgramEntry

# A person's messages: when, campaign and state always (a long campaign name is cut with …); the reason, then the
# channel, step aside when they do not fit.
MESSAGE_COLUMNS = (
    Column("at", "when", least=16),
    Column("campaign", "campaign", "name", least=8, most=32),
    Column("channel", "ch", priority=2),
    Column("state", "state", least=11),
    Column("reason", "reason", priority=1, least=16, most=80),
)

# From this many columns on, the page is two columns: who they are on the left, their messages on the right.
WIDE = 140

_STATE_STYLE = {"sent": "green", "delivered": "green", "failed": "red", "bounced": "red", "unknown": "yellow",
                "skipped": "dim", "cancelled": "dim", "holdout": "dim", "deferred": "yellow"}
# What a real send would have done; a dry run records it as 'sent' and a provider never sees it.
_DONE = frozenset({"sent", "delivered"})


def state_cell(status: str, dry_run: bool, simulated: bool) -> Text:
    """A message's state in the project's words: nothing of a dry run or of the demo's made-up rows was sent, so
    their 'sent' reads "would send" (a dry run) or "simulated" (made up by the demo, stored as a dry run's rows),
    as the tallies and `winback why` say; their other states keep the word and say " dry" / " simulated"."""
    if not dry_run:
        return Text(status, style=_STATE_STYLE.get(status, ""))
    if status in _DONE:
        return Text("simulated" if simulated else "would send")
    state = Text(status, style=_STATE_STYLE.get(status, ""))
    state.append(" simulated" if simulated else " dry", "dim")
    return state


def find_people(db: Any, config: Config, text: str) -> list[people.PersonMatch]:
    """Who matches what the operator typed (console.people.find, read in the workspace's phone region)."""
    return people.find(db, text, region=config.default_region)


def person_page(db: Any, user: str, unmask: bool) -> people.PersonPage:
    return people.page(db, user, unmask=unmask)


def person_programs(db: Any, user: str) -> list[ProgramEntry]:
    """The recall programs the person is in or left (console.programs.funnel.programs_of)."""
    from console.programs.funnel import programs_of

    return programs_of(db, user)


class WhyPanel(Static):
    """The `why` of a message. Scrolled into view when the operator asked for it — once its new lines are laid out:
    the refresh after update() can still measure the one line of "asking the policies…" (which is on screen, so
    nothing scrolled: seen at 80x24), and the layout that follows comes as a resize of this panel."""

    reveal = False   # scroll into view at the next resize (set with the answer the operator asked for)

    def on_resize(self) -> None:
        if self.reveal:
            self.reveal = False
            self.scroll_visible()


class PersonWhy(TypedDict):
    campaign: str
    lines: list[str]           # console.policy.explain.explanation_lines


def person_why(db: Any, config: Config, user: str, campaign: str, unmask: bool) -> PersonWhy:
    return {"campaign": campaign, "lines": people.why(db, config, user, campaign, unmask=unmask)}


# `why` lines are "  ok  label        text": long facts wrap under their text, not at the left edge.
_WHY_INDENT = 19


def why_table(lines: list[str]) -> Group:
    """The lines of console.policy.explain.explanation_lines, each fact's text wrapping under itself."""
    parts: list[RenderableType] = []
    table: Table | None = None
    for i, line in enumerate(lines):
        if not line.startswith("  "):
            parts.append(Text(line, style="bold" if i == 0 else ""))
            table = None
            continue
        if table is None:
            table = Table.grid(padding=0, expand=True)
            table.add_column(no_wrap=True, width=_WHY_INDENT)
            table.add_column(ratio=1)
            parts.append(table)
        head, rest = line[:_WHY_INDENT], line[_WHY_INDENT:]
        table.add_row(Text(head, style="bold red" if head.startswith("  NO") else ""), Text(rest))
    return Group(*parts)


class PersonScreen(WinbackScreen):
    """A pushed screen over the area it was opened from: Esc goes back there."""

    LABEL = "Person"
    CSS_PATH = "person.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "why_selected", "Why", id="person.why",
                tooltip="Why this message was or was not sent: `winback why USER --campaign C`"),
        Binding("e", "why_other", "Why for…", id="person.why_other",
                tooltip="Why for any campaign (choose one)"),
        Binding("U", "unmask", "Unmask (audited)", key_display="U", id="person.unmask"),
        Binding("slash", "filter", "Filter", key_display="/", id="person.filter", show=False),
    ]

    def __init__(self, user: str) -> None:
        super().__init__()
        self.user = user
        self.unmask = False
        self.why_campaign: str | None = None
        self._campaigns: list[str] = []
        self._messages: dict[str, dict[str, Any]] = {}
        # What the next result scrolls into view: the `why` the operator asked for (Enter, e), or the profile's
        # name and phone line after `U`. A reload (unmask, return to the page) moves nothing else.
        self._reveal: str | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="person-body"):
            yield Static(Text("loading…", style="dim"), id="person-profile")
            with Vertical(id="person-messages-box") as box:
                box.border_title = "Messages"
                yield FitTable(MESSAGE_COLUMNS, cursor_type="row", id="person-messages")
                yield WhyPanel(id="person-why")
            yield Static(id="person-policy")
            yield Static(id="person-programs")
            yield Static(id="person-events")

    def on_mount(self) -> None:
        self.query_one("#person-messages").focus()
        self.query_one("#person-why").display = False
        self.query_one("#person-programs").display = False  # shown when the person is in a program
        self._layout()

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    def refresh_data(self) -> None:
        self.fetch("page", person_page, self.user, self.unmask)
        self.fetch("programs", person_programs, self.user)
        if self.why_campaign:
            self._fetch_why(self.why_campaign, reveal=False)

    # ---- the page -------------------------------------------------------------------------------------

    def show_page(self, data: people.PersonPage) -> None:
        self._campaigns = data["campaigns"]
        profile = self.query_one("#person-profile", Static)
        profile.update(self._profile(data))
        if self._reveal == "profile":   # U: the line just unmasked is what the operator looks for
            self._reveal = None
            self.call_after_refresh(profile.scroll_visible, top=True)
        self.query_one("#person-policy", Static).update(self._policy(data))
        self.query_one("#person-events", Static).update(self._events(data))
        self._show_messages(data["messages"])

    def show_programs(self, entries: list[ProgramEntry]) -> None:
        """Where the person is in each program: `winback why USER --program NAME` tells the whole story."""
        panel = self.query_one("#person-programs", Static)
        panel.display = bool(entries)
        tz = self.timezone
        text = Text("Programs", "bold")
        for e in entries:
            # the demo's simulated program is named for what it is, never an operator's dry run
            mode = "simulated" if e.get("simulated") else "dry run" if e["dry_run"] else "real"
            text.append(f"\n  {e['program']} ({mode}) ")
            text.append("control group" if e["control"] else "treated", "dim")
            if e["state"] == "active" and e["next_step"]:
                text.append(f" · next {e['next_step']} (step {e['step'] + 1} of {e['steps']}), due "
                            f"{local_time(e['next_due_at'], tz)}")
            else:
                text.append(f" · {e['state']}", "yellow" if e["state"] == "returned" else "dim")
                text.append(f" {local_time(e['left_at'], tz)}: {e['left_reason'] or ''}" if e["left_at"] else "")
            text.append(f" · entered {local_time(e['entered_at'], tz, '%Y-%m-%d')}", "dim")
        panel.update(text)

    def failed_programs(self, text: str) -> None:
        panel = self.query_one("#person-programs", Static)
        panel.display = True
        panel.update(Text(text, style="red"))

    def failed_page(self, text: str) -> None:
        self.query_one("#person-profile", Static).update(Text(text, style="red"))

    def _profile(self, data: people.PersonPage) -> Text:
        p, prof = data["person"], data["profile"]
        tz = self.timezone
        text = Text()
        text.append(p["user"], "bold")
        text.append(f"  {p['name'] or '—'}  {p['phone'] or 'no phone'}  {p['email'] or 'no email'}")
        text.append("  unmasked (audited)" if p["unmask"] else "  masked", "dim")
        facts = [p["region"], p["gender"], p["age_band"], p["timezone"]]
        text.append("\n" + " · ".join(str(f) for f in facts if f))
        if p["signup_at"]:
            text.append(f" · signed up {local_time(p['signup_at'], tz, '%Y-%m-%d')}")
        if prof is None:
            text.append("\nno profile yet — run `winback refresh`", "dim")
            return text
        text.append("\nlayer ")
        text.append(prof["layer"] or "none (never active)", "bold")
        text.append(f" · {prof['dormancy'].replace('_', ' ')}")
        if prof["rf_cell"]:
            text.append(f" · {prof['rf_cell']}")
        text.append(f"\n{count(prof['orders'])} orders · {money(prof['spend'], self.currency)} spent")
        if prof["top_category"]:
            text.append(f" · mostly {prof['top_category']}")
        text.append(f" · last seen {local_time(prof['last_event_at'], tz) or '—'}")
        if prof["last_order_at"]:
            text.append(f" · last order {local_time(prof['last_order_at'], tz, '%Y-%m-%d')}")
        return text

    def _policy(self, data: people.PersonPage) -> Text:
        tz = self.timezone
        text = Text()
        text.append("Consent", "bold")
        latest: dict[str, ConsentRow] = {}
        for row in data["consents"]:  # newest first: the first per channel is the one in force
            latest.setdefault(row["channel"], row)
        if not latest:
            text.append("\n  none recorded (each channel's unknown_consent setting decides)", "dim")
        for channel, row in sorted(latest.items()):
            style = "green" if row["status"] == "granted" else "red"
            text.append(f"\n  {channel:<6}")
            text.append(f"{row['status']:<10}", style)
            text.append(f"{local_time(row['at'], tz)}  source {row['source']}")
        older = len(data["consents"]) - len(latest)
        if older:
            text.append(f"\n  ({older} earlier change{'s' if older != 1 else ''})", "dim")
        text.append("\nSuppressions", "bold")
        if not data["suppressions"]:
            text.append("\n  none", "dim")
        for e in data["suppressions"]:
            state = "in force" if e["in_force"] else f"lifted {local_time(e['removed_at'], tz, '%Y-%m-%d')}"
            text.append(f"\n  #{e['id']} ")
            text.append(f"{e['reason']}", "red" if e["in_force"] else "dim")
            text.append(f" on {e['channel']} for {e['target']} · {state} · {local_time(e['at'], tz)} "
                        f"by {e['created_by']} · source {e['source']}")
            if e["note"]:
                text.append(f" · {e['note']}", "dim")
            if not e["in_force"] and e["removed_reason"]:
                text.append(f" · lifted: {e['removed_reason']}", "dim")
        return text

    def _events(self, data: people.PersonPage) -> Text:
        tz = self.timezone
        text = Text()
        shown, total = len(data["events"]), data["event_count"]
        text.append("Recent events", "bold")
        text.append(f"  {shown} of {count(total)}" if total > shown else f"  {count(total)}", "dim")
        for e in data["events"]:
            text.append(f"\n  {local_time(e['at'], tz)}  {e['kind']:<7}")
            what = " ".join(str(x) for x in (e["category"], e["object"]) if x)
            if e["amount"] is not None:
                what = f"{money(e['amount'], self.currency)} {what}"
            text.append(f" {what}")
            if e["source"]:
                text.append(f"  ({e['source']})", "dim")
        return text

    def _show_messages(self, messages: list[dict[str, Any]]) -> None:
        self._messages = {str(m["id"]): m for m in messages}
        box = self.query_one("#person-messages-box")
        box.border_title = f"Messages ({len(messages)}) · Enter: why"
        box.border_subtitle = "" if messages else "never planned or sent to this person"
        rows = []
        for m in messages:
            state = state_cell(m["status"], bool(m["dry_run"]), bool(m.get("simulated")))
            reason = m["reason"] or ""
            if m["error"]:
                reason = f"{reason}: {m['error']}" if reason else m["error"]
            if m["arm"] and m["arm"] != "holdout":   # 'variant A': a bare 'A' under "reason" read as the reason
                reason = f"variant {m['arm']} · {reason}" if reason else f"variant {m['arm']}"
            run = f" #{m['run']}" if m["run"] and m["run"] > 1 else ""
            rows.append((str(m["id"]), {"at": local_time(m["at"], self.timezone, "%Y-%m-%d %H:%M"),
                                        "campaign": f"{m['campaign']}{run}", "channel": m["channel"],
                                        "state": state, "reason": reason}))
        self.query_one("#person-messages", FitTable).show(rows)

    # ---- why ------------------------------------------------------------------------------------------

    def action_why_selected(self) -> None:
        """Enter: why the message under the cursor was or was not sent."""
        message = self._messages.get(cursor_key(self.query_one("#person-messages", DataTable)) or "")
        if message is None:
            self.action_why_other()
            return
        self._fetch_why(message["campaign"])

    @on(DataTable.RowSelected, "#person-messages")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_why_selected()

    def action_why_other(self) -> None:
        """e: why for any campaign (choose one)."""
        from screens.dialogs import ChoiceDialog

        if not self._campaigns:
            self.notify("No campaign yet: `why` explains a campaign's decision for this person.",
                        severity="warning")
            return

        def chosen(name: str | None) -> None:
            if name:
                self._fetch_why(name)

        self.app.push_screen(ChoiceDialog(f"Why for {self.user} — which campaign?",
                                          [(n, n) for n in self._campaigns]), chosen)

    def _fetch_why(self, campaign: str, *, reveal: bool = True) -> None:
        self.why_campaign = campaign
        if reveal:
            self._reveal = "why"
        panel = self.query_one("#person-why", Static)
        panel.display = True
        panel.update(Text(f"why {self.user} × {campaign}: asking the policies…", style="dim"))
        self.fetch("why", person_why, self.workspace.config, self.user, campaign, self.unmask)

    def show_why(self, data: PersonWhy) -> None:
        panel = self.query_one("#person-why", WhyPanel)
        panel.update(why_table(data["lines"]))
        panel.display = True
        if self._reveal == "why":
            self._reveal = None
            panel.reveal = True                          # when its new lines are laid out (a resize) …
            self.call_after_refresh(panel.scroll_visible)  # … or now, if the answer is as tall as the question

    def failed_why(self, text: str) -> None:
        panel = self.query_one("#person-why", Static)
        panel.update(Text(text, style="red"))
        panel.display = True

    # ---- unmask, filter -------------------------------------------------------------------------------

    def action_unmask(self) -> None:
        """U: show full name, phone, email and addresses (audited); again: masked."""
        self.unmask = not self.unmask
        self._reveal = "profile"
        self.refresh_data()

    def action_filter(self) -> None:
        """/: filter the messages."""
        from screens.table_filter import open_filter

        open_filter(self, self.query_one("#person-messages", DataTable))
