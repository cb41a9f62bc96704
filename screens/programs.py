"""Programs (issue #14): every recall program with a small funnel; a program's page with its steps as columns;
pause, resume, stop and start (a real start asks for the typed program name, like `winback program start --real`);
an editor that checks the program file as you type.

All database work runs in thread workers calling console/programs' services (store, funnel, runner, spec): the
same code as `winback program …`, so the console and the CLI cannot disagree.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlite_utils
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.config import Config
from screens.base import ListFilter, WinbackScreen, cursor_key, sync_table, winback_app
from screens.dialogs import ConfirmDialog, TypedConfirmDialog
from screens.format import count, local_time, money
from screens.host import ConsoleHost
from screens.program_editor import NEW_PROGRAM, ProgramEditorScreen

# ---- services (run in thread workers: `db` is the worker's own connection) ----------------------------------


def program_rows(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every program with how many took each of its steps (the program's current mode)."""
    from console.programs import funnel, store

    rows = []
    for row in store.list_programs(db):
        rows.append({**row, "taken": funnel.taken_per_step(db, row["name"]),
                     "step_names": [s.name for s in store.get(db, row["name"]).steps]})
    return rows


def program_page(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """A program's definition (steps, waits, templates, rules) and its funnel."""
    from console.programs import funnel, store

    program = store.get(db, name)
    return {"program": program.as_dict(), "funnel": funnel.funnel(db, name)}


def program_timeline(db: sqlite_utils.Database, name: str, tz: str) -> list[dict[str, Any]]:
    """Per day: entered, messaged, held out, skipped, returned, left (console.programs.funnel.timeline)."""
    from console.programs import funnel

    return funnel.timeline(db, name, tz)


def start_program(db: sqlite_utils.Database, config: Config, name: str, real: bool) -> dict[str, Any]:
    """`winback program start NAME [--real] --yes`: start, then run once (entrants, due steps, dispatch)."""
    from console.programs import runner, store

    if real:
        runner.check_channels(db, config, name, real=True)
    store.start(db, name, real=real)
    return runner.run(db, config, name).as_dict()


def check_real_start(db: sqlite_utils.Database, config: Config, name: str) -> str:
    """Refuse before asking anything when a step's channel cannot send for real (dry-run transport, secrets)."""
    from console.programs import runner

    runner.check_channels(db, config, name, real=True)
    return name


def pause_program(db: sqlite_utils.Database, name: str) -> str:
    from console.programs import store

    return store.pause(db, name).status


def resume_program(db: sqlite_utils.Database, name: str) -> str:
    from console.programs import store

    return store.resume(db, name).status


def stop_program(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    from console.programs import store

    return store.stop(db, name)


def program_source(db: sqlite_utils.Database, name: str) -> str:
    from console.programs import store

    return store.source(db, name)


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


def _mode(dry_run: bool) -> str:
    return "dry run" if dry_run else "real"


def _status(status: str) -> Text:
    style = {"running": "bold green", "paused": "yellow", "stopped": "dim", "draft": "cyan"}.get(status, "")
    return Text(status, style=style)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def comparison_line(c: dict[str, Any], currency: str) -> str:
    """Returned rate treated vs control (`winback program show`'s sentence, short enough for 80 columns)."""
    line = (f"returned: treated {_pct(c['treated']['rate'])}/{count(c['treated']['users'])} · control "
            f"{_pct(c['control']['rate'])}/{count(c['control']['users'])}")
    if c.get("lift") is not None:
        line += f" · lift {c['lift'] * 100:+.1f} pp"
        if c.get("ci_low") is not None:
            line += f" [{c['ci_low'] * 100:+.1f}, {c['ci_high'] * 100:+.1f}]"
    return line + f" · cost {money(c['cost'], currency)}"


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

    def _status_of_current(self) -> str | None:
        return None

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

    def done_start_program(self, report: dict[str, Any]) -> None:
        from console.cli.program_cmds import report_lines

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

    def done_stop_program(self, result: dict[str, Any]) -> None:
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


class ProgramsScreen(ListFilter, ProgramActions):
    """Every program: status, mode, a small funnel (one bar per step), entered, waiting, returned."""

    LABEL = "Programs"
    CSS_PATH = "programs.tcss"
    POLL_SECONDS = 10.0   # programs move at run-due, not by the second
    FILTER_TABLE = "#programs-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="programs.open"),
        *ACTION_BINDINGS,
        Binding("n", "new", "New", id="programs.new"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, dict[str, Any]] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="programs-box") as box:
            box.border_title = "Recall programs"
            table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="programs-table")
            table.add_column("program", key="name")
            table.add_column("status", key="status")
            table.add_column("mode", key="mode")
            table.add_column("steps", key="funnel")
            table.add_column("entered", key="entered")
            table.add_column("waiting", key="active")
            table.add_column("returned", key="returned")
            yield table
        yield Static(id="programs-detail")

    def on_mount(self) -> None:
        self.query_one("#programs-table").focus()

    def refresh_data(self) -> None:
        self.fetch("programs", program_rows)

    def show_programs(self, rows: list[dict[str, Any]]) -> None:
        self._rows = {r["name"]: r for r in rows}
        self.query_one("#programs-box").border_subtitle = f"{len(rows)} program" + ("" if len(rows) == 1 else "s")
        self.show_rows([(r["name"], [
            r["name"], _status(r["status"]), _mode(r["dry_run"]), mini_funnel(r["entered"], r["taken"]),
            Text(count(r["entered"]), justify="right"), Text(count(r["active"]), justify="right"),
            Text(count(r["returned"]), justify="right"),
        ]) for r in rows])
        self._show_detail()

    @on(DataTable.RowHighlighted, "#programs-table")
    def _show_detail(self) -> None:
        row = self._rows.get(self.current_program() or "")
        detail = self.query_one("#programs-detail", Static)
        if row is None:
            detail.update(Text(" no programs yet: n writes one (or `winback program add FILE`)"
                               if not self._rows else "", style="dim"))
            return
        steps = " › ".join(f"{s} {count(n)}" for s, n in zip(row["step_names"], row["taken"], strict=False))
        last = local_time(row["last_run_at"], self.timezone) if row["last_run_at"] else "never run"
        detail.update(Text(f" entry: {row['entry']} · control {row['control_pct']:g}% · last run {last}\n"
                           f" took: {steps}", style="dim"))

    def current_program(self) -> str | None:
        return cursor_key(self.query_one("#programs-table", DataTable))

    def action_open(self) -> None:
        """enter: the program's page (steps as columns)."""
        name = self.current_program()
        if name is not None:
            self.app.push_screen(ProgramPage(name))

    @on(DataTable.RowSelected, "#programs-table")
    def _selected(self) -> None:
        self.action_open()

    def action_new(self) -> None:
        """n: write a new program (checked as you type)."""
        self.app.push_screen(ProgramEditorScreen(None, NEW_PROGRAM), self._edited)


METRICS = (("channel", "channel"), ("wait", "wait"), ("taken", "took it"), ("reached", "reached"),
           ("holdout", "control"), ("skipped", "skipped"), ("returned_before_next", "returned"),
           ("waiting", "waiting"), ("cost", "cost"))


TIMELINE_COLUMNS = (("entered", "entered"), ("messaged", "messaged"), ("held_out", "control"),
                    ("skipped", "skipped"), ("returned", "returned"), ("left", "left"))


class ProgramPage(ProgramActions):
    """One program: what it is, its funnel with the steps as columns, why users skipped each step."""

    LABEL = "Program"
    CSS_PATH = "program_page.tcss"
    POLL_SECONDS = 10.0   # the funnel joins the ledger: not more often than this
    BINDINGS: ClassVar[list[BindingType]] = [
        *ACTION_BINDINGS,
        Binding("t", "toggle_timeline", "Days", id="programs.timeline",
                tooltip="The steps as columns, or a per-day timeline"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.program = name
        self._step_columns: list[str] = []
        self.timeline = False

    def compose_body(self) -> ComposeResult:
        yield Static(id="program-head")
        with Vertical(id="program-box") as box:
            box.border_title = f"Program {self.program}"
            yield DataTable(cursor_type="column", zebra_stripes=True, id="program-steps")
            days: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="program-timeline")
            days.add_column("day", key="day")
            for key, label in TIMELINE_COLUMNS:
                days.add_column(label, key=key)
            yield days
        yield Static(id="program-skips")

    def on_mount(self) -> None:
        self.query_one("#program-timeline").display = False
        self.query_one("#program-steps").focus()

    def current_program(self) -> str | None:
        return self.program

    def refresh_data(self) -> None:
        self.fetch("page", program_page, self.program)
        if self.timeline:
            self.fetch("timeline", program_timeline, self.program, self.timezone)

    def action_toggle_timeline(self) -> None:
        """t: the steps as columns ⇄ a per-day timeline (entered, messaged, held out, skipped, returned, left)."""
        self.timeline = not self.timeline
        steps, days = self.query_one("#program-steps", DataTable), self.query_one("#program-timeline", DataTable)
        steps.display, days.display = not self.timeline, self.timeline
        self.query_one("#program-skips").display = not self.timeline
        (days if self.timeline else steps).focus()
        self.query_one("#program-box").border_subtitle = "per day" if self.timeline else ""
        if self.timeline:
            self.fetch("timeline", program_timeline, self.program, self.timezone)

    def show_timeline(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#program-timeline", DataTable)
        sync_table(table, [(r["day"], [r["day"], *(Text(count(r[key]), justify="right")
                                                   for key, _ in TIMELINE_COLUMNS)]) for r in rows])

    def show_page(self, data: dict[str, Any]) -> None:
        program, funnel = data["program"], data["funnel"]
        currency = self.currency
        head = Text()
        head.append(f" {program['name']} ", style="bold")
        head.append_text(_status(program["status"]))
        head.append(f" · {_mode(program['dry_run'])} · control {program['control_pct']:g}% · exit on "
                    f"{', '.join(program['exit_on'])}\n")
        exited = ", ".join(f"{k} {count(v)}" for k, v in sorted(funnel["exited"].items())) or "nobody yet"
        head.append(f" entered {count(funnel['entered'])} (control {count(funnel['control'])}) · waiting "
                    f"{count(funnel['still_waiting'])} · left: {exited}\n")
        head.append(" " + comparison_line(funnel["comparison"], currency), style="dim")
        box = self.query_one("#program-box")
        box.border_title = f"Program {program['name']} · entry: {program['entry']}"
        self.query_one("#program-head", Static).update(head)
        self._fill_steps(program, funnel, currency)

    def _fill_steps(self, program: dict[str, Any], funnel: dict[str, Any], currency: str) -> None:
        table = self.query_one("#program-steps", DataTable)
        names = [f"{k + 1} {s['name']}" for k, s in enumerate(program["steps"])]
        if names != self._step_columns:  # an edited draft may have other steps: new columns
            table.clear(columns=True)
            table.add_column("", key="metric")
            for k, label in enumerate(names):
                table.add_column(label, key=f"step{k}")
            self._step_columns = names
        reached = "would send" if program["dry_run"] else "reached"
        rows = []
        for key, label in METRICS:
            cells: list[Any] = [Text(reached if key == "reached" else label, style="bold")]
            for step, counts in zip(program["steps"], funnel["steps"], strict=False):
                cells.append(self._cell(key, step, counts, currency))
            rows.append((key, cells))
        sync_table(table, rows)
        skips = Text()
        for counts in funnel["steps"]:
            if counts["skipped"]:
                reasons = ", ".join(f"{k} {count(v)}" for k, v in sorted(counts["skipped"].items()))
                skips.append(f" skipped at {counts['step']}: {reasons}\n", style="dim")
        self.query_one("#program-skips", Static).update(skips)

    @staticmethod
    def _cell(key: str, step: dict[str, Any], counts: dict[str, Any], currency: str) -> Any:
        if key == "channel":
            return ",".join(step["channels"])
        if key == "wait":
            return f"+{step['wait_days']}d" + (" · only" if step["only"] else "")
        if key == "skipped":
            return Text(count(sum(counts["skipped"].values())), justify="right")
        if key == "cost":
            return Text(money(counts["cost"], currency), justify="right")
        return Text(count(counts[key]), justify="right")

    def failed_page(self, text: str) -> None:
        self.query_one("#program-head", Static).update(Text(f" {text}", style="bold red"))


def choose_program(app: ConsoleHost) -> None:
    """The palette's "Open a program…": which program (a thread worker lists them), then its page."""
    from screens.base import background_priority
    from screens.dialogs import ChoiceDialog

    workspace = app.workspace

    def chosen(name: str | None) -> None:
        if name:
            app.push_screen(ProgramPage(name))

    def load() -> None:
        from console.programs import store

        background_priority()
        db = workspace.open()
        try:
            rows = store.list_programs(db)
        finally:
            db.close()
        if not rows:
            app.call_from_thread(app.notify, "No program yet — “New program” in the palette (or P, then n) writes one.",
                                 title="No program", severity="warning")
            return
        choices = [(r["name"], f"{r['name']} · {r['status']} · {_mode(r['dry_run'])} · entered {r['entered']:,}")
                   for r in rows]
        app.call_from_thread(app.push_screen, ChoiceDialog("Open which program?", choices), chosen)

    app.run_worker(load, name="programs", group="app:choose_program", thread=True, exclusive=True,
                   exit_on_error=False)


def new_program(app: ConsoleHost) -> None:
    """The palette's "New program": Programs, then its `n` (the editor)."""
    screen = app.area_screen("programs")
    if isinstance(screen, ProgramsScreen):
        app.call_after_refresh(screen.action_new)
