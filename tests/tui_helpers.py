"""Helpers for the console's Pilot tests: open the app on a workspace, wait for its thread workers, wait for a
condition on the screen (never for a fixed time)."""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual import events
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Static
from textual.worker import WorkerCancelled, WorkerFailed, WorkerState

from console.workspace import Workspace
from screens.app import WinbackApp
from screens.dialogs import ErrorDialog

# Only stops a test that would otherwise hang: nothing asserts how long anything takes, so a slow or loaded
# machine makes a test slower, never red.
HANG = 120.0
# How often a waited-for condition is looked at again; the app runs its messages and workers in between.
POLL = 0.02


def make_app(workspace: Workspace) -> WinbackApp:
    """The app exactly as the CLI builds it, with blinking cursors off so screens are stable."""
    app = WinbackApp(workspace, cursor_blink=False)
    app.animation_level = "none"  # no fades or smooth scrolling: pictures do not depend on timing
    return app


async def settle(pilot: Pilot, rounds: int = 3) -> None:
    """Let thread workers finish and their results reach the screen."""
    for _ in range(rounds):
        # A failed worker is the app's business (its error dialog); tests look at the dialog. A cancelled one was
        # superseded by a newer fetch of the same key (exclusive workers): the next round waits for that one.
        with suppress(WorkerFailed, WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def filter_recipients(pilot: Pilot, state: str) -> None:
    """On Deliveries, press f until the recipients shown are those in `state` (a ledger state: sent, skipped, …).

    By the screen's filter, not its title: a dry run's sent rows are titled "would send". Bounded: a state the
    screen never reaches fails the test instead of pressing f forever."""
    from screens.deliveries import STATES

    for _ in range(len(STATES)):
        if getattr(pilot.app.screen, "state_filter", None) == state:
            return
        await pilot.press("f")
    raise AssertionError(f"f never showed the {state!r} recipients (the screen is {type(pilot.app.screen).__name__})")


async def wait_for(pilot: Pilot, condition: Callable[[], object], *, what: str, timeout: float = HANG) -> None:
    """Let the app run until `condition()` is true; fail loudly, naming `what`, if it never comes.

    A condition that looks for a widget not on screen yet (NoMatches) counts as not yet true. An error dialog that
    comes up instead ends the wait at once, with the dialog's message (unless the condition was waiting for it).
    """
    deadline = time.monotonic() + timeout
    missing: NoMatches | None = None
    while True:
        try:
            if condition():
                return
            missing = None
        except NoMatches as exc:
            missing = exc
        if isinstance(pilot.app.screen, ErrorDialog) and pilot.app.screen.query("#error-message"):
            # (the dialog becomes the screen before its message is mounted: wait for the message to read it)
            raise AssertionError(f"waiting for {what}, an error dialog came instead: "
                                 f"{text_of(pilot, '#error-message')}")
        if time.monotonic() > deadline:
            shown = f"; last: {missing}" if missing else ""
            raise AssertionError(f"never happened: {what} (waited {timeout:.0f} s; the screen is "
                                 f"{type(pilot.app.screen).__name__}{shown})")
        await pilot.pause(POLL)


async def run_command(pilot: Pilot, words: str) -> None:
    """ctrl+p, type `words`, wait until the palette highlights the command that starts with them, Enter, and let
    what the command started finish."""
    from textual.command import CommandList, CommandPalette
    from textual.widgets import Input

    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette)
                   and isinstance(pilot.app.focused, Input), what="the command palette's search field")
    await type_text(pilot, words)

    def highlighted() -> str:
        palette = pilot.app.screen
        if not isinstance(palette, CommandPalette):
            return ""
        commands = palette.query_one(CommandList)
        if commands.highlighted is None:
            return ""
        return str(commands.get_option_at_index(commands.highlighted).prompt).lower()

    await wait_for(pilot, lambda: highlighted().startswith(words.lower()),
                   what=f"the command palette to offer {words!r} first")
    await pilot.press("enter")
    await settle(pilot)


async def type_text(pilot: Pilot, text: str) -> None:
    """Type `text` into the focused Input or TextArea: the key events pilot.press would send, one per character, in
    order, but with one wait at the end instead of pilot.press's two idle waits after every key (>= 40 ms a key:
    a 70-character path took 4.5 s). For text only: a key that moves the focus (tab, enter) goes through
    pilot.press, since keys sent ahead would reach the widget that had the focus when the app forwarded them."""
    from textual.keys import _character_to_key
    from textual.widgets import Input, TextArea

    app = pilot.app
    # (a dialog that was just opened focuses its field a moment after it becomes the screen)
    await wait_for(pilot, lambda: isinstance(app.focused, Input | TextArea), what=f"a text field to type {text!r}")
    widget = app.focused
    assert isinstance(widget, Input | TextArea)
    for char in text:
        # named as pilot.press names it ('/' is 'slash'), so a binding on the key sees what a press would send
        key = char if char.isalnum() else _character_to_key(char)
        event = events.Key(key, char)
        event.set_sender(app)
        app.post_message(event)   # what the headless driver does for pilot.press, in the same order
    await wait_for(pilot, lambda: text in widget.text if isinstance(widget, TextArea) else text in widget.value,
                   what=f"{text!r} typed into {widget!r}")
    await pilot.pause()


def loading(pilot: Pilot) -> bool:
    """True while any of the app's workers (loads, sends) is still pending or running."""
    return any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers)


def text_of(pilot: Pilot, selector: str) -> str:
    """The plain text a Static currently shows (rich tables rendered as the operator would see them)."""
    widget = pilot.app.screen.query_one(selector)
    content = widget.content if isinstance(widget, Static) else widget.render()
    if isinstance(content, str):
        return content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=max(widget.size.width, 40), file=io.StringIO(), record=True)
    console.print(content)
    return console.export_text()


_DEMOS: dict[tuple[int, str], Path] = {}


def demo_workspace(tmp_path: Path, monkeypatch, *, users: int, now: str) -> Workspace:
    """A demo workspace of `users` users at the frozen time `now`, built once per test session and copied.

    The copy is checkpointed first (WAL), so each test gets a whole, private database.
    """
    from fixtures.demo import build_demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    monkeypatch.setenv("WINBACK_NOW", now)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    key = (users, now)
    if key not in _DEMOS:
        folder = Path(tempfile.mkdtemp(prefix="winback-tui-demo-"))
        # The session's shared copies are removed when the test process ends (1,368 of them, 3 GB, had piled up in
        # /tmp across runs).
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        ws = Workspace.load(db=folder / "winback.db")
        build_demo(ws, users=users, seed=7)
        db = ws.open()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        _DEMOS[key] = ws.db_path
    shutil.copy(_DEMOS[key], tmp_path / "winback.db")
    return Workspace.load(db=tmp_path / "winback.db")


def error_dialog_shown(app) -> bool:
    """An ErrorDialog is on top *and* its message is mounted: the screen switches before its children mount, so
    reading '#error-message' right after `isinstance(app.screen, ErrorDialog)` can find nothing under load."""
    from screens.dialogs import ErrorDialog

    return isinstance(app.screen, ErrorDialog) and bool(app.screen.query("#error-message"))


def launched_demo(tmp_path, monkeypatch):
    """A 400-user demo with one dry-run SMS campaign `nov-sms` (template miss-you, no holdout, quiet hours off)
    launched to everyone: the recipients, tallies and audit entries the list tests read."""
    from console import templates
    from console.campaigns import control, model
    from console.policy import quiet_hours

    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml(
        'name = "miss-you"\nchannel = "sms"\nbody = "{{ user.name | default(\'您\') }}，好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    model.create(db, "nov-sms", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, workspace.config, "nov-sms")
    db.close()
    return workspace
