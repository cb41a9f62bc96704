"""The console application and its entry point.

Screens are Textual *modes*, one per area (overview, segments, messages, campaigns, policy, deliveries, audit):
each keeps its own stack, so going to Segments and back finds it as it was left. `Esc` pops a pushed screen,
else returns to the area the operator came from, else to the overview.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from console.clock import now_ts
from console.workspace import Workspace
from screens.areas import area_screens
from screens.base import background_priority
from screens.dialogs import ErrorDialog
from screens.failures import operator_message
from screens.help import HelpScreen, keys_in_force
from screens.host import ConsoleHost
from screens.keys import keymap_from_config
from screens.palette import WinbackCommands


class WinbackApp(ConsoleHost):
    """The operator console over one workspace."""

    TITLE = "winback"
    COMMANDS = {WinbackCommands} | App.COMMANDS  # ours first in the palette
    # BINDINGS: the keys that work from any screen are ConsoleHost's (screens/host.py).
    # How often the header asks which campaigns are running (a thread worker).
    RUNNING_POLL_SECONDS = 5.0

    def __init__(self, workspace: Workspace, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.workspace = workspace
        self.cursor_blink = cursor_blink
        self.running_campaigns: tuple[str, ...] = ()
        self.followed_campaign: str | None = None  # the campaign the Deliveries screen shows
        self.data_version = 0  # bumped by every change made from the console: screens reload when they return
        self._history: list[str] = []
        self._noticed: dict[str, float] = {}  # failure text → when it was last notified (report_failure)
        for name, screen in area_screens().items():
            self.add_mode(name, screen)
        # [keys] in winback.toml: the operator's own keys, by binding id (screens/keys.py); problems are said
        # once the console is up, naming the file and field.
        config = workspace.config
        keymap, self._key_problems = keymap_from_config(config.raw, str(config.path or "winback.toml"))
        self._clashes_noticed: set[str] = set()
        if keymap:
            self.set_keymap(keymap)

    def key_for(self, binding_id: str, default: str) -> str:
        """The key in force for a binding id, as the operator reads it ([keys] may have remapped it)."""
        return self._keymap.get(binding_id, default)

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node) -> None:
        """A key given in [keys] that a built-in binding had: [keys] wins; say which action lost its key, once."""
        for binding in clashed_bindings:
            text = (f"[keys]: {binding.key} now does what winback.toml says; "
                    f"{binding.description or binding.id} ({binding.id}) has no key there")
            if text not in self._clashes_noticed:
                self._clashes_noticed.add(text)
                self.notify(text, title="winback.toml [keys]", severity="warning", timeout=12)

    def get_system_commands(self, screen):
        """Textual's own palette entries, less those an operator has no use for (Keys, Maximize, Screenshot):
        winback's actions come first in a palette that shows seven lines at 80×24."""
        for command in super().get_system_commands(screen):
            if command.title in ("Theme", "Quit"):
                yield command

    # ---- time and what is running (read by every screen's header; no SQLite here) -----------------------

    def as_of(self) -> int:
        return now_ts()

    def on_mount(self) -> None:
        for problem in self._key_problems:
            self.notify(problem, title="winback.toml [keys]", severity="warning", timeout=12)
        self.switch_mode("overview")
        self.poll_running()
        self.set_interval(self.RUNNING_POLL_SECONDS, self.poll_running)

    def poll_running(self) -> None:
        workspace = self.workspace

        def load() -> tuple[str, ...]:
            from screens.sources import running_campaign_names

            background_priority()
            db = workspace.open()
            try:
                return running_campaign_names(db)
            finally:
                db.close()

        self.run_worker(load, name="running", group="app:running", thread=True, exclusive=True,
                        exit_on_error=False)

    # ---- navigation ---------------------------------------------------------------------------------------

    def action_goto(self, name: str) -> None:
        """Open one of the areas (s, m, c, p, d, a, o)."""
        if name == self.current_mode:
            return
        self._history.append(self.current_mode)
        del self._history[:-20]
        self.switch_mode(name)

    async def action_back(self) -> None:
        """The app-level back action (async in Textual): the same as Esc on a screen."""
        self.go_back()

    def go_back(self) -> None:
        """Esc: close the pushed screen (asking first if it holds unsaved work), else go back to the previous
        area, else to the overview."""
        if len(self.screen_stack) > 1:
            self.leave_screen(self.screen, self.pop_screen)
            return
        while self._history:
            previous = self._history.pop()
            if previous != self.current_mode:
                self.switch_mode(previous)
                return
        if self.current_mode != "overview":
            self.switch_mode("overview")

    # ---- never lose work ----------------------------------------------------------------------------------

    def leave_screen(self, screen: Screen, leave: Callable[[], object], *, verb: str = "Leave") -> None:
        """Run `leave()` — unless `screen.unsaved()` names unsaved work: then ask first (Esc or n: stay)."""
        what = getattr(screen, "unsaved", lambda: None)()
        if not what:
            leave()
            return
        from screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                leave()

        self.push_screen(ConfirmDialog(f"{verb} without saving?", f"{what} is not saved: {verb.lower()} and "
                                       "lose it?", yes=verb, no="Stay"), answered)

    def unsaved_work(self) -> list[str]:
        """What every open screen, in every area, holds unsaved (asked before quitting)."""
        found = []
        for stack in self._screen_stacks.values():
            for screen in stack:
                what = getattr(screen, "unsaved", lambda: None)()
                if what:
                    found.append(what)
        return found

    def action_help(self) -> None:
        """?: the keys in force on this screen."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        label = getattr(screen, "LABEL", type(screen).__name__)
        self.push_screen(HelpScreen(label, keys_in_force(screen.active_bindings)))

    def open_deliveries(self, campaign: str) -> None:
        """Show the live deliveries of one campaign (used after a launch)."""
        self.followed_campaign = campaign
        if self.current_mode != "deliveries":
            self.action_goto("deliveries")
        self.call_after_refresh(self._reload_current)

    def open_segment(self, name: str) -> None:
        """Show the Segments screen with `name` under the cursor (Enter on a layer of the overview's heat map)."""
        if self.current_mode != "segments":
            self.action_goto("segments")
        self.call_after_refresh(lambda: self.screen.open_segment(name))  # type: ignore[attr-defined]

    # ---- find a person, filter a table (keys that work on every screen) ------------------------------------

    def action_find_person(self) -> None:
        """w: ask who (external id, phone, last four digits and name, email or name), then open their page."""
        from screens.dialogs import FormDialog

        def answered(values: dict[str, str] | None) -> None:
            if values and values.get("who"):
                self.find_person(values["who"])

        self.push_screen(FormDialog(
            "Find a person", [("who", "Who", "external id, phone, email, name, or 5678 + name")],
            body="Phone: the whole number, or its last four digits with the name (5678 王)."), answered)

    def find_person(self, text: str) -> None:
        """Look `text` up in a thread worker: one match opens the person's page, several ask which."""
        from screens.dialogs import ChoiceDialog
        from screens.person import find_people

        workspace = self.workspace

        def load() -> None:
            background_priority()
            db = workspace.open()
            try:
                found = find_people(db, workspace.config, text)
            finally:
                db.close()
            if not found:
                self.call_from_thread(self.notify, f"Nobody matches {text!r}.", title="Find a person",
                                      severity="warning")
            elif len(found) == 1:
                self.call_from_thread(self.open_person, found[0]["user"])
            else:
                choices = [(p["user"], f"{p['user']} · {p['name'] or '—'} · {p['phone'] or '—'} · "
                                       f"{p['email'] or '—'} · {p['layer'] or 'no layer'}") for p in found]
                self.call_from_thread(self.push_screen, ChoiceDialog(f"{len(found)} people match {text!r}",
                                                                     choices), self._chosen_person)

        self.run_worker(load, name="find_person", group="app:find", thread=True, exclusive=True,
                        exit_on_error=False)

    def _chosen_person(self, user: str | None) -> None:
        if user:
            self.open_person(user)

    def open_person(self, user: str) -> None:
        """Push the person's page over the current screen (Esc comes back here)."""
        from screens.person import PersonScreen

        self.push_screen(PersonScreen(user))

    def action_import_file(self) -> None:
        """i: import users or events from a file, with a saved mapping (screens/import_screen.py)."""
        from screens.import_screen import ImportScreen

        if not isinstance(self.screen, ImportScreen):
            self.push_screen(ImportScreen())

    def action_filter_table(self) -> None:
        """/: filter the rows of the table that has the focus (screens.table_filter)."""
        from screens.table_filter import open_filter

        open_filter(self.screen)

    # ---- the operator's main actions, from anywhere (the palette) -----------------------------------------

    def area_screen(self, mode: str):
        """Switch to an area and return its own screen (the bottom of its stack, under any dialog or editor)."""
        if self.current_mode != mode:
            self.action_goto(mode)
        return self.screen_stack[0]

    def new_segment(self) -> None:
        """Segments, then its `n`: the segment editor."""
        screen = self.area_screen("segments")
        self.call_after_refresh(screen.action_new)

    def new_campaign(self) -> None:
        """Campaigns, then its `n`: the creation flow."""
        screen = self.area_screen("campaigns")
        self.call_after_refresh(screen.action_new)

    # verb: (statuses a campaign may be in to be offered, the dialog's title, what to say when there is none)
    CAMPAIGN_ACTIONS: ClassVar[dict[str, tuple[tuple[str, ...], str, str]]] = {
        "launch": (("draft",), "Launch which draft? (dry run: sends nothing)",
                   "No draft campaign to launch — “New campaign” in the palette (or c, then n) makes one."),
        "pause": (("running",), "Pause which running campaign?", "No campaign is running."),
        "resume": (("paused",), "Resume which paused campaign?", "No campaign is paused."),
        "cancel": (("running", "paused", "scheduled"), "Cancel which campaign?",
                   "No campaign is running, paused or scheduled."),
    }

    def choose_campaign(self, verb: str) -> None:
        """Ask which campaign (those in a state the verb applies to), then do it as the screens' own keys would:
        launch → Campaigns' `l` (dry run); pause / resume / cancel → Deliveries' `space` / `r` / `x`."""
        from screens.dialogs import ChoiceDialog

        statuses, title, none_left = self.CAMPAIGN_ACTIONS[verb]
        workspace = self.workspace

        def chosen(name: str | None) -> None:
            if name:   # None: the dialog was dismissed
                self.campaign_action(verb, name)

        def load() -> None:
            from screens.sources import campaign_rows

            background_priority()
            db = workspace.open()
            try:
                rows = [r for r in campaign_rows(db) or [] if r["status"] in statuses]
            finally:
                db.close()
            if not rows:
                self.call_from_thread(self.notify, none_left, title=f"Nothing to {verb}", severity="warning")
                return
            choices = [(r["name"], f"{r['name']} · {r['channel']} · {r['status']}"
                        + (f" · sent {r['sent']:,}" if r.get("sent") else "")) for r in rows]
            self.call_from_thread(self.push_screen, ChoiceDialog(title, choices), chosen)

        self.run_worker(load, name="campaigns", group="app:choose", thread=True, exclusive=True,
                        exit_on_error=False)

    def campaign_action(self, verb: str, name: str) -> None:
        """Launch (dry run), pause, resume or cancel `name` through the screen that owns that key."""
        if verb == "launch":
            self.area_screen("campaigns").launch(name, False)
            return
        self.open_deliveries(name)
        screen = self.area_screen("deliveries")
        # After open_deliveries' reload: the screen follows `name` by then.
        self.call_after_refresh(getattr(screen, f"action_{verb}"))

    def _reload_current(self) -> None:
        reload = getattr(self.screen, "refresh_data", None)
        if reload is not None:
            reload()

    # ---- sends started from the console -------------------------------------------------------------

    def start_dispatch(self, action: str, name: str, *, real: bool = False, accept_warnings: bool = False) -> None:
        """Launch (dry-run unless `real`) or resume a campaign in a thread worker owned by the app.

        The send runs in the console process like `winback campaign launch` would in a shell: same function, same
        ledger. Leaving the console cancels the worker and the dispatcher stops after its current batch; the
        campaign then resumes with `winback campaign resume NAME`.
        """
        from screens import sources

        workspace = self.workspace

        def send() -> dict:
            background_priority()
            db = workspace.open()
            try:
                if action == "launch":
                    return sources.launch_campaign(db, workspace.config, name, real, accept_warnings)
                return sources.resume_campaign(db, workspace.config, name)
            finally:
                db.close()

        self.data_version += 1
        self.run_worker(send, name=f"{action}_campaign", group=f"dispatch:{name}", description=name,
                        thread=True, exit_on_error=False)

    def sends_in_progress(self) -> list[str]:
        return [w.description for w in self.workers
                if w.group.startswith("dispatch:") and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]

    async def action_quit(self) -> None:
        """ctrl+q: quit; if a send started here is running, say what happens to it first."""
        running = self.sends_in_progress()
        if not running:
            unsaved = self.unsaved_work()
            if unsaved:
                from screens.dialogs import ConfirmDialog

                self.push_screen(ConfirmDialog("Quit without saving?", f"{'; '.join(unsaved)} is not saved: "
                                               "quit and lose it?", yes="Quit", no="Stay"),
                                 lambda yes: self.exit() if yes else None)
                return
            self.exit()
            return
        from screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                for name in running:
                    self.workers.cancel_group(self, f"dispatch:{name}")
                self.exit()

        self.push_screen(ConfirmDialog(
            "Quit while sending?",
            f"{', '.join(running)} is sending from this console. Quitting stops it after the current batch; "
            f"nothing is lost — continue later with `winback campaign resume {running[0]}`.",
            yes="Quit", no="Stay"), answered)

    # ---- the one place worker failures end up ----------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.SUCCESS and worker.name == "running":
            self.running_campaigns = tuple(worker.result or ())
            return
        if event.state == WorkerState.SUCCESS and worker.group.startswith("dispatch:"):
            summary = worker.result or {}
            self.notify(f"{summary.get('campaign', worker.description)}: {summary.get('outcome', 'done')} · "
                        f"sent {summary.get('sent', 0):,}", title="send finished")
            return
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        assert error is not None  # a worker in the ERROR state holds its exception
        self.log.error(f"worker {worker.name!r} failed", error)
        text = operator_message(error)
        if text is not None:
            # Input or environment (a locked database, a bad price in winback.toml): said plainly, never "a bug".
            self.report_failure(worker.name, text, action=_is_action(worker.name))
            return
        message = f"{type(error).__name__}: {error}"
        if isinstance(self.screen, ErrorDialog) and self.screen.message == message:
            return  # the same failure from several polls: one dialog is enough
        self.push_screen(ErrorDialog(
            _title(worker.name), message,
            hint="This is a bug in winback, not something you did. Nothing was changed by the failed step.",
        ))

    # How long the same notification is not repeated: a poll every second must not stack up toasts.
    REPEAT_NOTICE_SECONDS = 30.0

    def report_failure(self, name: str, text: str, *, action: bool, polled: bool = False) -> None:
        """An input or environment error that no screen showed in place.

        After the operator's own action (save, set, launch…) it is the answer to their key: a dialog with the
        words, no "bug" label. A load or poll that fails says so in a notification, which takes no focus (the
        operator may be typing) and is not repeated while the same failure goes on.
        """
        if (action or _is_action(name)) and not polled:
            if isinstance(self.screen, ErrorDialog) and self.screen.message == text:
                return
            self.push_screen(ErrorDialog(_title(name), text))
            return
        now = time.monotonic()
        if now - self._noticed.get(text, float("-inf")) < self.REPEAT_NOTICE_SECONDS:
            return
        self._noticed[text] = now
        self.notify(text, title=_title(name), severity="error", timeout=8)


def _is_action(worker_name: str) -> bool:
    """'set_cap', 'launch_campaign': a worker the operator started with a key (see _VERBS), not a load."""
    return worker_name.split("_")[0] in _VERBS


_VERBS = {"set", "add", "remove", "save", "create", "launch", "resume", "pause", "cancel", "why", "find", "retire",
          "map", "start", "stop"}


def _title(worker_name: str) -> str:
    """'set_cap' → 'Could not set cap'; 'activity' → 'Could not load activity'."""
    if not worker_name:
        return "Something went wrong"
    words = worker_name.replace("_", " ")
    return f"Could not {words}" if worker_name.split("_")[0] in _VERBS else f"Could not load {words}"


def run_console(workspace: Workspace) -> None:
    """Open the console on `workspace` (what bare `winback`, `winback tui` and `winback demo` call).

    The database is created or migrated here, once, before the event loop starts: the screens' workers open
    their own connections at the same moment, and a new file must not be migrated by several of them at once.
    """
    workspace.open().close()
    WinbackApp(workspace).run()
