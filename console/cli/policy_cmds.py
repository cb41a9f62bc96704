"""Contact policy commands: `winback caps`, `quiet-hours`, `suppress`, `consent` (issue #5).

`winback why USER --campaign C` lives with `why` in profile_cmds; it calls `show_campaign_why` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from console.cli.consent_cmds import consent_app
from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from

if TYPE_CHECKING:
    import sqlite_utils

    from console.config import Config


caps_app = typer.Typer(help="Frequency caps: at most N messages per rolling window, per channel or for any.",
                       no_args_is_help=True)
quiet_app = typer.Typer(help="Quiet hours: no marketing sends in that span, in each recipient's own time zone.",
                        no_args_is_help=True)
suppress_app = typer.Typer(help="The suppression list: opt-outs, bounces, complaints, manual blocks.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(caps_app, name="caps")
    app.add_typer(quiet_app, name="quiet-hours")
    app.add_typer(suppress_app, name="suppress")
    app.add_typer(consent_app, name="consent")


ChannelOpt = Annotated[str, typer.Option("--channel", "-c", help="sms | email | push | call | gift | all")]


# --- caps -----------------------------------------------------------------------------------------------------

@caps_app.command("list")
def caps_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the frequency caps in force (all apply; the strictest wins)."""
    from console.policy.caps import format_window, list_rules

    with workspace_from(ctx).open() as db:
        rules = list_rules(db)
    rows = [{"channel": r.channel, "max": r.max_count, "window": format_window(r.window_seconds),
             "window_seconds": r.window_seconds, "rule": r.label} for r in rules]
    emit_rows(rows, as_json=as_json, columns=["channel", "max", "window"], title="frequency caps",
              empty="no frequency caps: nobody is protected from being messaged too often")


@caps_app.command("set")
def caps_set(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="sms | email | push | call | gift | any")],
    rule: Annotated[str, typer.Argument(help="N/WINDOW, e.g. 2/7d or 1/12h (rolling).")],
) -> None:
    """Add or change a cap: `winback caps set sms 2/7d`, `winback caps set any 1/1d`."""
    from console.policy.caps import CapRule, parse_rule, set_rule

    parsed = parse_rule(channel, rule)
    with workspace_from(ctx).open() as db:
        result = set_rule(db, parsed)
    before = result["previous_max"]
    if before == parsed.max_count:
        say(f"cap {result['rule']} unchanged")
        return
    # The same channel and window changes N: the previous cap is said whole ("was sms 3/7d"), not a bare 3.
    was = "" if before is None else f" (was {CapRule(parsed.channel, before, parsed.window_seconds).label})"
    say(f"cap set: {result['rule']}{was}")


@caps_app.command("remove")
def caps_remove(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="sms | email | push | call | gift | any")],
    window: Annotated[str | None, typer.Argument(help="Only the rule with this window, e.g. 7d.")] = None,
) -> None:
    """Remove the caps of a channel (or only the one with WINDOW)."""
    from console.policy.caps import remove_rules

    with workspace_from(ctx).open() as db:
        removed = remove_rules(db, channel, window)
    say("removed: " + ", ".join(removed))


# --- quiet hours ----------------------------------------------------------------------------------------------

@quiet_app.command("show")
def quiet_show(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the quiet span and the sending window it leaves, and where they were set."""
    from console.policy.quiet_hours import window_source
    from console.policy.quiet_hours_words import override_setter, override_words

    ws = workspace_from(ctx)
    with ws.open() as db:
        window, source = window_source(db, ws.config)
        warn_night_window(db, ws.config)
        overridden = source == "winback quiet-hours set"
        who, back = override_words(db, ws.config) if overridden else ("", "")
        setter = override_setter(db) if overridden else None
    data = {
        "quiet": None if window is None else window.quiet,
        "sending_window": None if window is None else window.sending,
        "off": window is None,
        "set_by": source,
        "set_by_operator": setter[0] if setter else None,   # who typed `quiet-hours set`, and when (epoch seconds)
        "set_at": setter[1] if setter else None,
        "fallback_timezone": ws.config.timezone,
        "channels_exempt": sorted(c for c, s in ws.config.channels.items()
                                  if s.get("quiet_hours", True) is False or str(s.get("quiet_hours")).lower() == "off"),
    }
    if as_json:
        print_json(data)
        return
    if window is None:
        lines = ["quiet hours: off — marketing may go out at any hour", f"set by: {source}{who}"]
    else:
        lines = [f"quiet hours: {window.quiet} — no marketing sends then (sending window {window.sending})",
                 f"zone: each recipient's own, else from the phone number, else {ws.config.timezone}",
                 f"set by: {source}{who}" + (" [quiet_hours] (its start is when sending may start, its end when it "
                                        "must stop)" if source == "winback.toml" else "")]
    lines += [back] if back else []
    if data["channels_exempt"]:
        lines.append("channels without quiet hours: " + ", ".join(data["channels_exempt"]))
    for line in lines:
        typer.echo(line)


def warn_night_window(db: sqlite_utils.Database, config: Config) -> None:
    """On stderr: winback.toml's [quiet_hours] in force leaves sending only at night (quiet-hours show, plan)."""
    from console.policy.quiet_hours_words import night_window_warning

    warning = night_window_warning(db, config)
    if warning:
        say(escape(warning))


@quiet_app.command("set")
def quiet_set(
    ctx: typer.Context,
    span: Annotated[str, typer.Argument(help="The quiet span, e.g. 20:00-08:00 (no sends from 20:00 to 08:00), or off.")],
    at_night: Annotated[bool, typer.Option("--yes-at-night", help="Confirm a quiet span that leaves sending only at night (e.g. 08:00-20:00); without it such a span is refused as typed the wrong way round.")] = False,
) -> None:
    """Set the quiet span for the whole workspace: `winback quiet-hours set 20:00-08:00`, or `off`.

    It wins over winback.toml's \\[quiet_hours] table, which says the same the other way round: start = "08:00"
    (when sending may start), end = "20:00" (when it must stop). `winback quiet-hours reset` removes it again."""
    from console.policy.quiet_hours import set_quiet_hours

    with workspace_from(ctx).open() as db:
        window = set_quiet_hours(db, span, at_night=at_night)
    if window is None:
        say("quiet hours off: marketing may go out at any hour (`winback quiet-hours reset` goes back to "
            "winback.toml's window)")
    else:
        say(f"quiet hours {window.quiet}: sending window {window.sending}, in each recipient's time zone")


@quiet_app.command("reset")
def quiet_reset(ctx: typer.Context) -> None:
    """Remove what `winback quiet-hours set` (or `off`) stored: winback.toml's \\[quiet_hours] applies again, else
    the default 20:00-08:00 quiet span. Audited."""
    from console.policy.quiet_hours import reset_quiet_hours
    from console.policy.quiet_hours_words import fallback_words

    ws = workspace_from(ctx)
    with ws.open() as db:
        removed = reset_quiet_hours(db)
    fallback = fallback_words(ws.config)
    say(escape(f"quiet hours reset — back to {fallback}" if removed
               else f"nothing to reset: no `winback quiet-hours set` in force — {fallback} applies"))


@quiet_app.command("off")
def quiet_off(ctx: typer.Context) -> None:
    """No quiet hours: marketing may go out at any hour (same as `winback quiet-hours set off`)."""
    # PRODUCT.md lists `quiet-hours show|set 20:00-08:00|off`: scripts may call `off` as its own subcommand.
    quiet_set(ctx, "off")


# --- suppression ----------------------------------------------------------------------------------------------

@suppress_app.command("add")
def suppress_add(
    ctx: typer.Context,
    address: Annotated[str | None, typer.Argument(help="Phone, email or push token (normalised before storing).")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="A user's external id.")] = None,
    channel: ChannelOpt = "all",
    reason: Annotated[str, typer.Option("--reason", "-r", help="opt_out | bounce | complaint | manual")] = "manual",
    source: Annotated[str, typer.Option("--source", help="Where the request came from.")] = "cli",
    note: Annotated[str | None, typer.Option("--note", help="Free text kept with the entry.")] = None,
) -> None:
    """Suppress an address and/or a user, on one channel or all."""
    from console.policy.suppression import add_suppression, mask

    ws = workspace_from(ctx)
    with ws.open() as db:
        result = add_suppression(db, ws.config, address=address, user=user, channel=channel, reason=reason,
                                 source=source, note=note)
    who = " and ".join(x for x in (mask(result["channel"], result["address"]) if result["address"] else None,
                                   f"user {user}" if user else None) if x)
    if result["journaled"]:
        # Another process (an import?) holds the database: the opt-out journal already stops every send.
        say(f"suppressed: {who} on {result['channel']} ({result['reason']}) — recorded in the opt-out journal "
            "(the database is busy); it stops sends now and joins the suppression list when the database is free")
    elif result["created"]:
        say(f"suppressed #{result['id']}: {who} on {result['channel']} ({result['reason']})")
    else:
        say(f"already suppressed (#{result['id']}): {who} on {result['channel']}")


@suppress_app.command("import")
def suppress_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with an `address` column (optional channel, reason, user, note), "
                                               "or one address per line.")],
    channel: ChannelOpt = "all",
    reason: Annotated[str, typer.Option("--reason", "-r", help="Default reason: opt_out | bounce | complaint | manual")] = "manual",
    source: Annotated[str | None, typer.Option("--source", help="Default: import:FILE.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a suppression file: all lines or, if any is bad, none (errors name the line)."""
    from console.policy.suppression import import_suppressions

    ws = workspace_from(ctx)
    with ws.open() as db:
        result = import_suppressions(db, ws.config, file, channel=channel, reason=reason, source=source)
    if as_json:
        print_json(result)
    else:
        say(f"{file}: {result['rows']:,} rows, {result['created']:,} new, "
            f"{result['already_suppressed']:,} already suppressed")


@suppress_app.command("list")
def suppress_list(
    ctx: typer.Context,
    channel: Annotated[str | None, typer.Option("--channel", "-c", help="Only this channel (or all).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Only this reason.")] = None,
    include_removed: Annotated[bool, typer.Option("--all", help="Include removed entries (with who and why).")] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many, newest first.")] = None,
    unmask: Annotated[bool, typer.Option("--unmask", help="Show full addresses.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the suppression list, newest first (addresses masked unless --unmask)."""
    from console.policy.suppression import list_suppressions, mask
    from console.timefmt import local_date

    ws = workspace_from(ctx)
    with ws.open() as db:
        rows = list_suppressions(db, channel=channel, reason=reason, include_removed=include_removed, limit=limit)
        if unmask:
            _audit_unmask(db, "suppression.list.unmask", entries=len(rows), channel=channel, reason=reason)
    for row in rows:
        if not unmask and row["address"]:
            row["address"] = mask(row["channel"], row["address"])
    if as_json or not rows:
        emit_rows(rows, as_json=as_json, title="suppression list", empty="the suppression list is empty")
        return
    # 80 columns: the day only (--json has the second); address and user in one column (an entry mostly has
    # one of them); ids, addresses and days never wrap or get cut, the source may wrap. Why an entry was lifted
    # goes below the table, one line each.
    from rich.markup import escape
    from rich.table import Table

    from console.cli.output import out_console, print_table, table_room

    def day(ts: int | None) -> str:
        return local_date(ts, ws.config.timezone)  # the workspace's day, not UTC's

    heads = ["id", "channel", "address / user", "reason", "at"] + (["lifted"] if include_removed else []) + ["source"]
    lifted = []
    body = []
    for r in rows:
        who = " · ".join(v for v in (r["address"], r["user"]) if v)
        cells = [str(r["id"]), r["channel"], who, r["reason"], day(r["at"])]
        if include_removed:
            cells.append(day(r["removed_at"]))
            if r["removed_at"]:
                lifted.append(f"#{r['id']} lifted {day(r['removed_at'])} by {r['removed_by']}: {r['removed_reason']}")
        cells.append(r["source"] or "")
        body.append(cells)
    from rich.cells import cell_len

    # Everything but the source must fit whole (the source may fold to 6 columns, address and user may go on two
    # lines); else one line per entry.
    def width(i: int, h: str) -> int:
        if i == 2:
            return max(cell_len(h), *(cell_len(part) for c in body for part in c[i].split(" · ")))
        return max(cell_len(h), *(cell_len(c[i]) for c in body))

    needed = sum(width(i, h) for i, h in enumerate(heads[:-1]))
    available = table_room()   # off a terminal no limit: a pipe or file gets one whole row per entry
    if needed + 6 + 3 * (len(heads) - 1) + 2 > available:
        say("suppression list")
        for cells in body:
            out_console.print(f"#{cells[0]} {cells[1]} {cells[2]} · {cells[3]} · {cells[4]}"
                              + (f" · lifted {cells[5]}" if include_removed and cells[5] else "")
                              + f" · source {cells[-1]}", markup=False, highlight=False, soft_wrap=False)
    else:
        # Widths set here, not left to rich (which gave a folding column more than the room left).
        widths = [width(i, h) for i, h in enumerate(heads[:-1])]
        whole = max(cell_len(heads[2]), *(cell_len(c[2]) for c in body))
        spare = available - (sum(widths) + 3 * len(heads) - 1) - 6
        widths[2] = min(whole, widths[2] + max(spare, 0))
        room = available - (sum(widths) + 3 * len(heads) - 1)
        widths.append(max(6, min(room, max(cell_len(heads[-1]), *(cell_len(c[-1]) for c in body)))))
        table = Table(title="suppression list", show_edge=False, header_style="bold")
        for col, w in zip(heads, widths, strict=True):
            wraps = col in ("source", "address / user")
            table.add_column(col, justify="right" if col == "id" else "left", no_wrap=not wraps,
                             overflow="fold" if wraps else "ellipsis", width=w)
        for cells in body:
            table.add_row(*(escape(c) for c in cells))
        print_table(table)
    for line in lifted:
        out_console.print(line, markup=False, highlight=False, soft_wrap=False)


@suppress_app.command("remove")
def suppress_remove(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="An entry id, an address, or a user's external id.")],
    why: Annotated[str, typer.Option("--reason", "-r", help="Why the block is lifted (required; audited).")],
    channel: Annotated[str | None, typer.Option("--channel", "-c", help="Only entries on this channel.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Lift a suppression. The entry is kept, stamped with who, when and why; the audit log records it."""
    from console.policy.suppression import _matching_ids, remove_suppression

    ws = workspace_from(ctx)
    with ws.open() as db:
        if not yes:
            ids = _matching_ids(db, ws.config, target, channel)
            try:
                answer = bool(ids) and typer.confirm(
                    f"lift {len(ids)} suppression(s) for {target}? they may be messaged again", err=True)
            except typer.Abort:         # no answer (end of input, e.g. in a script): say what to do instead
                answer = False
            if ids and not answer:
                say("nothing lifted (scripts: pass --yes)")
                raise typer.Exit(1)
        ids = remove_suppression(db, ws.config, target, why=why, channel=channel)
    say(f"lifted suppression(s) {', '.join(f'#{i}' for i in ids)}: {why}")


def _audit_unmask(db: Any, action: str, **details: Any) -> None:
    """Full addresses were shown: who saw which, like `segments members --unmask` (PIPL: access is recorded)."""
    from console import audit

    audit.record_now(db, action, **details)


# --- why (campaign part) --------------------------------------------------------------------------------------

def show_campaign_why(ctx: typer.Context, user: str, campaign: str, *, as_json: bool = False,
                      unmask: bool = False) -> None:
    """Print why USER would or would not be messaged by CAMPAIGN now (for `winback why USER --campaign C`)."""
    from console.clock import now_ts
    from console.policy.explain import explain, explanation_lines

    ws = workspace_from(ctx)
    with ws.open() as db:
        decision = explain(db, ws.config, user, campaign, at=now_ts(), unmask=unmask)
        if unmask:
            _audit_unmask(db, "policy.why.unmask", user=user, campaign=campaign)
    if as_json:
        print_json(decision)
        return
    import shutil
    import textwrap

    # Long facts wrap under their text column (19 = "  ok  label        "), not at the terminal's left edge.
    width = max(60, shutil.get_terminal_size((80, 24)).columns)
    for line in explanation_lines(decision):
        indent = " " * 19 if line.startswith("  ") else "  "
        typer.echo("\n".join(textwrap.wrap(line, width=width, subsequent_indent=indent, break_long_words=False,
                                           break_on_hyphens=False)) or line)

