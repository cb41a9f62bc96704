"""The console application and its entry point.

Screens are Textual *modes*, one per area (overview, segments, messages, campaigns, policy, deliveries, audit):
each keeps its own stack, so going to Segments and back finds it as it was left. `Esc` pops a pushed screen,
else returns to the area the operator came from, else to the overview.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events, on
from textual.app import App
from textual.screen import Screen
from textual.worker import Worker

from console.clock import now_ts
from console.workspace import Workspace
from screens.app_actions import OperatorActions
from screens.app_workers import WorkerReports
from screens.areas import area_screens
from screens.base import background_priority
from screens.help import HelpScreen, keys_in_force
from screens.keys import OperatorKeys
from screens.palette import WinbackCommands
from screens.too_small import fit_window, follow_window_size


class WinbackApp(OperatorKeys, OperatorActions, WorkerReports):
    """The operator console over one workspace.

    Each part is a ConsoleHost (screens/host.py) in a module of its own: `[keys]` (screens/keys.py), the actions
    that work from any screen (screens/app_actions.py), sends and worker failures (screens/app_workers.py); this
    class holds navigation, never-lose-work and quitting.
    """

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
        self.load_keys(config.raw, str(config.path or "winback.toml"))

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
        self.say_key_problems()
        self.switch_mode("overview")
        follow_window_size(self)   # below 80×24: a notice says so instead of cut cells (screens/too_small.py)
        self.poll_running()
        self.set_interval(self.RUNNING_POLL_SECONDS, self.poll_running)

    def on_resize(self, event: events.Resize) -> None:
        fit_window(self, event.size)

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

    def _reload_current(self) -> None:
        reload = getattr(self.screen, "refresh_data", None)
        if reload is not None:
            reload()

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

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        self.worker_state_changed(event)  # screens/app_workers.py


def run_console(workspace: Workspace) -> None:
    """Open the console on `workspace` (what bare `winback`, `winback tui` and `winback demo` call).

    The database is created or migrated here, once, before the event loop starts: the screens' workers open
    their own connections at the same moment, and a new file must not be migrated by several of them at once.
    """
    workspace.open().close()
    WinbackApp(workspace).run()
