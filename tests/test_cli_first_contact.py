"""What a newcomer meets first on the command line: help that reads right, `--json` on every listing, and a
console that says it needs a terminal instead of writing escape codes into a pipe (`ssh host winback`, cron)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

from console.cli import app

# The last word of a command that lists or shows data; each of them must take --json (README: "Every listing
# takes `--json`"). A new listing command with another verb belongs here too.
LISTING_VERBS = {"list", "show", "members", "fields", "tally", "scores", "info", "why", "outcomes", "audit",
                 "preview", "lint", "plan"}


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf command of the typer app with its full name (`campaign list`)."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


def test_every_listing_command_takes_json() -> None:
    commands = dict(_commands(typer.main.get_command(app)))
    listings = {name: cmd for name, cmd in commands.items() if name.split()[-1] in LISTING_VERBS}
    assert len(listings) >= 20, sorted(listings)  # the walk found the command groups
    without = [name for name, cmd in listings.items()
               if not any("--json" in getattr(p, "opts", ()) for p in cmd.params)]
    assert without == [], f"listing commands without --json: {without}"


def test_a_flag_is_not_shown_as_taking_a_value_in_help(monkeypatch) -> None:
    # typer 0.29 writes `--dry-run <bool>` in the rich help, which reads as if it wanted `--dry-run true`.
    monkeypatch.setenv("COLUMNS", "120")
    result = CliRunner().invoke(app, ["import", "users", "--help"])
    assert result.exit_code == 0, result.output
    assert "--dry-run" in result.output and "<bool>" not in result.output
    assert "<path>" in result.output or "FILE" in result.output.upper()  # value options keep their type


def test_the_console_without_a_terminal_says_so_and_draws_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    for args in ([], ["tui"]):
        result = CliRunner().invoke(app, args)   # CliRunner's stdin and stdout are not a terminal
        assert result.exit_code == 2, result.output
        assert "terminal" in result.output and "ssh -t" in result.output
        assert "\x1b[" not in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "winback.db").exists()   # nothing was changed


def test_demo_without_a_terminal_builds_the_workspace_and_says_how_to_open_it(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["demo", "--users", "50"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "winback.db").exists()
    assert "not a terminal" in result.output and "\x1b[?1049h" not in result.output


def test_help_keeps_every_bracketed_name() -> None:
    # rich markup reads `[import.mappings.NAME]` as a style tag and drops it: the help then said "Use the saved
    # mapping  of winback.toml". Every [..] written in a command's or an option's help must reach the screen.
    runner = CliRunner()
    lost = []
    for name, cmd in _commands(typer.main.get_command(app)):
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        wanted = [b for t in texts for b in re.findall(r"\[[^\]\n]*\]", t)]
        if not wanted:
            continue
        out = runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "400"}).output
        flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", out).split())
        lost += [f"{name}: {b}" for b in wanted if " ".join(b.split()) not in flat]
    assert lost == []


def test_help_prose_is_rewrapped_to_the_terminal_not_cut_where_the_source_wraps() -> None:
    # typer 0.29 keeps a docstring's single line breaks in the rich help: at 80 columns `import users --help`
    # read "Other columns are kept" / "as attributes." on two ragged lines. Click's rule is back: a paragraph
    # is one text (lines joined), a paragraph starting with \b keeps its lines.
    out = CliRunner().invoke(app, ["import", "users", "--help"], env={"COLUMNS": "1000"}).output
    assert "Other columns are kept as attributes." in out
    assert "timezone, locale, signup_at" in out


def test_db_and_config_are_taken_after_the_command_too(tmp_path, monkeypatch) -> None:
    # The demo's own hint says "--db another.db builds a fresh one"; `winback demo --db another.db` answered
    # "No such option: --db (Possible options: --seed)". Global options now go before or after the command.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    runner = CliRunner()
    built = runner.invoke(app, ["demo", "--users", "50", "--no-tui", "--db", "another.db"])
    assert built.exit_code == 0, built.output
    assert (tmp_path / "another.db").exists() and not (tmp_path / "winback.db").exists()
    listed = runner.invoke(app, ["segments", "list", "--json", "--db=another.db"])
    assert listed.exit_code == 0, listed.output
    missing = runner.invoke(app, ["segments", "list", "--config", "nowhere.toml"])
    assert missing.exit_code == 2 and "nowhere.toml" in missing.output


def test_version_is_one_flag_away() -> None:
    from console import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"winback {__version__}"


def test_a_group_lists_each_command_in_one_flowing_line() -> None:
    # The same ragged wrap in a group's command list: `offers --help` cut "kept for the campaigns" / "that used them".
    out = CliRunner().invoke(app, ["offers", "--help"], env={"COLUMNS": "1000"}).output
    assert "kept for the campaigns that used them" in out


def test_a_db_path_that_is_a_folder_or_not_a_database_is_refused_by_name(tmp_path, monkeypatch) -> None:
    # `--db /srv/shop` (the folder) and `--db users.csv` (the wrong file) printed sqlite3's traceback
    # ("unable to open database file", "file is not a database") with exit 1.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    (tmp_path / "shop").mkdir()
    (tmp_path / "users.csv").write_text("external_id,name\nU1,Ann\n", encoding="utf-8")
    runner = CliRunner()
    for path, says in (("shop", "is a folder"), ("users.csv", "not a database")):
        for args in (["segments", "list"], ["init"]):
            result = runner.invoke(app, ["--db", path, *args])
            assert result.exit_code == 2, result.output
            assert path in result.output and says in result.output and "Traceback" not in result.output
    assert (tmp_path / "users.csv").read_text(encoding="utf-8") == "external_id,name\nU1,Ann\n"   # untouched


def test_a_database_the_machine_will_not_let_us_write_is_said_in_words(cli, monkeypatch) -> None:
    # A database file this user may not write (another owner, a read-only mount) printed sqlite3's traceback
    # ending in "OperationalError: attempt to write a readonly database". As root (CI) no file is unwritable, so
    # the write fails where SQLite would fail it: opening the workspace for the command.
    import sqlite3

    from console.workspace import Workspace

    def readonly(self: Workspace) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Workspace, "open", readonly)
    result = cli("segments", "create", "zz", "--rule", "orders > 1")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "readonly" in result.output
    assert "winback.db" in result.output and "may write" in result.output


def test_an_event_kind_that_counts_as_neither_order_nor_visit_is_pointed_out(cli, tmp_path) -> None:
    # `--kind 订单` (or `buy`) was imported without a word, and those "orders" then counted for nothing but
    # last seen: no orders, no spend, dormancy by orders unmoved.
    users = tmp_path / "u.csv"
    users.write_text("external_id,name\nU1,Ann\n", encoding="utf-8")
    assert cli("import", "users", str(users)).exit_code == 0
    events = tmp_path / "e.csv"
    events.write_text("user_id,at,amount\nU1,2026-11-01 10:00,5\n", encoding="utf-8")
    odd = cli("import", "events", str(events), "--kind", "订单", "--dry-run")
    assert odd.exit_code == 0, odd.output
    assert "订单" in odd.output and "order, purchase" in odd.output and "visit, login" in odd.output
    assert "[dormancy]" in odd.output
    plain = cli("import", "events", str(events), "--kind", "Order", "--dry-run")
    assert plain.exit_code == 0 and "order, purchase" not in plain.output


def test_a_user_id_in_the_wrong_case_or_with_spaces_gets_a_did_you_mean(cli, tmp_path) -> None:
    users = tmp_path / "u.csv"
    users.write_text("external_id,name\nU0000042,Ann\n", encoding="utf-8")
    assert cli("import", "users", str(users)).exit_code == 0
    for typed in ("u0000042", " U0000042 "):
        result = cli("why", typed)
        assert result.exit_code == 2, result.output
        assert "did you mean 'U0000042'" in result.output, result.output
    nobody = cli("why", "U9")
    assert nobody.exit_code == 2 and "did you mean" not in nobody.output


def test_usage_names_arguments_as_the_docs_do() -> None:
    # typer 0.29 wrote `Usage: winback import users [OPTIONS] {file}` — braces read as "one of" in shell usage;
    # the docs (and click) write `FILE`, `[OFFER]`.
    out = CliRunner().invoke(app, ["offers", "map", "--help"], env={"COLUMNS": "200"}).output
    assert "offers map [OPTIONS] LAYER [OFFER]" in out and "{" not in out, out
