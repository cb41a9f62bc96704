"""Output shared by every command: tables for people, JSON for scripts, messages on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.segment import Segment
from rich.table import Table

from console.column_fit import Fit, fit_columns

# stdout carries data only; everything else goes to stderr.
out_console = Console(soft_wrap=True)
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, for scripts.")]


# Only these commands may create a database; anything else on a missing file is most likely a wrong path.
CREATES_DATABASE = {"init", "demo"}


def workspace_from(ctx: typer.Context):
    """The Workspace named by the global --db/--config options (walks up to the root context).

    Refuses a database file that does not exist unless the command is one that creates it: a mistyped --db must
    not silently start an empty workspace.
    """
    from console.errors import BadInput
    from console.workspace import Workspace

    root = ctx.find_root()
    obj = root.obj or {}
    ws = Workspace.load(config=obj.get("config"), db=obj.get("db"))
    if not ws.db_path.exists() and root.invoked_subcommand not in CREATES_DATABASE:
        raise BadInput(
            f"no database at {ws.db_path}: `winback init` creates one, `winback demo` builds a demo workspace; "
            "--db or $WINBACK_DB open another"
        )
    refuse_what_is_not_a_database(ws.db_path)
    return ws


def refuse_what_is_not_a_database(path: Path) -> None:
    """A folder or another kind of file given as the database (`--db /srv/shop`, `--db users.csv`) is named, exit 2;
    sqlite3 would answer with a traceback ("unable to open database file", "file is not a database")."""
    from console.errors import BadInput

    if path.is_dir():
        raise BadInput(f"{path} is a folder, not a database file: --db (or $WINBACK_DB, or the config's database) "
                       f"names the .db file, e.g. {path / 'winback.db'}")
    if path.is_file() and path.stat().st_size > 0 and not _is_sqlite(path):
        raise BadInput(f"{path} is not a database (not an SQLite file); nothing was changed: --db (or "
                       "$WINBACK_DB, or the config's database) names winback's .db file")


def _is_sqlite(path: Path) -> bool:
    """Asked of SQLite, not by reading the file's header ourselves: closing any descriptor of a file drops every
    POSIX lock this process holds on it (fcntl's rule), so a connection already open here (the console's, an
    import's in tests run in-process) would lose its locks ('disk I/O error' next). SQLite's own file layer keeps
    one descriptor per file within the process and never closes it under another connection's locks."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return True  # unopenable for another reason: said by whatever opens it next
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        return "not a database" not in str(exc)
    finally:
        conn.close()
    return True


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _plain(value: Any) -> str:
    """A value as table text (escaped when drawn: cells are never read as rich markup, imported names, rules and
    provider errors may hold [brackets])."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def emit_rows(
    rows: Sequence[Mapping[str, Any]],   # dicts, TypedDicts
    *,
    as_json: bool,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    empty: str = "nothing to show",
    drop: Sequence[str] = (),
    wrap: Sequence[str] | None = None,
) -> None:
    """Print a listing: a JSON array with --json, else a table (numbers right-aligned).

    The table is drawn by console/column_fit.py's rule: off a terminal (a pipe, a file, cron) every cell whole, at
    whatever width that takes; on a terminal narrower than the table, the first column (the name or identifier the
    operator types next), counts and words are never cut, `wrap` columns (free text; by default the columns
    holding a few words or more) wrap inside their cells, and the `drop` columns step aside, the first named first.
    """
    if as_json:
        print_json(list(rows))
        return
    if not rows:
        err_console.print(empty)
        return
    keys = list(columns or rows[0].keys())
    cells = {k: [_plain(r.get(k)) for r in rows] for k in keys}
    texts = set(wrap) if wrap is not None else {k for k in keys[1:] if any(_prose(v) for v in cells[k])}
    natural = {k: max(_width(k), *map(_width, cells[k])) for k in keys}
    fits = [Fit(k, whole=k not in texts, priority=len(drop) - drop.index(k) if k in drop else 0) for k in keys]
    room = table_room()
    layout = fit_columns(fits, natural, room)
    table = Table(title=title, show_edge=False, header_style="bold")
    for fit, width in layout:
        numeric = all(isinstance(r.get(fit.key), int | float) or r.get(fit.key) is None for r in rows)
        table.add_column(fit.key, justify="right" if numeric else "left", width=width, no_wrap=fit.whole,
                         overflow="fold")   # a word longer than a text column goes on, never "…"
    for i in range(len(rows)):
        table.add_row(*(escape(cells[fit.key][i]) for fit, _ in layout))
    out_console.print(_AtWidth(table, sum(w + 3 for _, w in layout) - 1, strip=not out_console.is_terminal),
                      soft_wrap=True, crop=False)
    hidden = [k for k in keys if k not in {fit.key for fit, _ in layout}]
    if hidden:
        say(f"[dim]{escape(', '.join(hidden))}: not shown at {room} columns (`| cat` shows them)[/]")


def table_room() -> int:
    """The cells a table on stdout may take: the terminal's width; off a terminal (a pipe, a file, cron's log) no
    limit — rich would assume 80 columns there and cut or wrap names and counts that no one is short of room for."""
    return out_console.width if out_console.is_terminal else sys.maxsize


def print_table(table: Table) -> None:
    """A table a command drew itself, on stdout: on a terminal fitted by rich to its width (its columns say what
    may wrap); off a terminal at the table's own width, however wide, every cell whole on its lines."""
    if out_console.is_terminal:
        out_console.print(table)
        return
    whole = Measurement.get(out_console, out_console.options.update(max_width=UNBOUNDED), table).maximum
    out_console.print(_AtWidth(table, whole, strip=True), soft_wrap=True, crop=False)


UNBOUNDED = 1_000_000   # cells: wider than any table, small enough for rich's arithmetic


def _prose(text: str) -> bool:
    """Free text, which may wrap in its cell: several words, longer than a time with its date ("dry run",
    "scheduled real", "2026-12-01 09:30" stay on their line)."""
    return cell_len(text) > 16 and any(ch.isspace() for ch in text)


def _width(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


class _AtWidth:
    """A renderable drawn at exactly `width` cells, wider than the console if need be: rich would otherwise squeeze
    every column, names and counts too, into the console's width (80 when it cannot tell, as in a pipe).

    `strip` (off a terminal): each line ends where its text ends — rich pads every cell to its column, so a
    key/value table piped to a file had every row as long as its longest value, in trailing spaces."""

    def __init__(self, renderable: Table, width: int, *, strip: bool = False) -> None:
        self.renderable, self.width, self.strip = renderable, width, strip

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        at_width = options.update(width=self.width, no_wrap=False)
        if not self.strip:
            yield from console.render(self.renderable, at_width)
            return
        # split, not render_lines: that crops every line to the table's width, a wider title too ("uplift among
        # the top k % by predicted" for a title of twice that)
        for line in Segment.split_lines(console.render(self.renderable, at_width)):
            yield from _rstrip(line)
            yield Segment.line()


def _rstrip(line: list[Segment]) -> list[Segment]:
    """A rendered line without the spaces it ends with (a cell's padding, however many segments hold it)."""
    line = list(line)
    while line and not line[-1].control and not line[-1].text.rstrip(" "):
        line.pop()
    if line and not line[-1].control:
        last = line[-1]
        line[-1] = Segment(last.text.rstrip(" "), last.style)
    return line


def say(message: str) -> None:
    """A diagnostic for the operator, on stderr. Off a terminal (cron's log, a pipe, a test) lines are never
    broken at an assumed 80 columns: a traceback's `File ..., line N, in NAME` or a count stays on one line."""
    err_console.print(message, highlight=False, soft_wrap=not err_console.is_terminal)


@contextmanager
def progress_bar(description: str, total: int | None = None, *, unit: str = "items"):
    """A rich progress bar on stderr (only on a terminal); yields a callback `advance(done, total)` for services.

    `unit="bytes"` shows sizes and speed (file imports count bytes read), otherwise counts of items.
    """
    from rich.progress import DownloadColumn, TransferSpeedColumn

    columns = (
        [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
    )
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        *columns,
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def advance(done: int, total_now: int | None = None, *, description: str | None = None) -> None:
            # description: a new label for the bar (an import's phases: staging, then swapping in)
            progress.update(task, completed=done, total=total_now if total_now is not None else total,
                            description=description)  # None keeps the label

        yield advance


def read_lines(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8") as fh:
        yield from fh


ProgressCallback = Callable[[int, int | None], None]
