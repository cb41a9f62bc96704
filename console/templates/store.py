"""Templates in the database: save (a new version per save of changed text, audited), get, list, variants of a group, and
whether templates are approved at a channel's provider.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict, cast

import sqlite_utils

from console import approved_templates, audit
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput, NotFound
from console.templates import personal
from console.templates.checks import check
from console.templates.files import Template, article, to_toml
from storage.tx import immediate

_COLUMNS = ("id", "name", "channel", "group_name", "variant", "style", "language", "description", "subject",
            "preheader", "body", "html", "title", "link", "fields", "version")


def _from_row(row: dict[str, Any], source: str | None = None) -> Template:
    return Template(
        id=row["id"], name=row["name"], channel=row["channel"], group=row["group_name"], variant=row["variant"],
        style=row["style"], language=row["language"], description=row["description"], subject=row["subject"],
        preheader=row["preheader"], body=row["body"] or "", html=row["html"], title=row["title"],
        link=row["link"], fields=json.loads(row["fields"]) if row["fields"] else [], version=row["version"],
        source=source, approved=approved_templates.from_source(source),
        fallback=personal.from_source(source, row["channel"]),
    )


class SavedTemplate(TypedDict):
    name: str
    channel: str
    version: int
    id: int | None
    unchanged: bool            # the same text as its latest version: no new version was made


def save(db: sqlite_utils.Database, template: Template, config: Config | None = None) -> Template:
    """Check and save a template; saving an existing name with changed text makes a new version (the same text as
    its latest version makes none: `save_one` says which). BadInput lists every problem."""
    save_one(db, template, config)
    return template


def save_one(db: sqlite_utils.Database, template: Template, config: Config | None = None) -> SavedTemplate:
    """`save`, saying whether a version was made: a template whose text is its latest version's (the same file
    added again, the editor saved untouched) keeps that version — no new version row, no audit entry."""
    problems = check(template, config)
    if problems:
        raise BadInput(f"template {template.name!r} not saved:\n  " + "\n  ".join(str(p) for p in problems))
    now = now_ts()
    operator = audit.current_operator()
    source = to_toml(template)
    values = {
        "channel": template.channel, "group_name": template.group, "variant": template.variant,
        "style": template.style, "language": template.language, "description": template.description,
        "subject": template.subject, "preheader": template.preheader, "body": template.body or "",
        "html": template.html, "title": template.title, "link": template.link,
        "fields": json.dumps(template.fields, ensure_ascii=False) if template.fields else None,
    }
    unchanged = False
    with immediate(db):
        row = db.execute("SELECT t.id, t.version, t.channel, v.source FROM templates t LEFT JOIN template_versions v "
                         "ON v.template_id = t.id AND v.version = t.version WHERE t.name = ?",
                         [template.name]).fetchone()
        if row and row[3] is not None and _same_text(row[3], source):
            template_id, version, unchanged = row[0], row[1], True
        elif row:
            template_id, version = row[0], row[1] + 1
            if row[2] != template.channel:
                raise BadInput(f"template {template.name!r} is {article(row[2])} {row[2]} template; "
                               f"save {article(template.channel)} {template.channel} one under another name")
            sets = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE templates SET {sets}, version = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                       [*values.values(), version, now, operator, template_id])
        else:
            version = 1
            cols = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cur = db.execute(
                f"INSERT INTO templates (name, {cols}, version, created_at, updated_at, updated_by) "
                f"VALUES (?, {marks}, 1, ?, ?, ?)", [template.name, *values.values(), now, now, operator])
            template_id = cur.lastrowid
        if not unchanged:
            db.execute("INSERT INTO template_versions (template_id, version, source, saved_at, saved_by) "
                       "VALUES (?, ?, ?, ?, ?)", [template_id, version, source, now, operator])
            audit.record(db, "template.save", template=template.name, channel=template.channel, version=version)
    template.id, template.version, template.source = template_id, version, source
    return {"name": template.name, "channel": template.channel, "version": version, "id": template_id,
            "unchanged": unchanged}


def _same_text(saved: str, new: str) -> bool:
    """The same template text, but for line endings and trailing blank space at its end (an editor's or a
    checkout's doing, not the operator's). A changed comment or spacing inside is a change: a new version."""
    def norm(text: str) -> str:
        return text.replace("\r\n", "\n").rstrip()
    return norm(saved) == norm(new)


def save_all(db: sqlite_utils.Database, parsed: list[Template], config: Config | None = None) -> list[SavedTemplate]:
    """Save several templates in one write transaction (`winback templates import`, `templates add`): all or none.
    One row per template: name, channel, version, id, and whether it was unchanged (no new version)."""
    with immediate(db):
        return [save_one(db, t, config) for t in parsed]


def get(db: sqlite_utils.Database, name: str) -> Template:
    """The template called *name* (NotFound otherwise)."""
    rows = list(db.query(f"SELECT {', '.join(_COLUMNS)} FROM templates WHERE name = ?", [name]))
    if not rows:
        import difflib

        names = [r["name"] for r in db.query("SELECT name FROM templates ORDER BY name")]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        if close:
            hint = f"; did you mean {' or '.join(close)}? (`winback templates list` has them all)"
        elif names:
            hint = (f"; known: {', '.join(names[:12])}" + (f" and {len(names) - 12} more (`winback templates list`)"
                                                          if len(names) > 12 else ""))
        else:
            hint = "; add one with `winback templates add FILE`"
        raise NotFound(f"no template named {name!r}{hint}")
    return _with_source(db, rows[0])


def get_by_id(db: sqlite_utils.Database, template_id: int) -> Template:
    rows = list(db.query(f"SELECT {', '.join(_COLUMNS)} FROM templates WHERE id = ?", [template_id]))
    if not rows:
        raise NotFound(f"no template with id {template_id}")
    return _with_source(db, rows[0])


def _with_source(db: sqlite_utils.Database, row: dict[str, Any]) -> Template:
    src = db.execute("SELECT source FROM template_versions WHERE template_id = ? AND version = ?",
                     [row["id"], row["version"]]).fetchone()
    return _from_row(row, src[0] if src else None)


def variants(db: sqlite_utils.Database, group: str) -> list[Template]:
    """The A/B variants of one message (templates sharing *group*), by variant label."""
    rows = db.query(f"SELECT {', '.join(_COLUMNS)} FROM templates WHERE group_name = ? "
                    "ORDER BY variant, name", [group])
    return [_from_row(r) for r in rows]


class TemplateRow(TypedDict):
    """One template in `list_templates`."""

    id: int
    name: str
    channel: str
    group: str | None
    variant: str | None
    style: str | None
    language: str | None
    version: int
    updated_at: int
    preview: str | None        # the first 40 characters of its subject, title or body


def list_templates(db: sqlite_utils.Database, channel: str | None = None) -> list[TemplateRow]:
    """One row per template for `winback templates list`."""
    sql = ("SELECT id, name, channel, group_name AS \"group\", variant, style, language, version, updated_at, "
           "substr(coalesce(subject, title, body), 1, 40) AS preview FROM templates")
    params: list[Any] = []
    if channel:
        sql += " WHERE channel = ?"
        params.append(channel)
    return cast(list[TemplateRow], list(db.query(sql + " ORDER BY coalesce(group_name, name), variant, name", params)))


def approved_providers(db: sqlite_utils.Database) -> dict[str, str]:
    """{SMS template name: the provider it is approved at} for every approved SMS template, in one query (the
    creation flow's list: an aliyun/tencent channel sends only these)."""
    rows = db.execute("SELECT t.name, v.source FROM templates t JOIN template_versions v"
                      " ON v.template_id = t.id AND v.version = t.version WHERE t.channel = 'sms'").fetchall()
    return {name: found.provider for name, source in rows
            if (found := approved_templates.from_source(source)) is not None}


def approval_problems(db: sqlite_utils.Database, template_names: list[str], transport: str, channel: str) -> list[str]:
    """Why a real launch of these templates on a channel with this transport would fail every message: a provider
    transport sends only templates approved at that provider (checked before anything is written)."""
    if transport not in approved_templates.PROVIDERS:
        return []
    problems = []
    for name in dict.fromkeys(template_names):
        try:
            template = get(db, name)
        except NotFound:
            continue   # reported elsewhere
        if template.approved is None:
            problems.append(f"template {name!r} is not an approved {transport} template, and channel {channel} "
                            f"sends through {transport}, which sends only approved templates: give it "
                            "provider_template, approved_text and [params] (see docs/channels.md)")
        elif template.approved.provider != transport:
            problems.append(f"template {name!r} is approved at {template.approved.provider}, but channel {channel} "
                            f"sends through {transport}")
    return problems
