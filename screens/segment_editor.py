"""The segment editor: a name and a rule; the member count updates as you type and a parse error is shown in
place, under the column it points at. ctrl+s saves through `console.segments.create` (audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from screens import sources
from screens.base import WinbackScreen
from screens.format import count
from screens.host import ConsoleHost

if TYPE_CHECKING:
    from console.segments.saved import SegmentDict
    from screens.sources.segments import RuleCount


class SegmentEditorScreen(WinbackScreen):
    """Create a segment, or change the rule of one. Dismisses with the saved name (None when left)."""

    LABEL = "Segment rule"
    CSS_PATH = "segment_editor.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="segment_editor.save"),
        Binding("escape", "leave", "Back", id="segment_editor.back"),
    ]
    COUNT_DELAY = 0.25  # seconds of quiet typing before the rule is counted

    def __init__(self, name: str | None = None, rule: str = "") -> None:
        super().__init__()
        self.editing = name
        self.initial_rule = rule
        self._timer: Timer | None = None
        self._last_count: RuleCount | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="editor-box") as box:
            box.border_title = f"Edit {self.editing}" if self.editing else "New segment"
            yield Static("name", classes="label")
            yield Input(value=self.editing or "", placeholder="e.g. dormant-buyers", id="segment-name",
                        disabled=self.editing is not None)
            yield Static("rule", classes="label")
            yield Input(value=self.initial_rule, id="segment-rule",
                        placeholder="dormancy = dormant and orders >= 3 and region in (华东, 华南)")
            yield Static(id="rule-result")
            yield Static(id="rule-fields")

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for field in self.query(Input).results():
            field.cursor_blink = blink
        self.query_one("#segment-rule" if self.editing else "#segment-name", Input).focus()
        fields = sources.rule_fields()  # the field registry: in memory, no database
        self.query_one("#rule-fields", Static).update(Text(
            "fields: " + ", ".join(name for name, _ in fields) + "\nand / or / not, ( ), in (a, b), = != < <= > >=",
            style="dim"))
        if self.initial_rule:
            self._count_now()

    def refresh_data(self) -> None:
        """Nothing to load: the editor counts only what is typed."""

    @on(Input.Changed, "#segment-rule")
    def _typed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.COUNT_DELAY, self._count_now)

    def _count_now(self) -> None:
        rule = self.query_one("#segment-rule", Input).value
        if rule.strip():
            self.fetch("count", sources.rule_count, rule)
        else:
            self.query_one("#rule-result", Static).update("")

    def show_count(self, result: RuleCount) -> None:
        self._last_count = result
        widget = self.query_one("#rule-result", Static)
        if result["error"] is None:
            widget.update(Text(f"✓ {count(result['count'])} users match now — ctrl+s saves", style="bold green"))
            return
        text = Text()
        column = result.get("column")
        if column:
            # The caret sits under the character the parser names: the input's text starts after its border and
            # padding (measured, not assumed: 2 put it one cell left of the mistake), less what the input has
            # scrolled sideways, and wide characters (汉字) take two cells each.
            field = self.query_one("#segment-rule", Input)
            indent = field.content_region.x - widget.content_region.x - field.scroll_offset.x
            text.append(" " * max(0, indent + cell_len(field.value[: column - 1])) + "^\n", style="bold red")
        text.append(result["error"], style="bold red")
        widget.update(text)

    def action_save(self) -> None:
        """ctrl+s: save the segment (the service checks the rule again and records it in the audit log)."""
        name = self.query_one("#segment-name", Input).value.strip()
        rule = self.query_one("#segment-rule", Input).value
        self.fetch("save", sources.save_segment, name, rule, self.editing is not None)

    def done_save(self, segment: SegmentDict) -> None:
        self.notify(f"Segment {segment['name']} saved: the campaign form (c, n) offers it.", title="Segment saved")
        self.dismiss(segment["name"])

    def action_leave(self) -> None:
        """Esc: back to the segments, nothing saved (asks first when something was typed)."""
        cast(ConsoleHost, self.app).leave_screen(self, lambda: self.dismiss(None))

    def unsaved(self) -> str | None:
        """What leaving now would lose: a rule typed or changed and not saved (never lose work, issue 18)."""
        rule = self.query_one("#segment-rule", Input).value
        name = self.query_one("#segment-name", Input).value.strip()
        if rule.strip() == self.initial_rule.strip() and (self.editing or not name):
            return None
        return f"The rule of {self.editing or name or 'the new segment'}"
