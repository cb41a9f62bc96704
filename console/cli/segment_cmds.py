"""`winback segments ...`: saved rules over users and their profiles, and their members. `winback refresh` and
`winback why USER` are console/cli/profile_cmds.py (registered here, with the segments)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from
from console.cli.profile_cmds import local_day, refresh, why
from console.config import Config

segments_app = typer.Typer(help="Segments: saved rules over users and their profiles, and their members.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.command("refresh")(refresh)
    app.add_typer(segments_app, name="segments")
    app.command("why")(why)


# ---- segments ------------------------------------------------------------------------------------------------

@segments_app.command("list")
def segments_list(
    ctx: typer.Context,
    counts: Annotated[bool, typer.Option("--counts/--no-counts", help="Count each segment's members.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Saved segments with their rules (and member counts)."""
    from console import segments
    from console.errors import BadInput

    db = workspace_from(ctx).open()
    try:
        rows = []
        for seg in segments.list_segments(db):
            row: dict[str, Any] = {"name": seg.name, "rule": seg.rule_text}
            if counts:
                try:
                    row["users"] = segments.count(db, seg)
                except BadInput as exc:
                    # One unusable saved rule (saved by an older winback, or edited by hand) must not hide
                    # every other segment: list it, say what is wrong and how to mend it.
                    from rich.markup import escape

                    row["users"] = None
                    row["problem"] = str(exc)
                    say(escape(str(exc)))
            row["preset"] = seg.preset
            row["description"] = seg.description
            rows.append(row)
    finally:
        db.close()
    if as_json or not rows:
        emit_rows(rows, as_json=as_json, empty="no segments yet: `winback segments create NAME --rule ...`")
        return
    # Names never wrap; rules fold rather than end in "…" (rich cut CJK rules such as "region in (华东, 华南…");
    # cells are escaped so a rule or description with [brackets] shows them.
    from rich.markup import escape
    from rich.table import Table

    from console.cli.output import print_table

    table = Table(show_edge=False, header_style="bold")
    table.add_column("name", no_wrap=True)
    table.add_column("rule", overflow="fold")
    if counts:
        table.add_column("users", justify="right", no_wrap=True)
    table.add_column("preset", no_wrap=True)
    table.add_column("description", overflow="fold")
    for r in rows:
        cells = [escape(r["name"]), escape(r["rule"])]
        if counts:
            cells.append("?" if r["users"] is None else f"{r['users']:,}")
        cells += ["yes" if r["preset"] else "", escape(r["description"] or "")]
        table.add_row(*cells)
    print_table(table)   # a pipe or file: every cell whole, no assumed 80 columns


@segments_app.command("create")
def segments_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the segment.")],
    rule: Annotated[str, typer.Option("--rule", help='e.g. "dormancy = dormant and orders >= 3 and region in '
                                                     '(华东, 华南)"; `winback segments fields` lists fields.')],
    description: Annotated[str | None, typer.Option("--description", help="What it is for.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Change the rule of an existing segment.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Save a segment; prints how many users it matches now.

    Example: `winback segments create vip-dormant --rule "dormancy = dormant and orders >= 3"`
    """
    from console import segments

    ws = workspace_from(ctx)
    _check_layer_values(rule, ws.config)
    db = ws.open()
    try:
        seg = segments.create(db, name, rule, description, replace=replace)
        n = segments.count(db, seg)
    finally:
        db.close()
    if as_json:
        print_json({**seg.as_dict(), "users": n})
        return
    say(f"segment {seg.name!r}: {segments.to_text(seg.rule)} — {n:,} user{'' if n == 1 else 's'} now")


def _check_layer_values(rule_text: str, config: Config) -> None:
    """`layer = "cold loyl"` would save a segment nobody can ever be in: the layer names are the workspace's nine
    (from [layers] in winback.toml), so a value that is none of them is refused with the closest one."""
    import difflib

    from console import layers
    from console.errors import BadInput
    from console.segments import rules

    names = layers.settings(config).layer_names()
    for cond in rules.conditions(rules.parse(rule_text)):
        if cond["field"] != "layer" or cond["op"] not in ("=", "!=", "in", "not in"):
            continue
        values = cond["value"] if isinstance(cond["value"], list) else [cond["value"]]
        for value in values:
            if isinstance(value, str) and value not in names:
                close = difflib.get_close_matches(value, names, n=1)
                hint = f'did you mean "{close[0]}"? ' if close else ""
                raise BadInput(f"rule: no layer {value!r}; {hint}layers are: {', '.join(names)}")


@segments_app.command("remove")
def segments_remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The segment.")]) -> None:
    """Delete a segment that no campaign uses."""
    from console import segments

    db = workspace_from(ctx).open()
    try:
        segments.remove(db, name)
    finally:
        db.close()
    say(f"removed segment {name!r}")


@segments_app.command("fields")
def segments_fields(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The fields a rule can use, with their type and meaning."""
    from console.segments import fields

    rows = [{"field": f.name, "type": f.kind if f.kind != "enum" else "one of " + ", ".join(f.values),
             "meaning": f.description} for f in fields.all_fields()]
    rows.append({"field": "attr.KEY", "type": "attribute", "meaning": "an extra column from the users import"})
    emit_rows(rows, as_json=as_json)


def _matrix_rows(matrix: dict[str, Any]) -> list[dict[str, str]]:
    """Table rows of a count matrix, each cell with its share of the total: where the users concentrate."""
    total = matrix["total"] or 1
    rows = []
    for label, counts in zip(matrix["rows"], matrix["counts"], strict=True):
        row = {"": str(label)}
        row.update({col: f"{n:,} ({100 * n / total:.0f}%)" for col, n in zip(matrix["cols"], counts, strict=True)})
        rows.append(row)
    return rows


@segments_app.command("show")
def segments_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The segment.")],
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="Profile breakdown against the whole base: gender, region, age_band, occupation, "
                     "access_channel, top_category, aov_band, last_action, last_object, dormancy, layer, grid. "
                     "Repeatable.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """A segment: its rule, size, dormancy, the layer matrix (where its users concentrate), the R×F grid."""
    from console import segments
    from console.profiles import last_refresh
    from console.segments import counts

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        seg = segments.get(db, name)
        data: dict[str, Any] = {
            "name": seg.name, "rule": segments.to_text(seg.rule), "description": seg.description,
            "users": segments.count(db, seg),
            "as_of": (last_refresh(db) or {}).get("as_of"),
            "dormancy": counts.funnel(db, seg),
            "layers": counts.layer_matrix(db, seg, config=ws.config),
            "grid": counts.grid_matrix(db, seg),
            "breakdowns": {dim: segments.breakdown(db, seg, dim, config=ws.config) for dim in (by or [])},
        }
    finally:
        db.close()
    if as_json:
        print_json(data)
        return
    as_of = local_day(data["as_of"], ws.config.timezone) if data["as_of"] else "never refreshed"
    typer.echo(f"{data['name']}: {data['rule']}")
    if data["description"]:
        typer.echo(data["description"])
    typer.echo(f"{data['users']:,} users · profiles as of {as_of}")
    emit_rows([{"dormancy": r["label"], "users": r["users"], "share": f"{100 * r['share']:.1f}%"}
               for r in data["dormancy"]], as_json=False)
    emit_rows(_matrix_rows(data["layers"]), as_json=False, title="layers: last seen × orders in 30 days",
              empty="no profiled users in this segment")
    emit_rows(_matrix_rows(data["grid"]), as_json=False, title="R×F grid", empty="no buyers in this segment")
    for dim, rows in data["breakdowns"].items():
        emit_rows([{dim: r["value"], "users": r["users"], "share": f"{100 * r['share']:.1f}%",
                    "base": f"{100 * r['base_share']:.1f}%", "index": r["index"]} for r in rows],
                  as_json=False, title=f"by {dim} (index 100 = as in the whole base)")


@segments_app.command("members")
def segments_members(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The segment.")],
    page: Annotated[int, typer.Option("--page", help="Page number, from 1.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", help="Members per page.")] = 50,
    order_by: Annotated[str, typer.Option(
        "--order-by", help="id | last_order | last_seen | spend | orders | p_alive | expected_value | "
        "expected_orders_90d | uplift. All but id put the highest (most recent) first; the scores (from `winback "
        "model score`, `winback uplift fit`) list users without a score last and add their columns.")] = "id",
    unmask: Annotated[bool, typer.Option("--unmask", help="Show full names, phones and emails (audited).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """One page of a segment's members, contact details masked unless --unmask."""
    from console import segments

    db = workspace_from(ctx).open()
    try:
        seg = segments.get(db, name)
        rows = segments.members(db, seg, page=page, page_size=page_size, order_by=order_by, unmask=unmask)
        total = segments.count(db, seg)
    finally:
        db.close()
    if as_json:
        print_json(rows)
        return
    pages = max(1, -(-total // page_size))
    if not rows:
        say(f"no members on page {page} ({total:,} users in {name!r})")
        return
    # The table keeps to what fits 80 columns; --json has every field (email, region, spend, grid, last seen).
    # Ids, phones and dates never wrap or get cut ("+8618150480…" is useless with --unmask); words wrap instead.
    from rich.markup import escape
    from rich.table import Table

    from console.cli.output import print_table

    sized = "; uplift calibrated on past holdouts" if order_by == "uplift" else ""   # console/uplift/calibration.py
    table = Table(title=escape(f"{name}: page {page} of {pages} ({total:,} users{sized})"), show_edge=False,
                  header_style="bold")
    scores = order_by in segments.SCORE_ORDERINGS
    # Sorted by a score: the three scores replace the layer (80 columns); "—" is a user without a score.
    columns = ["user", "name", "phone", "dormancy", "orders", "last_order"]
    if scores:
        columns += ["p_alive", "exp_orders", "exp_value"]
    else:
        columns.insert(4, "layer")
    if order_by == "uplift":
        columns.append("uplift")
    numeric = ("orders", "p_alive", "exp_orders", "exp_value", "uplift")
    for col in columns:
        table.add_column(col, justify="right" if col in numeric else "left",
                         no_wrap=col in ("user", "phone", "last_order", *numeric))

    def num(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    for r in rows:
        cells = {"user": escape(r["user"]), "name": escape(r["name"] or ""), "phone": escape(r["phone"] or ""),
                 "dormancy": (r["dormancy"] or "").replace("_", " "), "layer": r["layer"] or "",
                 "orders": f"{r['orders']:,}", "last_order": r["last_order"] or ""}
        if scores:
            cells.update(p_alive=num(r["p_alive"], ".3f"), exp_orders=num(r["expected_orders_90d"], ".2f"),
                         exp_value=num(r["expected_value"], ",.2f"))
        if order_by == "uplift":
            cells["uplift"] = "—" if r["uplift"] is None else f"{r['uplift'] * 100:+.1f} pp"
        table.add_row(*(cells[c] for c in columns))
    print_table(table)   # a pipe or file: every cell whole, no assumed 80 columns


@segments_app.command("export")
def segments_export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The segment.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout). "
                                                "Created readable by you only; replaced only when complete.")
                      ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | jsonl")] = "csv",
    unmask: Annotated[bool, typer.Option("--unmask", help="Full names, phones and emails (audited).")] = False,
) -> None:
    """Every member of a segment as CSV or JSON lines, masked unless --unmask.

    Example: `winback segments export dormant -o dormant.csv`
    """
    import os
    import tempfile

    from console import segments
    from console.errors import BadInput

    if fmt not in ("csv", "jsonl"):
        raise BadInput(f"--format {fmt!r}: csv or jsonl")
    if output is not None and (output.is_dir() or not output.resolve().parent.is_dir()):
        raise BadInput(f"--output {output}: " + ("is a folder" if output.is_dir() else "no such folder"))
    db = workspace_from(ctx).open()
    try:
        seg = segments.get(db, name)     # an unknown segment fails before any file is touched
        if output is None:
            n = _write_members(segments.export_rows(db, seg, unmask=unmask), sys.stdout, fmt)
        else:
            # Write beside the target and rename when done: a failure never leaves a half file or truncates
            # the previous export; mkstemp creates it 0600 (personal data, like the database).
            fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.resolve().parent)
            try:
                # A CSV file gets a BOM, as the import's rejects file: Excel on a Chinese Windows reads one
                # without it as GBK (mojibake). stdout and JSON lines, read by scripts, stay plain UTF-8.
                encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
                with os.fdopen(fd, "w", encoding=encoding, newline="") as out:
                    n = _write_members(segments.export_rows(db, seg, unmask=unmask), out, fmt)
                os.replace(tmp, output)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    finally:
        db.close()
    say(f"exported {n:,} members of {name!r}" + (f" to {output}" if output else ""))


def _write_members(rows: Any, out: Any, fmt: str) -> int:
    from console.spreadsheet import SafeDictWriter, safe_dict_writer

    n = 0
    writer: SafeDictWriter | None = None
    for row in rows:
        if fmt == "jsonl":
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            if writer is None:
                # Names and attributes come from imports: formulas stay text (console/spreadsheet.py).
                writer = safe_dict_writer(out, list(row))
                writer.writeheader()
            writer.writerow(row)
        n += 1
    return n


