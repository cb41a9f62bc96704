"""`winback templates`, `winback preview`: the copy and what it costs (`winback offers`: offer_cmds.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from console.cli.output import JsonFlag, emit_rows, out_console, print_json, progress_bar, say, workspace_from

if TYPE_CHECKING:   # the services load when a command runs
    from console.messages import LintReport, PreviewFacts

templates_app = typer.Typer(help="Message templates: list, show, add (from TOML), lint over a segment.",
                            no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(templates_app, name="templates")
    app.command("preview")(preview)


# ---------------------------------------------------------------------------------------------------------
# templates


@templates_app.command("list")
def templates_list(
    ctx: typer.Context,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Templates with their channel, A/B group and variant, version."""
    from console import templates
    from console.errors import BadInput

    if channel is not None and channel not in templates.CHANNELS:
        raise BadInput(f"--channel {channel!r}: choose one of {', '.join(templates.CHANNELS)}")
    db = workspace_from(ctx).open()
    rows = templates.list_templates(db, channel)
    if as_json or not rows:
        emit_rows(rows, as_json=as_json, empty="no templates yet: add one with `winback templates add FILE`")
        return
    # Names are what an operator types next: they never wrap or get cut. The preview takes what width is left
    # (one line each, cut with …); --json has everything, `templates show NAME` the full text.
    from rich.cells import cell_len
    from rich.markup import escape
    from rich.table import Table

    from console.cli.output import print_table, table_room

    cells = [[r["name"], r["channel"], r["group"] or "", r["variant"] or "", str(r["version"]),
              " ".join((r["preview"] or "").split())] for r in rows]
    heads = ("name", "channel", "group", "var", "v")
    fixed = sum(max(cell_len(h), *(cell_len(c[i]) for c in cells)) for i, h in enumerate(heads))
    # " │ " between columns, a space at each edge; off a terminal no limit: a pipe gets the whole preview
    room = table_room() - fixed - 3 * len(heads) - 2
    table = Table(show_edge=False, header_style="bold")
    for col in heads:
        table.add_column(col, no_wrap=True, justify="right" if col == "v" else "left")
    if room >= 8:
        table.add_column("preview", no_wrap=True, overflow="ellipsis", max_width=room)
    for c in cells:
        table.add_row(*(escape(v) for v in c[:5 if room < 8 else 6]))
    print_table(table)


@templates_app.command("show")
def templates_show(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Template name.")],
                   as_json: JsonFlag = False) -> None:
    """A template's TOML source as saved, with its version and A/B siblings."""
    from dataclasses import asdict

    from console import templates

    db = workspace_from(ctx).open()
    t = templates.get(db, name)
    siblings = [v.name for v in templates.variants(db, t.group)] if t.group else []
    if as_json:
        data = asdict(t)
        data["variants"] = siblings
        print_json(data)
        return
    say(f"{t.name} · {t.channel} · version {t.version}"
        + (f" · group {t.group} variant {t.variant} (variants: {', '.join(siblings)})" if t.group else ""))
    out_console.print(templates.to_toml(t), markup=False, highlight=False)


@templates_app.command("add")
def templates_add(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="One or more template files (TOML).", exists=True,
                                                dir_okay=False, readable=True)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; save nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check and save templates; saving an existing name with changed text makes a new version (the same text
    again: `unchanged`, no new version). Nothing is saved if any file fails.

    An SMS template approved at a provider (Aliyun, Tencent) has no body: it carries provider, provider_template (the
    template code / ID), approved_text (exactly as registered, with ${name} or {1} placeholders) and a \\[params] table
    filling every placeholder (docs/channels.md "SMS in mainland China").
    """
    from console import templates
    from console.errors import BadInput

    ws = workspace_from(ctx)
    parsed = []
    failures = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{path}: not UTF-8 ({exc})") from exc
        t = templates.parse_toml(text, str(path))
        problems = templates.check(t, ws.config)
        if problems:
            failures.append(f"{path}: template {t.name!r}:\n  " + "\n  ".join(str(p) for p in problems))
        parsed.append(t)
    if failures:
        raise BadInput("nothing saved.\n" + "\n".join(failures))
    if dry_run:
        say(f"{len(parsed)} template(s) pass the checks; nothing saved (--dry-run)")
        if as_json:
            print_json([{"name": t.name, "channel": t.channel, "ok": True} for t in parsed])
        return
    db = ws.open()
    saved = templates.save_all(db, parsed, ws.config)
    if as_json:
        print_json(saved)
    else:
        for s in saved:   # the same text as the latest version makes no new version (nothing to void or audit)
            say(f"unchanged: {s['name']} stays version {s['version']}" if s["unchanged"] else
                f"saved {s['name']} ({s['channel']}) version {s['version']}")


@templates_app.command("lint")
def templates_lint(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Template name.")],
    segment: Annotated[str, typer.Option("--segment", help="Render for every member of this segment.")],
    offer: Annotated[str | None, typer.Option("--offer", help="Offer to use (default: each layer's offer).")] = None,
    examples: Annotated[int, typer.Option("--examples", help="Example users per problem.")] = 3,
    unmask: Annotated[bool, typer.Option("--unmask", help="Quote the messages with real names and addresses "
                                                          "(audited).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Render for every member: errors by kind, empty fields, parts, cost, longest messages. Exit 1 on errors.

    Quoted messages show names and addresses masked unless --unmask. Example:
    `winback templates lint offer-sms-zh --segment dormant --offer back20`
    """
    from console import audit, messages

    ws = workspace_from(ctx)
    db = ws.open()
    members_sql, params = segment_members(db, segment)
    with progress_bar(f"rendering {name} for {segment}") as advance:
        report = messages.lint(db, ws.config, name, members_sql, params, offer=offer, examples=examples,
                               unmask=unmask, progress=advance)
    report["segment"] = segment
    # R (issue 13): the providers' content rules for marketing SMS (warnings: they do not fail the lint)
    from console import content_rules, templates

    report["content_warnings"] = [w.as_dict() for w in content_rules.template_warnings(ws.config,
                                                                                       templates.get(db, name))]
    report["warning_count"] = len(report["content_warnings"])
    if unmask:
        audit.record(db, "template.lint.unmask", template=name, segment=segment,
                     users=[item["external_id"] for item in report["longest"]])
    if as_json:
        print_json(report)
    else:
        _print_lint(report)
    if report["failed"]:
        raise typer.Exit(1)


def segment_members(db: Any, name: str) -> tuple[str, Any]:
    """(SQL selecting member ids, params) of a saved segment; `all` means every user unless saved by that name."""
    from console import segments

    return segments.member_ids_query_by_name(db, name)


def _print_lint(r: LintReport) -> None:
    from rich.markup import escape

    for w in r.get("content_warnings", []):
        say(f"warning ({w['rule']}): {escape(w['message'])}")

    cur = r["currency"]
    say(f"[bold]{escape(r['template'])}[/] v{r['version']} ({r['channel']}) over {escape(r.get('segment', ''))}: "
        f"{r['recipients']:,} recipients, {r['rendered']:,} rendered, {r['failed']:,} failed "
        f"in {r['seconds']:.2f}s")
    for version, n in r["non_personalised"].items():   # PIPL Art. 24 (console/personalised_copy.py)
        say(f"{n:,} recipient{'s' if n != 1 else ''} refused personalised marketing: {version} version "
            f"(personalised here: {escape(', '.join(r['personalised']))})")
    if r["errors"]:
        emit_rows([{"kind": e["kind"], "recipients": e["count"], "error": e["message"],
                    "e.g.": ", ".join(e["examples"])} for e in r["errors"]], as_json=False, title="render errors")
    if r["empty_fields"]:
        emit_rows([{"recipients": e["count"], "renders": e["renders"], "empty": e["expression"],
                    "e.g.": ", ".join(e["examples"])} for e in r["empty_fields"]], as_json=False,
                  title="fields that come out empty")
    if r["warnings"]:
        emit_rows([{"warning": w["code"], "recipients": w["count"], "e.g.": w["message"]}
                   for w in r["warnings"]], as_json=False, title="warnings")
    if r["parts_histogram"]:
        emit_rows([{"parts": int(k), "recipients": v} for k, v in r["parts_histogram"].items()], as_json=False,
                  title="billed parts")
    without = r.get("without_address") or 0
    out_console.print(f"total estimated cost: {r['total_cost']:,.2f} {cur}"
                      + (f" (not counting {without:,} recipients without an address)" if without else ""),
                      highlight=False)
    if r["longest"]:
        # One block per message, not a table: a text column squeezed beside three others wraps into noise at 80
        # columns (CJK text especially).
        out_console.print("longest messages", style="italic", highlight=False)
        for item in r["longest"]:
            text = " ".join(item["text"].split())
            text = text if len(text) <= 160 else text[:159] + "…"
            parts = f" · {item['parts']} part{'' if item['parts'] == 1 else 's'}" if r["channel"] == "sms" else ""
            out_console.print(f"  {item['external_id']} · {item['units']} units{parts}", highlight=False,
                              markup=False)
            out_console.print(f"    {text}", highlight=False, markup=False, soft_wrap=False)


# ---------------------------------------------------------------------------------------------------------
# preview


def preview(
    ctx: typer.Context,
    template: Annotated[str, typer.Argument(help="Template name.")],
    user: Annotated[str, typer.Option("--user", "--as", help="The user's external id (preview as them).")],
    offer: Annotated[str | None, typer.Option("--offer", help="Offer (default: the user's layer's offer).")] = None,
    unmask: Annotated[bool, typer.Option("--unmask", help="Show the user's real name and address (audited).")
                      ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Render a template for one real user: the message, length, parts, cost, segments, warnings.

    The user's name and address are masked unless --unmask; length, parts and cost are the real message's.
    Example: `winback preview offer-sms-zh --user U0000005 --offer back20`
    """
    from console import audit, messages

    ws = workspace_from(ctx)
    db = ws.open()
    msg, info = messages.preview(db, ws.config, template, user, offer=offer)
    if unmask:
        audit.record(db, "template.preview.unmask", template=info["template"], user=msg.external_id)
    else:
        msg = msg.masked()
    # the providers' content rules that `campaign plan` and a real launch hold the template to (as lint shows them)
    from rich.markup import escape

    from console import content_rules, templates

    rules = content_rules.template_warnings(ws.config, templates.get(db, info["template"]))
    if as_json:
        data = msg.as_dict()
        data.update(info)
        print_json({**data, "content_warnings": [w.as_dict() for w in rules]})
    else:
        _print_preview(msg, info)
        if rules:
            say(f"{len(rules)} content warning{'s' if len(rules) != 1 else ''} (the providers' rules for marketing "
                "SMS; a real launch needs --accept-warnings):")
        for w in rules:
            say(f"[yellow]content warning:[/] {escape(str(w))}")
    if msg.error:
        raise typer.Exit(1)


def _print_preview(msg: Any, info: PreviewFacts) -> None:
    from rich.markup import escape

    head = f"{info['template']} v{info['version']} ({info['channel']}) for {msg.external_id}"
    if msg.to:
        head += f" · to {msg.to}"
    if info.get("segments"):
        head += f" · segments: {', '.join(info['segments'])}"
    say(escape(head))
    if msg.error:
        say(f"[bold red]cannot render:[/] {escape(f'{msg.error_kind}: {msg.error}')}")
        return
    if msg.subject:
        out_console.print(f"Subject: {msg.subject}", markup=False, highlight=False)
    if msg.preheader:
        out_console.print(f"Preheader: {msg.preheader}", markup=False, highlight=False)
    if msg.title:
        out_console.print(f"Title: {msg.title}", markup=False, highlight=False)
    if msg.subject or msg.title:
        out_console.print("")
    out_console.print(msg.text, markup=False, highlight=False)
    if msg.link:
        out_console.print(f"Link: {msg.link}", markup=False, highlight=False)
    for k, v in msg.fields.items():
        # a dict (template_params) as the JSON the provider gets, not Python's repr
        shown = json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
        out_console.print(f"{k}: {shown}", markup=False, highlight=False)
    if msg.html:
        say(f"(HTML part: {len(msg.html):,} characters)")
    if msg.channel in ("call", "gift"):   # a row of a list, not a message: its fields (and a call's script)
        n = len(msg.fields)
        facts = [f"{msg.channel} list row: {n} field{'s' if n != 1 else ''}"]
        facts += [f"script {msg.units} characters"] if msg.text else []
    else:
        facts = [f"{msg.units} {'characters' if msg.encoding in (None, 'cn') else msg.encoding + ' units'}"]
    if msg.channel == "sms":
        facts.append(f"{msg.parts} part{'s' if msg.parts != 1 else ''} ({info.get('mode')} mode)")
    if msg.cost or msg.channel not in ("call", "gift"):
        facts.append(f"cost {msg.cost:.4g} {info['currency']}")
    if msg.coupon_code:
        facts.append(f"coupon {msg.coupon_code} ({msg.offer})")
    elif msg.offer:
        facts.append(f"offer {msg.offer}")
    say(escape(" · ".join(facts)))
    if msg.copy_reason:   # PIPL Art. 24: the version this person gets, and why
        say(escape(f"copy: {msg.copy} — {msg.copy_reason}"))
    for w in msg.warnings:
        say(f"[yellow]warning:[/] {escape(str(w))}")
