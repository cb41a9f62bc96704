"""What the Programs list and a program's page share: the small pictures (status, mode, a mini funnel, the
treated-vs-control sentence) and the actions on the program under the cursor — start (dry run, or real after
typing its name), pause, resume, stop, edit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding, BindingType

from screens.base import WinbackScreen, winback_app
from screens.dialogs import ConfirmDialog, TypedConfirmDialog
from screens.format import count, money
from screens.program_editor import ProgramEditorScreen
from screens.program_services import (
    check_real_start,
    pause_program,
    program_source,
    resume_program,
    start_program,
    stop_program,
)

if TYPE_CHECKING:
    from console.programs.funnel import Comparison, Funnel
    from console.programs.report import RanReport
    from console.programs.store import Stopped

# ---- pictures -----------------------------------------------------------------------------------------------

_BLOCKS = "▁▂▃▄▅▆▇█"


def mini_funnel(entered: int, taken: list[int]) -> Text:
    """One bar per step: how many of the entrants took it (the program's funnel, at a glance)."""
    text = Text()
    for n in taken:
        if not entered or not n:
            text.append("·", style="dim")
        else:
            text.append(_BLOCKS[min(len(_BLOCKS) - 1, int(n / entered * (len(_BLOCKS) - 1) + 0.5))], style="green")
    return text


def mode_label(dry_run: bool | int, simulated: bool | int = False) -> str:   # a Program's bools, or stored 1 | 0
    """'real', 'dry run', or 'simulated' (the demo's made-up dry run), in the CLI's words."""
    from console.programs.funnel import mode_of

    return mode_of(dry_run, simulated)


def status_text(status: str) -> Text:
    style = {"running": "bold green", "paused": "yellow", "stopped": "dim", "draft": "cyan"}.get(status, "")
    return Text(status, style=style)


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def comparison_line(c: Comparison, currency: str) -> str:
    """Returned rate treated vs control (`winback program show`'s sentence, short enough for 80 columns)."""
    line = (f"returned: treated {pct(c['treated']['rate'])}/{count(c['treated']['users'])} · control "
            f"{pct(c['control']['rate'])}/{count(c['control']['users'])}")
    lift, low, high = c.get("lift"), c.get("ci_low"), c.get("ci_high")
    if lift is not None:
        line += f" · lift {lift * 100:+.1f} pp"
        if low is not None and high is not None:   # both or neither (funnel.comparison)
            line += f" [{low * 100:+.1f}, {high * 100:+.1f}]"
    return line


def cost_line(c: Comparison, currency: str, *, dry_run: bool = False) -> str:
    """The program's cost and what each extra returned user cost (treated returns beyond control's rate; none
    to pay for while treated do no better than control). A dry run (the demo's simulated weeks too) sent nothing:
    what it would cost."""
    per = c.get("cost_per_extra_returned")
    return (f"{'would cost' if dry_run else 'cost'} {money(c['cost'], currency)} · "
            + (f"{money(per, currency)} per extra returned user" if per is not None
               else "no extra returned user to pay for yet"))


def budget_lines(funnel: Funnel, currency: str, *, raise_key: str = "b", resume_key: str = "r") -> Text:
    """A program with a budget: budget, spent and what is left (this mode); paused by winback: why, in short, and
    what to do (the page's keys, as [keys] maps them). Nothing for a program without a budget."""
    b, text = funnel["budget"], Text()
    if b["budget"] is not None:
        text.append(f"\n budget {money(b['budget'], currency)} · spent {money(b['spent'], currency)} · "
                    f"{money(b['remaining'], currency)} left", style="dim")
    if funnel.get("pause_reason"):
        text.append(f"\n paused: budget spent — {raise_key} raises it, then {resume_key} resumes", style="yellow")
    return text


# ---- the actions both screens share ----------------------------------------------------------------------------


class TypedNameDialog(TypedConfirmDialog):
    """A real start goes ahead only when the operator types the program's name (as the CLI asks)."""

    INPUT_ID = "typed-name"
    INPUT_WIDTH = 24

    def __init__(self, title: str, body: str, expected: str) -> None:
        super().__init__(title, body, expected)
        self.expected = expected

    def prompt(self) -> str:
        return "Type the program's name to start it, Esc to go back:"

    def matches(self, typed: str) -> bool:
        return typed.strip() == self.expected

    def refusal(self, typed: str) -> str:
        return f"{typed.strip()!r} is not {self.expected!r}: nothing was started. Type it exactly, or Esc."


class ProgramActions(WinbackScreen):
    """Start (dry run / real), pause, resume, stop and edit the program `current_program()` names."""

    def current_program(self) -> str | None:
        raise NotImplementedError

    def action_start(self, real: bool) -> None:
        """l: start a draft as a dry run (nothing leaves); L: start for real, after typing its name."""
        name = self.current_program()
        if name is None:
            return
        if real:
            self.fetch("realcheck", check_real_start, self.workspace.config, name)
        else:
            self.fetch("start_program", start_program, self.workspace.config, name, False)

    def show_realcheck(self, name: str) -> None:
        body = (f"Program {name} will send its steps for real to every entrant outside its control group, from "
                "now on at every run-due. A dry run's users leave; the real program starts from the entry rule.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.fetch("start_program", start_program, self.workspace.config, name, True)

        self.app.push_screen(TypedNameDialog(f"Start {name} for real?", body, name), answered)

    def failed_realcheck(self, text: str) -> None:
        winback_app(self).report_failure("start_program", text, action=True)

    def done_start_program(self, report: RanReport) -> None:
        from console.programs.report import report_lines

        plain = Text.from_markup(" ".join(report_lines([report]))).plain
        self.notify(plain, title=f"program {report['program']} started", timeout=10)
        self.refresh_data()

    def action_pause(self) -> None:
        """space: pause a running program (its steps stop sending) until r resumes it."""
        name = self.current_program()
        if name is not None:
            self.fetch("pause_program", pause_program, name)

    def done_pause_program(self, status: str) -> None:
        self.notify(f"program {self.current_program()} {status}: r resumes it")
        self.refresh_data()

    def action_resume(self) -> None:
        """r: resume a paused program; steps due meanwhile are taken at the next run."""
        name = self.current_program()
        if name is not None:
            self.fetch("resume_program", resume_program, name)

    def done_resume_program(self, status: str) -> None:
        self.notify(f"program {self.current_program()} {status} again: the next run-due advances it")
        self.refresh_data()

    def action_stop(self) -> None:
        """x: stop a program for good (asks first)."""
        name = self.current_program()
        if name is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.fetch("stop_program", stop_program, name)

        self.app.push_screen(ConfirmDialog(
            f"Stop {name} for good?", "Active users leave the program and its step messages not yet handed to a "
            "provider are cancelled. A stopped program cannot be started again.", yes="Stop it", no="Keep it"),
            answered)

    def done_stop_program(self, result: Stopped) -> None:
        self.notify(f"program {result['program']} stopped: {count(result['entries_closed'])} entries closed, "
                    f"{count(result['messages_cancelled'])} messages cancelled")
        self.refresh_data()

    def action_edit(self) -> None:
        """e: edit the program file (checked as you type; a draft is replaced when saved)."""
        name = self.current_program()
        if name is not None:
            self.fetch("source", program_source, name)

    def show_source(self, text: str) -> None:
        self._shown.pop("source", None)  # the same text asked for again must open the editor again
        self.app.push_screen(ProgramEditorScreen(self.current_program(), text), self._edited)

    def _edited(self, name: str | None) -> None:
        if name:
            self.refresh_data()


ACTION_BINDINGS: list[BindingType] = [
    Binding("l", "start(False)", "Dry-run", id="programs.start", tooltip="Start a draft as a dry run"),
    Binding("L", "start(True)", "Real…", key_display="L", id="programs.start_real",
            tooltip="Start for real (type its name)"),
    Binding("space", "pause", "Pause", id="programs.pause"),
    Binding("r", "resume", "Resume", id="programs.resume"),
    Binding("x", "stop", "Stop", id="programs.stop"),
    Binding("e", "edit", "Edit", id="programs.edit"),
]
