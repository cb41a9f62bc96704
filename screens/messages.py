"""Messages: the templates list, an editor with checks as you type, and a live preview as a real user.

The editor holds a template's TOML (the same text `winback templates add FILE` reads). Checks and saving go
through console.templates; the preview renders through the same function as `winback preview`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Static, TextArea

from screens import sources
from screens.base import ListFilter, WinbackScreen, cursor_key
from screens.columns import Column, FitTable
from screens.format import count, money
from screens.host import ConsoleHost

if TYPE_CHECKING:
    from console.messages import LintReport
    from console.templates.store import TemplateRow
    from screens.sources.messages import MessagePreview, NoPreview, TemplateVersion

NEW_TEMPLATE = '''name = "miss-you"
channel = "sms"
style = "nostalgic"
body = "{{ user.name | default('您') }}，好久不见！您常逛的{{ profile.top_category | default('好物') }}上新了，回来看看吧。"
'''


class MessagesScreen(ListFilter, WinbackScreen):
    """Templates: pick one, edit it, see what a real member would receive."""

    LABEL = "Messages"
    CSS_PATH = "messages.tcss"
    FILTER_TABLE = "#templates-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListFilter.FILTER_BINDINGS,
        Binding("n", "new", "New", id="messages.new"),
        Binding("ctrl+s", "save", "Save", id="messages.save"),
        Binding("ctrl+n,right_square_bracket", "member(1)", "Next", key_display="^n/]",
                id="messages.next"),
        Binding("ctrl+r,left_square_bracket", "member(-1)", "Previous member", key_display="^r/[",
                id="messages.previous", show=False),
        Binding("ctrl+g", "choose_audience", "Preview as…", id="messages.audience"),
        Binding("ctrl+l", "lint", "Lint over the segment", id="messages.lint", show=False),
    ]
    CHECK_DELAY = 0.3  # seconds of quiet typing before the text is checked and previewed again

    def __init__(self) -> None:
        super().__init__()
        self._check_timer: Timer | None = None
        self.audience: dict[str, str] = {"segment": "", "user": "", "offer": ""}
        self.member_index = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="messages-main"):
            with Vertical(id="templates-box") as box:
                box.border_title = "Templates"
                # A long template name is cut with …; the channel and version stay.
                yield FitTable((Column("name", "name", "name", least=8, most=30), Column("channel", "ch", least=5),
                                Column("version", "v", "id")), cursor_type="row", id="templates-table")
            with Vertical(id="editor-box") as box:
                box.border_title = "Editor"
                yield TextArea("", language="toml", id="editor", classes="escapable", soft_wrap=True,
                               show_line_numbers=False)
                yield Static(id="problems")
        with Vertical(id="preview-box") as box:
            box.border_title = "Preview"
            yield Static(id="preview")

    def on_mount(self) -> None:
        self.query_one("#templates-table").focus()
        self.query_one("#preview", Static).update(Text("choose a template; ctrl+g picks who to preview as",
                                                       style="dim"))

    def refresh_data(self) -> None:
        self.fetch("templates", sources.template_list)

    def show_templates(self, rows: list[TemplateRow]) -> None:
        self.query_one("#templates-table", FitTable).show([(r["name"], dict(r)) for r in rows])
        self.query_one("#templates-box").border_subtitle = f"{len(rows)}" if rows else "none — n adds one"
        editor = self.query_one("#editor", TextArea)
        if rows and not editor.text:
            self.fetch("source", sources.template_source, rows[0]["name"])

    @on(DataTable.RowSelected, "#templates-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        name = str(event.row_key.value)
        cast(ConsoleHost, self.app).leave_screen(
            self, lambda: self.fetch("source", sources.template_source, name), verb="Open another")

    def show_source(self, text: str) -> None:
        editor = self.query_one("#editor", TextArea)
        editor.load_text(text)
        self._loaded_text = text
        self._check_now()

    def action_new(self) -> None:
        """n: a new template from a starting point (asks first when the editor holds unsaved edits)."""
        cast(ConsoleHost, self.app).leave_screen(self, self._new, verb="Start a new one")

    def _new(self) -> None:
        editor = self.query_one("#editor", TextArea)
        editor.load_text(NEW_TEMPLATE)
        self._loaded_text = NEW_TEMPLATE
        editor.focus()
        self._check_now()

    def unsaved(self) -> str | None:
        """Edits in the editor since the template was opened or saved (never lose work, issue 18)."""
        if not self.is_mounted:
            return None
        text = self.query_one("#editor", TextArea).text
        if text == getattr(self, "_loaded_text", text):
            return None
        name = next((line.split("=", 1)[1].strip().strip('"') for line in text.splitlines()
                     if line.strip().startswith("name") and "=" in line), "")
        return f"The edited template {name or '(no name yet)'}"

    @on(TextArea.Changed, "#editor")
    def _typed(self) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(self.CHECK_DELAY, self._check_now)

    def _check_now(self) -> None:
        text = self.query_one("#editor", TextArea).text
        if text.strip():
            self.fetch("problems", sources.check_template_text, self.workspace.config, text)
            self.refresh_preview()

    def show_problems(self, problems: list[str]) -> None:
        widget = self.query_one("#problems", Static)
        if problems:
            widget.update(Text("\n".join(problems[:4]), style="bold red"))
            widget.add_class("has-problems")
        else:
            widget.update(Text("✓ checks pass — ctrl+s saves", style="green"))
            widget.remove_class("has-problems")

    def action_save(self) -> None:
        """ctrl+s: check and save the template (a new version if the name exists)."""
        self.fetch("save_template", sources.save_template_text, self.workspace.config,
                   self.query_one("#editor", TextArea).text)

    def done_save_template(self, saved: TemplateVersion) -> None:
        self._loaded_text = self.query_one("#editor", TextArea).text
        self.notify(f"unchanged: {saved['name']} stays v{saved['version']}" if saved["unchanged"] else
                    f"saved {saved['name']} v{saved['version']}")
        self.refresh_data()

    # ---- preview as a real user -------------------------------------------------------------------------

    def refresh_preview(self) -> None:
        """Render the editor's text for the chosen user."""
        text = self.query_one("#editor", TextArea).text
        if not text.strip():
            return
        self.fetch("preview", sources.preview_text, self.workspace.config, text, segment=self.audience["segment"] or None,
                   user=self.audience["user"] or None, offer=self.audience["offer"] or None,
                   index=self.member_index)

    def show_preview(self, result: MessagePreview | NoPreview) -> None:
        self.query_one("#preview", Static).update(render_preview(result, self.currency))

    def failed_preview(self, text: str) -> None:
        """The editor's text cannot be previewed yet (a half-typed `{{`, a bad price in winback.toml, a busy
        database): said in the preview pane, while the operator keeps typing."""
        message = Text("cannot preview: ", style="bold red")
        message.append(text, style="red")
        self.query_one("#preview", Static).update(message)

    def failed_problems(self, text: str) -> None:
        widget = self.query_one("#problems", Static)
        widget.update(Text(f"cannot check: {text}", style="bold red"))
        widget.add_class("has-problems")

    def failed_lint(self, text: str) -> None:
        self.failed_preview(text)

    def action_member(self, step: int) -> None:
        """Step to the next or previous member of the chosen segment."""
        self.member_index = max(0, self.member_index + step)
        self.refresh_preview()

    def action_choose_audience(self) -> None:
        """ctrl+g: preview as one user (external id) or as the members of a segment."""
        from screens.dialogs import FormDialog

        # The hints read whole in the form's field at 80 columns (about 50 cells); Enter in the last field previews.
        self.app.push_screen(FormDialog("Preview as", [
            ("segment", "segment", "a segment: ctrl+n / ctrl+r step its members"),
            ("user", "or user", "one user's external id"),
            ("offer", "offer", "an offer (empty: their layer's offer)"),
        ], values=self.audience, submit="preview"), self._audience_chosen)

    def _audience_chosen(self, answer: dict[str, str] | None) -> None:
        if answer is not None:
            self.audience = answer
            self.member_index = 0
            self.refresh_preview()

    def action_lint(self) -> None:
        """ctrl+l: lint the saved template over the chosen segment."""
        name = cursor_key(self.query_one("#templates-table", DataTable))
        if not name:
            return
        if not self.audience["segment"]:
            self.notify("choose a segment first (ctrl+g)", severity="warning")
            return
        self.fetch("lint", sources.lint_template, self.workspace.config, name, self.audience["segment"],
                   offer=self.audience["offer"] or None)

    def show_lint(self, report: LintReport) -> None:
        self.query_one("#preview", Static).update(render_lint(report, self.currency))


def render_preview(result: MessagePreview | NoPreview, currency: str) -> Text:
    """The rendered message with who it is for, its length, parts, cost and warnings."""
    if "empty" in result:
        return Text(result["empty"], style="dim")
    text = Text()
    who = f"{result.get('external_id')} {result.get('to') or ''}".strip()
    text.append(f"as {who}", style="bold")
    if member := result.get("member"):
        index, total = member
        text.append(f" · {result['segment']} member {index:,}/{total:,}", style="dim")
    text.append("\n")
    if result.get("copy_reason"):   # PIPL Art. 24: this person refused personalised marketing
        text.append(f"copy: {result.get('copy')} — {result['copy_reason']}\n", style="yellow")
    if result.get("error"):
        text.append(f"cannot render: {result['error']}", style="bold red")
        return text
    if result.get("subject"):
        text.append(f"subject: {result['subject']}\n", style="bold")
    if result.get("title"):
        text.append(f"title: {result['title']}\n", style="bold")
    text.append(result.get("text") or "")
    if result.get("text") or not result.get("fields"):   # the text on its own line, never run into a field
        text.append("\n")
    for name, value in (result.get("fields") or {}).items():
        text.append(f"{name}: ", style="dim")
        # a dict (template_params) as the JSON the provider gets, not Python's repr
        text.append(f"{json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value}\n")
    facts = " · ".join(channel_figures(result, currency))
    if result.get("offer"):
        facts += f" · offer {result['offer']}"
    text.append(facts, style="cyan")
    for warning in result.get("warnings") or []:
        text.append(f"\n⚠ {warning['message']}", style="yellow")
    # the providers' content rules: what `campaign plan` and a real launch hold the template to
    for rule in result.get("content_warnings") or []:
        text.append(f"\n⚠ content rule: {rule['message']}", style="bold yellow")
    return text


def channel_figures(result: MessagePreview, currency: str) -> list[str]:
    """The figures that apply to the template's channel: an SMS is billed by characters and parts; an email is a
    subject and a size; a push notification a title and a body; a call or gift list is a row of fields (and a
    call's script). A channel with a price set shows what one message costs; SMS always does (it is billed)."""
    channel = result.get("channel")
    text = result.get("text") or ""
    cost = result.get("cost") or 0.0
    if channel == "sms":
        parts = result.get("parts", 0)
        figures = [f"{result.get('units', 0)} chars", f"{parts} part{'s' if parts != 1 else ''}"]
        if result.get("encoding"):
            figures.append(str(result["encoding"]))
        return [*figures, money(cost, currency, places=3)]
    fields = len(result.get("fields") or {})
    if channel == "email":
        figures = [f"subject {len(result.get('subject') or '')} chars", f"text {len(text):,} chars"]
        if html := result.get("html"):
            figures.append(f"HTML {len(html.encode()) / 1024:,.1f} KB")
    elif channel == "push":
        figures = [f"title {len(result.get('title') or '')} chars", f"body {len(text):,} chars"]
    elif channel in ("call", "gift"):
        figures = [f"{channel} list row: {fields} field{'s' if fields != 1 else ''}"]
        if text:
            figures.append(f"script {len(text):,} chars")
    else:
        figures = [f"{result.get('units', 0):,} chars"]
    if cost:
        figures.append(f"{money(cost, currency, places=3)} each")
    return figures


def render_lint(report: LintReport, currency: str) -> Text:
    """The lint report in a few lines: failures by kind, empty fields, warnings, parts and total cost."""
    text = Text()
    text.append(f"lint {report['template']} over {report['segment']}: ", style="bold")
    text.append(f"{count(report['recipients'])} recipients, {count(report['failed'])} cannot render · "
                f"parts {', '.join(f'{k}×{count(v)}' for k, v in report['parts_histogram'].items()) or '—'} · "
                f"total {money(report['total_cost'], currency)}")
    for version, n in report["non_personalised"].items():
        text.append(f"\n⚠ {count(n)} refused personalised marketing: {version} version", style="yellow")
    for error in report["errors"][:2]:
        text.append(f"\n✗ {count(error['count'])} {error['kind']}: {error['message']} "
                    f"(e.g. {', '.join(error['examples'])})", style="red")
    for empty in report["empty_fields"][:2]:
        text.append(f"\n⚠ {empty['summary']}", style="yellow")
    for warning in report["warnings"][:2]:
        text.append(f"\n⚠ {count(warning['count'])} × {warning['message']}", style="yellow")
    if not (report["errors"] or report["empty_fields"] or report["warnings"]):
        text.append("\n✓ every recipient renders cleanly", style="green")
    return text
