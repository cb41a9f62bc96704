"""Import users or events from the console (`i`, or "Import users/events…" in the palette).

The same service as `winback import users|events FILE [--kind K] [--mapping NAME]` (console.importing), run in a
thread worker: the file is read, checked and staged beside the database without its write lock, then swapped in
with one short transaction. The screen shows both phases live, then what the import did; a refused file changes
nothing and the screen says why (the first errors as FILE:LINE: column: reason). "Dry run" (check only) is the
CLI's --dry-run: the file is read and checked in the same worker, nothing is staged or written, and the screen
says what the CLI says.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker, WorkerState

from console.config import Config
from console.errors import WinbackError
from screens.base import WinbackScreen, background_priority
from screens.failures import operator_message

if TYPE_CHECKING:   # the importer loads in the worker that runs it
    from console.importing.problems import ImportResult
    from console.workspace import Workspace

NO_MAPPING = "(none)"
KINDS = ("users", "events")


def saved_mapping_names(config: Config) -> list[str]:
    """The names of the `[import.mappings.NAME]` tables of winback.toml, sorted."""
    section = (config.raw.get("import") or {}).get("mappings") or {}
    return sorted(section) if isinstance(section, dict) else []


def mapping_summary(config: Config, name: str) -> str:
    """One line saying what a saved mapping does (its kind, columns, where), or what is wrong with it."""
    from console.importing.mappings import load_mapping

    try:
        saved = load_mapping(config, name)
    except WinbackError as exc:
        return str(exc)
    parts = []
    if saved.kind:
        parts.append(f"kind {saved.kind}")
    if saved.encoding:
        parts.append(f"encoding {saved.encoding}")
    if saved.columns:
        parts.append("columns " + ", ".join(f"{k}→{v}" for k, v in saved.columns.items()))
    # The formats too: a time or an amount refused for not matching one is explained by this line.
    if saved.date_format:
        parts.append(f"date format {saved.date_format}")
    if saved.amount_format != "plain":
        parts.append(f"amounts {saved.amount_format}")
    if saved.where:
        parts.append("where " + " and ".join(c.text for c in saved.where))
    return "; ".join(parts) or "no settings"


def mapping_for(config: Config, name: str) -> str | None:
    """users or events, when the saved mapping says which it is for (a column renamed to external_id, or to
    user_id, or a kind); None when it does not say or cannot be read."""
    from console.importing.mappings import load_mapping

    try:
        saved = load_mapping(config, name)
    except WinbackError:
        return None
    targets = {t.lower() for t in saved.columns.values()}
    if "external_id" in targets:
        return "users"
    if "user_id" in targets or saved.kind:
        return "events"
    return None


def run_import(workspace: Workspace, path: str, what: str, event_kind: str | None, mapping: str | None,
               progress: Callable[[int, int | None], None], phase: Callable[[str], None],
               skip_invalid: bool = False, dry_run: bool = False) -> ImportResult:
    """Import `path` as the CLI does (only check it with `dry_run`); returns the ImportResult (raises InvalidRows /
    BadInput when refused). Runs in a worker thread, on a connection of its own."""
    from console.importing import import_events, import_users
    from console.importing.columns import winback_columns
    from console.importing.mappings import load_mapping

    saved = load_mapping(workspace.config, mapping, winback_columns(what), what) if mapping else None
    db = workspace.open()
    try:
        if what == "users":
            return import_users(db, Path(path), config=workspace.config, progress=progress, phase=phase,
                                saved=saved, skip_invalid=skip_invalid, dry_run=dry_run)
        return import_events(db, Path(path), config=workspace.config, kind=event_kind or None, progress=progress,
                             phase=phase, saved=saved, skip_invalid=skip_invalid, dry_run=dry_run)
    finally:
        db.close()


def result_lines(result: ImportResult) -> Text:
    """What the import did, as the CLI's summary says it (counts with thousands separators)."""
    text = Text()
    name = Path(result.file).name
    if result.kind == "users":
        text.append(f"{name}: {result.inserted:,} users added, {result.updated:,} updated, "
                    f"{result.unchanged:,} already present (unchanged)", style="bold")
    else:
        text.append(f"{name}: {result.inserted:,} events added, {result.unchanged:,} already present",
                    style="bold")
    # The where's count only when it left rows out: without a mapping "0 filtered out by the mapping's where" read
    # as if one had been used.
    where = f"{result.filtered:,} filtered out by the mapping's where · " if result.filtered else ""
    if result.rejects_file:   # Skip invalid rows (--skip-invalid): where they went
        plural = "" if result.invalid == 1 else "s"
        text.append(f"\n{where}{result.invalid:,} invalid row{plural} skipped; written with reasons to "
                    f"{result.rejects_file}")
    else:
        text.append(f"\n{where}{result.invalid:,} invalid")
    text.append(f"\ntook {result.seconds:.1f}s; the database was locked {result.swap_seconds:.1f}s (the swap)")
    # The console's own way first: an operator who imported here refreshes here too.
    text.append("\nprofiles, layers and the heat map count these rows after the next refresh: R on the overview "
                "(or `winback refresh`)", style="dim")
    _errors(text, result)
    return text


def check_lines(result: ImportResult) -> Text:
    """What a dry run found, in the CLI's words (`winback import … --dry-run`): nothing was written."""
    name = Path(result.file).name
    text = Text(f"{name}: {result.valid:,} of {result.rows:,} rows valid; nothing written (--dry-run) in "
                f"{result.seconds:.1f}s", style="bold")
    if result.filtered:
        text.append(f"\n  {result.filtered:,} row{'' if result.filtered == 1 else 's'} left out by the mapping's where")
    if result.invalid:
        _errors(text, result)
        text.append(f"\n{result.invalid:,} invalid row{'' if result.invalid == 1 else 's'}")
    text.append("\nto import it: untick Dry run, then ctrl+s", style="dim")
    return text


def _errors(text: Text, result: ImportResult) -> None:
    for message in result.errors:
        text.append(f"\n  {message}")
    more = result.error_count - len(result.errors)
    if more > 0:
        text.append(f"\n  … and {more:,} more")


def _refusal_words(error: BaseException | None) -> str:
    """An operator's words for why an import did not happen; a bug is called one."""
    from console.importing.problems import InvalidRows

    if isinstance(error, InvalidRows):
        return str(error)
    message = operator_message(error) if error is not None else None
    if message is None:
        return (f"{type(error).__name__}: {error} — this is a bug in winback, not something you did; "
                "nothing was imported")
    if "with --kind" in message:   # the console's --kind is the Event kind field
        message += "\nIn the console, type the kind of every row under Event kind (e.g. order)."
    renamed = _MAP_ADVICE.search(message)
    if renamed:   # the importer speaks to the CLI; the console renames columns with a saved mapping
        message += ("\nIn the console, rename columns with a saved mapping: [import.mappings.NAME.columns] in "
                    f"winback.toml, e.g. \"YOUR_COLUMN\" = \"{renamed[1]}\", then choose it under Mapping.")
    return message


_MAP_ADVICE = re.compile(r"--map (\w+)=")


def read_of(position: int, size: int) -> str:
    """'412.0 of 1,024.0 MB': how much of the file is read, in the unit of its size (a bar alone says nothing of it,
    so nothing of how long a large file takes)."""
    scale, unit = next(((f, u) for f, u in ((1e9, "GB"), (1e6, "MB")) if size >= f), (1e3, "KB"))
    return f"{min(position, size) / scale:,.1f} of {size / scale:,.1f} {unit}"


class ImportScreen(WinbackScreen):
    """Choose a file, users or events (and the events' kind), and a saved mapping; ctrl+s imports."""

    LABEL = "Import"
    CSS_PATH = "import_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("ctrl+s", "run_import", "Import", id="import.run"),
    ]
    # How often (seconds) the progress bar is moved from the import's thread at most: each move waits for the
    # event loop, so moving it on every batch would slow the import down.
    PROGRESS_EVERY = 0.1

    def compose_body(self) -> ComposeResult:
        config = self.workspace.config
        names = saved_mapping_names(config)
        with Vertical(id="import-form") as box:
            box.border_title = "Import users or events"
            box.border_subtitle = self._subtitle(dry_run=False)
            with Horizontal(classes="import-row"):
                yield Label("File")
                yield Input(placeholder="path to a CSV or JSONL file", id="import-file")
            with Horizontal(classes="import-row"):
                yield Label("What")
                yield Select([(k, k) for k in KINDS], value="events", allow_blank=False, id="import-what")
                yield Label("Event kind", id="kind-label")
                yield Input(placeholder="from the file/mapping", id="import-kind")
            with Horizontal(classes="import-row"):
                yield Label("Mapping")
                yield Select([(NO_MAPPING, NO_MAPPING), *[(n, n) for n in names]], value=NO_MAPPING,
                             allow_blank=False, id="import-mapping")
                # As --skip-invalid: the valid rows are imported, the others written with reasons beside the file.
                yield Checkbox("Skip invalid rows", id="import-skip")
                # As --dry-run: read and check the file, write nothing (short: the row must fit 80 columns).
                dry = Checkbox("Dry run", id="import-dry")
                dry.tooltip = "check the file without importing it: nothing is written (winback import --dry-run)"
                yield dry
            yield Static(self._mapping_hint(NO_MAPPING, names), id="mapping-hint", markup=False)
            yield Static("", id="import-phase", markup=False)
            yield ProgressBar(total=100, show_eta=False, id="import-progress")
            yield Static("", id="import-result", markup=False)

    @staticmethod
    def _subtitle(*, dry_run: bool) -> str:
        return f"ctrl+s: {'check (dry run)' if dry_run else 'import'} · Esc: back"

    @on(Checkbox.Changed, "#import-dry")
    def _dry_run_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#import-form").border_subtitle = self._subtitle(dry_run=event.value)

    def _mapping_hint(self, name: str, names: list[str]) -> str:
        if name != NO_MAPPING:
            return mapping_summary(self.workspace.config, name)
        if names:
            return f"saved mappings in winback.toml: {', '.join(names)}"
        return "no [import.mappings.NAME] in winback.toml: the file's columns must be winback's"

    def on_mount(self) -> None:
        self.query_one("#import-file", Input).cursor_blink = getattr(self.app, "cursor_blink", True)
        self.query_one("#import-kind", Input).cursor_blink = getattr(self.app, "cursor_blink", True)
        self.query_one("#import-file").focus()
        self.query_one("#import-progress").display = False
        self._worker: Worker | None = None

    @on(Select.Changed, "#import-mapping")
    def _mapping_changed(self, event: Select.Changed) -> None:
        names = saved_mapping_names(self.workspace.config)
        self.query_one("#mapping-hint", Static).update(self._mapping_hint(str(event.value), names))
        # A mapping for users (or events) sets What: left on the other, the import was refused.
        what = mapping_for(self.workspace.config, str(event.value)) if event.value != NO_MAPPING else None
        if what is not None:
            self.query_one("#import-what", Select).value = what

    @on(Select.Changed, "#import-what")
    def _what_changed(self, event: Select.Changed) -> None:
        events = event.value == "events"
        self.query_one("#import-kind").display = events
        self.query_one("#kind-label").display = events

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_run_import()

    def running(self) -> bool:
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def action_run_import(self) -> None:
        """ctrl+s (or Enter in a field): import the file in a thread worker, showing its phases."""
        if self.running():
            self.notify("An import is running; wait for its result.", severity="warning")
            return
        typed = self.query_one("#import-file", Input).value.strip()
        if not typed:
            self._show_refusal("Give the file to import.")
            return
        # As a shell would: ~ is the home folder. A relative path is read from the folder winback was started in,
        # which a console's operator may not know: a missing file says which folder that is.
        path = str(Path(typed).expanduser())
        if not Path(path).exists():
            where = "" if Path(path).is_absolute() else f" in {Path.cwd()} (the folder winback was started in)"
            self._show_refusal(f"{typed}: no such file{where}")
            return
        what = str(self.query_one("#import-what", Select).value)
        kind = self.query_one("#import-kind", Input).value.strip() or None
        mapping = str(self.query_one("#import-mapping", Select).value)
        skip_invalid = self.query_one("#import-skip", Checkbox).value
        dry_run = self.query_one("#import-dry", Checkbox).value
        self.query_one("#import-result", Static).update("")
        bar = self.query_one("#import-progress", ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self._set_phase(f"{'checking' if dry_run else 'reading'} {Path(path).name} …")
        workspace, app = self.workspace, self.app
        last = [0.0]

        def progress(position: int, size: int | None) -> None:
            now = time.monotonic()
            if size and now - last[0] >= self.PROGRESS_EVERY:
                last[0] = now
                app.call_from_thread(self._moved, position, size)

        def phase(which: str) -> None:
            # A dry run stages nothing: its one phase is the check
            app.call_from_thread(self._set_phase, f"{'checking' if dry_run else which} {Path(path).name} …")

        def work() -> None:
            background_priority()
            try:
                result = run_import(workspace, path, what, kind if what == "events" else None,
                                    None if mapping == NO_MAPPING else mapping, progress, phase, skip_invalid,
                                    dry_run)
            except Exception as error:  # said on the screen (or in a notification): see _ended
                app.call_from_thread(self._ended, None, error)
                return
            app.call_from_thread(self._ended, result, None)

        # Run by the app, not this screen: leaving the screen (Esc) must not orphan a running import; it goes on
        # and its result comes as a notification instead.
        self._worker = app.run_worker(work, name="import_file", group="app:import", thread=True,
                                           exclusive=True, exit_on_error=False)

    def _moved(self, position: int, size: int) -> None:
        if self.is_attached:
            self.query_one("#import-progress", ProgressBar).update(total=size, progress=position)
            phase = getattr(self, "_phase", "")
            if phase.startswith(("reading", "staging", "checking")):   # the swap reads no more of the file
                self.query_one("#import-phase", Static).update(f"{phase} {read_of(position, size)}")

    def _set_phase(self, text: str) -> None:
        self._phase = text
        if self.is_attached:
            self.query_one("#import-phase", Static).update(text)

    def _ended(self, result: ImportResult | None, error: BaseException | None) -> None:
        """The import finished (result) or did not happen (error): say so here, or, if the operator has left this
        screen, in a notification."""
        from screens.base import winback_app

        if result is not None and not result.dry_run:
            winback_app(self).data_version += 1  # the other screens reload what the import changed
        if not self.is_attached:
            if result is not None:
                lines = check_lines(result) if result.dry_run else result_lines(result)
                self.app.notify(lines.plain.split("\n")[0],
                                title="Check finished" if result.dry_run else "Import finished")
            else:
                dry = getattr(getattr(error, "result", None), "dry_run", False)   # InvalidRows of a dry run
                self.app.notify(_refusal_words(error), title="Check: the file would be refused" if dry else
                                "Import refused: nothing was imported", severity="error", timeout=12)
            return
        if result is not None:
            self.query_one("#import-progress", ProgressBar).update(total=100, progress=100)
            self._set_phase("done: checked, nothing written" if result.dry_run else "done: imported")
            self.query_one("#import-result", Static).update(check_lines(result) if result.dry_run
                                                            else result_lines(result))
        else:
            self._failed(error)

    def _failed(self, error: BaseException | None) -> None:
        """Show why the import did not happen, in place: the file's errors, an operator's words, or a bug's."""
        from console.importing.problems import InvalidRows

        self.query_one("#import-progress").display = False
        if isinstance(error, InvalidRows):
            r = error.result
            text = Text("Checked (dry run): the file would be refused; nothing was written.\n" if r.dry_run else
                        "Refused: nothing was imported, the workspace is unchanged.\n", style="bold red")
            where = f" ({r.filtered:,} filtered out by the mapping's where)" if r.filtered else ""
            text.append(f"{Path(r.file).name}: {r.invalid:,} invalid of {r.rows:,} rows{where}")
            _errors(text, r)
            text.append("\nFix them in the file, or tick Skip invalid rows to import the valid ones (the others are "
                        f"written with reasons to {Path(r.file).name}.rejects.*).", style="dim")
            self._set_phase("refused")
            self.query_one("#import-result", Static).update(text)
            return
        self._show_refusal(_refusal_words(error))

    def _show_refusal(self, message: str) -> None:
        self._set_phase("refused")
        self.query_one("#import-result", Static).update(
            Text("Refused: nothing was imported.\n", style="bold red") + Text(message))
