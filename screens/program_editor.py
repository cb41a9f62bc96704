"""The program editor (issue #14): write or change a recall program's TOML file; every pause in typing checks it
with `winback program add`'s own parser and validator (console.programs.spec), so an unknown template, channel,
rule or offer is named at its line before anything is stored. ctrl+s stores it as a draft."""

from __future__ import annotations

import re
from typing import ClassVar, TypedDict

import sqlite_utils
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Static, TextArea

from screens.base import WinbackScreen, winback_app


class CheckedProgram(TypedDict):   # check_program: what the editor's status line names
    name: str
    steps: list[str]                  # step names, in order


def check_program(db: sqlite_utils.Database, text: str) -> CheckedProgram:
    """The editor's check: the parser and validator of `winback program add` (templates, channels, rules, offers
    named at their line). Raises SpecError (FILE:LINE: field: what is wrong)."""
    from console.programs import spec

    checked = spec.parse(text, EDITOR_ORIGIN, db)
    return {"name": checked.name, "steps": [s.name for s in checked.steps]}


def save_program(db: sqlite_utils.Database, text: str) -> str:
    """`winback program add --replace`: store a checked program (a draft of that name is replaced). Audited."""
    from console.programs import spec, store

    return store.add(db, spec.parse(text, EDITOR_ORIGIN, db), replace=True).name


EDITOR_ORIGIN = "program.toml"
NEW_PROGRAM = """\
name = "new-program"
entry = "dormancy = dormant"      # a rule or a segment name: users who match at a run join the program
control = 10                      # percent of entrants held out of the whole program, never messaged
exit_on = ["order"]               # an event of these kinds after entry ends it for that user: returned
reentry = "180d"                  # a user can enter again only this long after leaving

[[steps]]
name = "nudge"
wait = "0d"                       # after entry; later steps: after the previous step's due time
channel = "sms"
template = "nostalgic-sms-zh"
"""


class ProgramEditorScreen(WinbackScreen):
    """Write or change a program file; every pause in typing checks it with `winback program add`'s parser and
    validator (unknown template, channel, rule, offer — named at its line). ctrl+s stores it (a draft of that
    name is replaced; a started program cannot be). Dismisses with the saved name (None when left)."""

    LABEL = "Program file"
    CSS_PATH = "program_editor.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="program_editor.save"),
        Binding("escape", "leave", "Back", id="program_editor.back"),
    ]
    CHECK_DELAY = 0.3  # seconds of quiet typing before the file is checked

    def __init__(self, name: str | None, text: str) -> None:
        super().__init__()
        self.editing = name
        self.initial = text
        self._timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="program-editor-box") as box:
            box.border_title = f"Edit program {self.editing}" if self.editing else "New program"
            yield TextArea(self.initial, id="program-text", show_line_numbers=True)  # Esc leaves (no tab indent)
        yield Static(id="program-check")

    def on_mount(self) -> None:
        self.query_one("#program-text", TextArea).focus()
        self._check_now()

    def refresh_data(self) -> None:
        """Nothing to load: the editor checks only what is typed."""

    @on(TextArea.Changed, "#program-text")
    def _typed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.CHECK_DELAY, self._check_now)

    def _check_now(self) -> None:
        self.fetch("check", check_program, self.query_one("#program-text", TextArea).text)

    def show_check(self, result: CheckedProgram) -> None:
        self.query_one("#program-check", Static).update(Text(
            f"✓ {result['name']}: {len(result['steps'])} steps ({', '.join(result['steps'])}) — ctrl+s saves",
            style="bold green"))

    def failed_check(self, text: str) -> None:
        # "program.toml:17: steps[2].template: …" → "line 17: steps[2].template: …"
        shown = re.sub(rf"^{re.escape(EDITOR_ORIGIN)}:(\d+):", r"line \1:", text)
        self.query_one("#program-check", Static).update(Text(f"✗ {shown}", style="bold red"))

    def action_save(self) -> None:
        """ctrl+s: store the program (checked again; audited)."""
        self.fetch("save_program", save_program, self.query_one("#program-text", TextArea).text)

    def done_save_program(self, name: str) -> None:
        self.initial = self.query_one("#program-text", TextArea).text
        self.notify(f"program {name} saved (draft)")
        self.dismiss(name)

    def action_leave(self) -> None:
        """Esc: back, nothing saved (asks first when the file was changed)."""
        winback_app(self).leave_screen(self, lambda: self.dismiss(None))

    def unsaved(self) -> str | None:
        """What leaving now would lose: the file as changed and not saved (never lose work, issue 18)."""
        if self.query_one("#program-text", TextArea).text == self.initial:
            return None
        return f"The program file of {self.editing or 'the new program'}"
