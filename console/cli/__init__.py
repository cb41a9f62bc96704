"""The `winback` command line: every console action as a subcommand, for scripts and cron.

Data goes to stdout (`--json` on every listing), diagnostics to stderr. Exit codes: 0 ok, 1 the operation
failed, 2 bad usage or bad input. Command modules import heavy services inside the command body so that
`winback --help` and small commands start fast.
"""

from __future__ import annotations

import os
import sqlite3

# numpy's OpenBLAS would start a thread per core for tiny matrix products; on a shared 2-core server that makes
# model fits many times slower. Set before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

# lean_start first of winback's modules: it imports sqlite_utils without pandas (see there)
from console.cli import help_format, lean_start  # noqa: F401
from console.cli.output import err_console
from console.errors import WinbackError
from console.workspace import DatabaseTooNew

if TYPE_CHECKING:
    # The base Context TyperGroup.invoke is declared with lives in typer's vendored click; typer.Context
    # (what typer passes at run time) is its subclass, and an override may not narrow the parameter.
    from typer._click import Context as ClickContext


help_format.install()


def database_trouble(error: sqlite3.DatabaseError, ctx: ClickContext) -> str | None:
    """What to tell the operator when SQLite refuses the database file itself; None for anything else (a bug)."""
    from console.errors import SQLITE_BUSY, SQLITE_ENVIRONMENT

    text = str(error).lower()
    if any(phrase in text for phrase in SQLITE_BUSY):
        return "the database is busy: another winback process is writing to it; try again in a moment"
    if not any(phrase in text for phrase in SQLITE_ENVIRONMENT):
        return None
    obj = ctx.obj or {}
    try:
        from console.workspace import Workspace

        where = str(Workspace.load(config=obj.get("config"), db=obj.get("db")).db_path)
    except Exception:   # the path only makes the message better; the error is said without it
        where = "the database"
    if "readonly" in text:
        return (f"{where}: {error} — check that this user may write the file and its folder (owner, mode) and "
                "that the disk is not mounted read-only")
    return f"{where}: {error}"


GLOBAL_OPTIONS = ("--db", "--config")


def global_options_first(args: list[str]) -> list[str]:
    """`winback demo --db x.db` as `winback --db x.db demo`: operators write the global options after the command
    (the demo's own hint says `--db another.db`), and click knows them only before it. Nothing after `--` moves."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front += args[i:i + 2]
            i += 2
            continue
        if arg.startswith(tuple(f"{name}=" for name in GLOBAL_OPTIONS)):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


class WinbackGroup(TyperGroup):
    """Turns the errors an operator can act on into a message on stderr and an exit code, not a traceback."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        if ctx.parent is None:   # the root group: the one that owns --db and --config
            args = global_options_first(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except WinbackError as exc:   # a bad winback.toml too (ConfigError, exit 2)
            say_error(str(exc))
            raise typer.Exit(exc.exit_code) from exc
        except DatabaseTooNew as exc:
            say_error(str(exc))
            raise typer.Exit(1) from exc
        except sqlite3.DatabaseError as exc:   # the machine's refusal (unwritable, full, locked), not a bug: words
            words = database_trouble(exc, ctx)
            if words is None:
                raise
            say_error(words)
            raise typer.Exit(1) from exc


def say_error(words: str) -> None:
    """`error: WORDS` on stderr, as one line off a terminal (cron's mail, a log, a pipe): rich would break a long
    path at an assumed 80 columns, and whoever greps the log for the file or the field would miss it."""
    err_console.print(f"[bold red]error:[/] {escape(words)}", highlight=False, soft_wrap=not err_console.is_terminal)


app = typer.Typer(
    cls=WinbackGroup,
    help="winback: bring dormant customers back. Bare `winback` opens the console.\n\n"
         "New here: `winback demo` builds a made-up workspace (20,000 customers) and opens it; `winback init` "
         "starts your own (winback.toml and winback.db in this folder). `winback COMMAND --help` explains each "
         "command.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from console import __version__

        typer.echo(f"winback {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    db: Annotated[
        Path | None, typer.Option("--db", help="SQLite file (before or after the command). Default: $WINBACK_DB, else "
                                   "config, else ./winback.db.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (before or after the command). Default: $WINBACK_CONFIG, "
                                       "else ./winback.toml.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version, help="Print winback's version and exit.")
    ] = False,
) -> None:
    ctx.obj = {"db": db, "config": config}
    if ctx.invoked_subcommand is None:
        from console.cli.workspace_cmds import open_console

        open_console(ctx)


def _register_all() -> None:
    from console.cli import (
        audit_cmds,
        campaign_cmds,
        import_cmds,
        message_cmds,
        model_cmds,
        offer_cmds,
        outcome_cmds,
        policy_cmds,
        program_cmds,
        segment_cmds,
        uplift_cmds,
        workspace_cmds,
    )

    for module in (
        workspace_cmds,
        import_cmds,
        segment_cmds,
        message_cmds,
        offer_cmds,
        policy_cmds,
        campaign_cmds,
        program_cmds,
        outcome_cmds,
        model_cmds,
        uplift_cmds,
        audit_cmds,
    ):
        module.register(app)


_register_all()


def main() -> None:
    app(prog_name="winback")


if __name__ == "__main__":  # pragma: no cover
    main()
