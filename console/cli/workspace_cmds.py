"""`winback init`, `info`, `demo`, `tui`: the workspace itself."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from console.cli.output import (
    JsonFlag,
    emit_rows,
    print_json,
    refuse_what_is_not_a_database,
    say,
    workspace_from,
)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("info")(info)
    app.command("demo")(demo)
    app.command("tui")(tui)


def init(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Workspace name shown in the console header.")] = "winback",
) -> None:
    """Create or migrate the database, and write a commented winback.toml if there is none."""
    from console.config import default_config_text
    from console.workspace import Workspace

    root = ctx.find_root().obj or {}
    if root.get("db"):
        refuse_what_is_not_a_database(Path(root["db"]))   # before the config is written: nothing changes
    config_path = Path(root.get("config") or "winback.toml")
    if not config_path.exists():
        config_path.write_text(default_config_text(name), encoding="utf-8")
        say(f"wrote {config_path}")
    ws = Workspace.load(config=config_path, db=root.get("db"))
    refuse_what_is_not_a_database(ws.db_path)
    db = ws.open()
    from console.workspace_setup import ensure_presets

    ensure_presets(db, ws.config)
    say(f"database ready: {ws.db_path}")


def info(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Resolved config and database paths, versions and row counts."""
    from console.info import workspace_info

    data = workspace_info(workspace_from(ctx))
    if as_json:
        print_json(data)
        return
    shown: dict[str, Any] = {k: v for k, v in data.items() if k != "counts"}
    shown["schema"] = ", ".join(data["schema"])
    shown["config"] = data["config"] or "(none: built-in defaults; `winback init` writes one)"
    emit_rows([{"setting": k, "value": v} for k, v in shown.items()], as_json=False)
    emit_rows([{"table": k, "rows": v} for k, v in data["counts"].items()], as_json=False)


def demo(
    ctx: typer.Context,
    users: Annotated[int, typer.Option("--users", help="How many demo users.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same workspace.")] = 7,
    no_tui: Annotated[bool, typer.Option("--no-tui", help="Print a summary and exit instead of opening the console.")] = False,
    samples: Annotated[bool, typer.Option("--samples", help="Also write users.csv and orders.csv (8 users, 16 orders) here, for the README's tour.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Build a demo workspace of made-up customers and open the console.

    It goes in ./winback.db (--db elsewhere), never into a database that already holds users; run again, the demo
    already there is reused. The same --seed builds the same workspace."""
    from console.cli.output import progress_bar
    from fixtures.demo import build_demo, write_samples

    ws = workspace_from(ctx)
    if samples:
        for path in write_samples(Path.cwd()):
            say(f"wrote {path.name}: a small sample for `winback import`")
    with progress_bar("building demo workspace") as advance:
        summary = build_demo(ws, users=users, seed=seed, progress=advance, program_history=True)
    if summary.get("reused"):
        from console.timefmt import local_date

        say(f"reusing the demo already in {ws.db_path} (built {local_date(summary['built_on'], ws.config.timezone)}"
            f"; `winback refresh` brings its profiles to today); --db another.db builds a fresh one")
    if summary.get("simulated"):   # issue 15: the demo's past campaign is a simulation, and says so
        say(str(summary["simulated"]))
    if summary.get("simulated program"):   # issue 14: so are the ladder's four weeks
        say(str(summary["simulated program"]))
    if as_json:
        print_json(summary)
    elif no_tui:
        emit_rows([{"what": k, "count": v} for k, v in summary.items()
                   if isinstance(v, int) and k not in ("reused", "built_on")], as_json=False,
                  title=f"demo workspace in {ws.db_path}")
    if not no_tui and not as_json:
        if not has_terminal():   # `ssh host winback demo`, a pipe: the workspace is built, the console needs a TTY
            say(f"not a terminal, so the console was not opened: {no_terminal_hint(ctx)}")
            return
        open_console(ctx)


def tui(ctx: typer.Context) -> None:
    """Open the console (same as bare `winback`)."""
    open_console(ctx)


def no_terminal_hint(ctx: typer.Context) -> str:
    """How to open the console on this workspace: with the --config/--db this command was given, since a bare
    `winback` run as told opens ./winback.db — not the demo just built elsewhere."""
    obj = ctx.find_root().obj or {}
    command = "winback" + "".join(f" --{key} {shlex.quote(str(obj[key]))}" for key in ("config", "db") if obj.get(key))
    return (f"run `{command}` in a terminal (over SSH: `ssh -t HOST {command}`); "
            "scripts and cron use the subcommands (`winback --help`)")


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def open_console(ctx: typer.Context) -> None:
    """The console draws with escape codes and reads keys: without a terminal it would write them into a pipe or
    a cron mail and wait for keys that never come, so it refuses (exit 2, nothing opened or created)."""
    if not has_terminal():
        from console.errors import BadInput

        raise BadInput(f"the console needs a terminal (stdin and stdout are not one): {no_terminal_hint(ctx)}")
    from screens.app import run_console

    run_console(workspace_from(ctx))
