"""`winback import users|events FILE`: load CSV or JSONL, validated whole, staged beside the database, then
swapped in with one short transaction (the only moment the import holds the database's write lock)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from console.cli.output import JsonFlag, print_json, progress_bar, say, workspace_from

FileArg = Annotated[Path, typer.Argument(help="CSV (any common delimiter) or JSONL file.", show_default=False)]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="csv or jsonl (default: from the file name; else csv).")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", show_default=False,
                             help="auto (the default: UTF-8 with or without BOM, GBK/GB18030, UTF-16), utf-8, gbk, "
                                  "or another text encoding's name (cp1252, shift_jis, big5, …).")
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Rename a column: target=source (repeatable), e.g. --map phone=手机号."),
]
MappingOpt = Annotated[
    str | None,
    typer.Option("--mapping", help="Use the saved mapping \\[import.mappings.NAME] of winback.toml (columns, date and "
                                   "amount formats, a where filter; --map, --kind and --encoding override it)."),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Validate only; write nothing.")]
SkipOpt = Annotated[
    bool,
    typer.Option("--skip-invalid", help="Import the valid rows; write the others with reasons to FILE.rejects.*"),
]

sub = typer.Typer(help="Load users or events from CSV or JSONL files (UTF-8 or GBK; Excel's CSV too).\n\n"
                       "Import users first, then events (each event names its user's external_id); then "
                       "`winback refresh` counts them in profiles and layers. An export you import often is "
                       "described once in winback.toml as \\[import.mappings.NAME] (its columns, date and amount "
                       "formats, a where filter) and used with --mapping NAME. Details: docs/importing.md.",
                  no_args_is_help=True)


@sub.command("users")
def import_users_cmd(
    ctx: typer.Context,
    file: FileArg,
    format: FormatOpt = None,
    encoding: EncodingOpt = None,
    map: MapOpt = None,
    mapping_name: MappingOpt = None,
    dry_run: DryRunOpt = False,
    skip_invalid: SkipOpt = False,
    json: JsonFlag = False,
    consent_at: Annotated[str | None, typer.Option(
        "--consent-at", help="When the file's consent values were given (ISO time, e.g. 2026-12-01T00:00:00+08:00). "
        "A yes re-grants over a withdrawal only when this is later than it.")] = None,
) -> None:
    """Import or update users from a CSV or JSONL file.

    Required: external_id. Also read: name, phone (a mobile, read in default_region: 13812345678), email, region,
    gender, age_band, occupation, timezone, locale, signup_at (a time: see `winback import events --help`),
    push_token (a device token, kept as written), consent_sms, consent_email, consent_push, consent_call,
    consent_gift (yes/no, 1/0, true/false, 是/否, 同意/不同意). Other columns are kept as attributes. Rename yours with --map external_id=会员号
    or a saved mapping (--mapping).

    The whole file is checked and staged first (the database stays free for sends and the console): one invalid
    row and nothing is written (exit code 2, each problem as FILE:LINE: column: reason; --skip-invalid imports the
    rest); then one short transaction writes it all. Details: docs/importing.md.
    """
    from console.importing import import_users
    from console.importing.reading import parse_mapping

    ws = workspace_from(ctx)
    mapping = parse_mapping(map or [])
    saved = _saved(ws, mapping_name, "users", encoding)
    db = ws.open()
    try:
        with progress_bar(f"importing {file.name}", unit="bytes") as advance, _json_on_refusal(json):
            progress, phase = _phased(advance, file.name)
            result = import_users(db, file, config=ws.config, mapping=mapping, encoding=encoding or "auto", fmt=format,
                                  dry_run=dry_run, skip_invalid=skip_invalid, progress=progress,
                                  consent_at=_consent_time(consent_at), phase=phase, saved=saved)
    finally:
        db.close()
    _report(result, json)


@sub.command("events")
def import_events_cmd(
    ctx: typer.Context,
    file: FileArg,
    kind: Annotated[
        str | None, typer.Option("--kind", help="The kind of every event in the file (visit, order, …).")
    ] = None,
    format: FormatOpt = None,
    encoding: EncodingOpt = None,
    map: MapOpt = None,
    mapping_name: MappingOpt = None,
    dry_run: DryRunOpt = False,
    skip_invalid: SkipOpt = False,
    json: JsonFlag = False,
) -> None:
    """Import events (visits, orders, logins, …) from a CSV or JSONL file.

    Required: user_id, at, and kind (or --kind). Also read: amount, category, object (the item), source,
    coupon_code. Other columns are kept as attributes. user_id is the user's external_id (import users first);
    only kinds order and purchase count as orders, visit and login as visits.

    Times: ISO 8601 (2026-11-25 09:00, 2026-11-25T09:00:00+08:00), 2026/11/25 9:00, 2026年11月25日 9:00, or epoch
    seconds; without an offset, in the workspace time zone. Day-first dates (25/11/2026) are refused: a saved
    mapping's date_format reads them. Amounts: 1234.50, 1,234.50, ¥1,234.50, 12元 (fullwidth ￥ and ， too); a
    decimal comma (1.299,00) needs a saved mapping's amount_format = "decimal_comma".

    Events already stored are skipped, so a file can be imported again safely. Details: docs/importing.md.
    """
    from console.importing import import_events
    from console.importing.reading import parse_mapping

    ws = workspace_from(ctx)
    mapping = parse_mapping(map or [])
    saved = _saved(ws, mapping_name, "events", encoding)
    db = ws.open()
    try:
        with progress_bar(f"importing {file.name}", unit="bytes") as advance, _json_on_refusal(json):
            progress, phase = _phased(advance, file.name)
            result = import_events(db, file, config=ws.config, kind=kind, mapping=mapping, encoding=encoding or "auto",
                                   fmt=format, dry_run=dry_run, skip_invalid=skip_invalid, progress=progress,
                                   phase=phase, saved=saved)
    finally:
        db.close()
    _report(result, json)
    _note_uncounted_kind(kind or (saved.kind if saved else None))


def _note_uncounted_kind(kind: str | None) -> None:
    """A kind winback does not know (`订单`, `buy`) is stored as given, and then counts only as activity (last seen):
    not as an order or a visit. Said after the import, on stderr, so the operator can re-import with `order`."""
    from console.profiles import ORDER_KINDS, VISIT_KINDS
    from console.recommendations import ITEM_KINDS

    if kind is None or kind.strip().lower() in {*ORDER_KINDS, *VISIT_KINDS, *ITEM_KINDS}:
        return
    from rich.markup import escape

    say(escape(f"note: kind '{kind}' counts neither as an order ({', '.join(ORDER_KINDS)}) nor as a visit "
               f"({', '.join(VISIT_KINDS)}): these events only move 'last seen' (and dormancy with [dormancy] "
               "metric = \"any\"); for orders import them with --kind order"))


def _phased(advance, name: str):
    """(progress, phase) callbacks for an import: the bar is labelled with the phase (staging FILE: read,
    checked and staged without locking the database; swapping in FILE: the short transaction)."""
    done = [0, None]

    def progress(position: int, size: int | None) -> None:
        done[:] = [position, size]
        advance(position, size)

    def phase(which: str) -> None:
        advance(done[0], done[1], description=f"{which} {name}")

    return progress, phase


def _saved(ws, name: str | None, what: str, encoding: str | None):
    """The saved mapping --mapping names (BadInput, exit 2, when winback.toml has none by that name), its columns
    checked against the *what* (users, events) import's. An --encoding given, auto too, wins over the mapping's:
    the importer reads "auto" as "not given", so the mapping's is dropped here."""
    if name is None:
        return None
    from console.importing.columns import winback_columns
    from console.importing.mappings import load_mapping

    saved = load_mapping(ws.config, name, winback_columns(what), what)
    if encoding is not None:
        saved.encoding = None
    return saved


def _consent_time(text: str | None) -> int | None:
    """--consent-at as Unix seconds; BadInput (exit 2) naming the option for anything else."""
    if text is None:
        return None
    from console.clock import parse_iso
    from console.errors import BadInput

    try:
        return int(parse_iso(text).timestamp())
    except ValueError as exc:
        raise BadInput(f"--consent-at {text!r}: give an ISO time such as 2026-12-01T00:00:00+08:00") from exc


@contextmanager
def _json_on_refusal(as_json: bool):
    """With --json, a file refused for invalid rows still prints its counts and errors on stdout (exit code 2),
    so a script can read which rows to fix without parsing the message. Ctrl-C says that nothing was written."""
    from console.importing.problems import InvalidRows

    try:
        yield
    except InvalidRows as exc:
        if as_json:
            print_json({**exc.result.as_dict(), "imported": False})
        raise
    except KeyboardInterrupt:
        # Ctrl-C: the side file is removed (or the swap's one transaction rolled back) on the way out; say so
        # instead of exiting mute.
        say("interrupted: nothing was imported")
        raise typer.Exit(130) from None


def _report(result, as_json: bool) -> None:
    """One summary line (or JSON on stdout); the rejects, if any, on stderr."""
    if as_json:
        print_json({**result.as_dict(), "imported": not result.dry_run})
    rate = f", {result.rows / result.seconds:,.0f} rows/s" if result.seconds >= 1 else ""
    if result.swap_seconds >= 0.1:  # a staged import locks the database only for its swap: say how long
        rate += f"; database locked {result.swap_seconds:.1f}s"
    name = Path(result.file).name
    if result.dry_run:
        say(f"{name}: {result.valid:,} of {result.rows:,} rows valid; nothing written (--dry-run)"
            f" in {result.seconds:.1f}s")
    elif result.kind == "users":
        say(f"{name}: {result.inserted:,} users added, {result.updated:,} updated, "
            f"{result.unchanged:,} unchanged, {result.consents:,} consent changes recorded "
            f"({result.seconds:.1f}s{rate})")
        if result.kept_withdrawn:
            say(f"  {result.kept_withdrawn:,} consent(s) kept withdrawn: the file says yes, but the user withdrew "
                "later than the file's consent time (or the file states none: --consent-at)")
    else:
        say(f"{name}: {result.inserted:,} events added, {result.unchanged:,} already present "
            f"({result.seconds:.1f}s{rate})")
    if result.filtered:
        say(f"  {result.filtered:,} row{'' if result.filtered == 1 else 's'} left out by the mapping's where")
    if result.invalid:
        for message in result.errors:
            say(f"  {escape(message)}")  # messages quote the file's values: never read them as rich markup
        more = result.error_count - len(result.errors)
        if more > 0:
            say(f"  … and {more:,} more")
        if result.rejects_file:
            say(f"{result.invalid:,} invalid row{'' if result.invalid == 1 else 's'} skipped; written with reasons to {result.rejects_file}")
        else:
            say(f"{result.invalid:,} invalid row{'' if result.invalid == 1 else 's'}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(sub, name="import")
