"""The Messages screen's data and actions (console.templates, preview, lint)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict, final

import sqlite_utils

from console.config import Config

if TYPE_CHECKING:
    from console.messages import LintReport, PreviewFacts
    from console.rendered import MessageDict
    from console.templates.store import TemplateRow


def template_list(db: sqlite_utils.Database) -> list[TemplateRow]:
    from console import templates

    return templates.list_templates(db)


def template_source(db: sqlite_utils.Database, name: str) -> str:
    """The TOML text of a saved template, as `winback templates show` would print it."""
    from console import templates

    return templates.to_toml(templates.get(db, name))


def check_template_text(db: sqlite_utils.Database, config: Config, text: str) -> list[str]:
    """Problems with a template's TOML text as typed (parse errors and save-time checks), [] when it would save."""
    from console import templates
    from console.errors import BadInput

    try:
        template = templates.parse_toml(text, origin="editor")
    except BadInput as exc:
        return [str(exc)]
    return [str(p) for p in templates.check(template, config)]


class TemplateVersion(TypedDict):
    name: str
    version: int
    unchanged: bool            # the same text as the latest version: no new version made


def save_template_text(db: sqlite_utils.Database, config: Config, text: str) -> TemplateVersion:
    """Save the editor's text as `winback templates add FILE` would (a new version when the name exists and the
    text changed)."""
    from console import templates

    saved = templates.save_one(db, templates.parse_toml(text, origin="editor"), config)
    return {"name": saved["name"], "version": saved["version"], "unchanged": saved["unchanged"]}


def segment_member(db: sqlite_utils.Database, segment: str, index: int) -> tuple[str | None, int]:
    """The external id of the segment's member number `index` (0-based, in id order; wraps) and the member count.

    `segment` is a saved segment's name or rule text; `all` is everyone.
    """
    from console import segments

    total = segments.count(db, segment)
    if not total:
        return None, 0
    rows = segments.members(db, segment, page=index % total + 1, page_size=1)
    return rows[0]["user"], total


@final   # final: `"empty" in result` tells the two apart for mypy
class NoPreview(TypedDict):   # preview_text: nobody to render for
    empty: str


if TYPE_CHECKING:
    @final
    class MessagePreview(MessageDict, PreviewFacts):   # preview_text: the masked message and its facts
        member: tuple[int, int] | None   # (number, of) in the segment; None for a user named by id
        segment: str
        content_warnings: list[dict[str, str]]   # console.content_rules: what a real launch holds it to


def preview_text(db: sqlite_utils.Database, config: Config, text: str, *, segment: str | None = None,
                 user: str | None = None, offer: str | None = None, index: int = 0) -> MessagePreview | NoPreview:
    """Render the editor's text for one real user — the same function as `winback preview` — with facts.

    The user is `user` (an external id) or else member number `index` of `segment`, else the first user.
    """
    from console import content_rules, messages, templates

    template = templates.parse_toml(text, origin="editor")
    total = None
    if not user:
        user, total = segment_member(db, segment or "all", index)
        if user is None:
            return {"empty": f"segment {segment or 'all'!r} has no members"}
    msg, info = messages.preview(db, config, template, user, offer=offer)
    # On screen the recipient's name and address are masked wherever they appear (PRODUCT.md, PIPL Art. 51).
    return {**msg.masked().as_dict(), **info,   # info's channel replaces the message's, in its place
            "member": None if total is None else (index % total + 1, total), "segment": segment or "all",
            "content_warnings": [w.as_dict() for w in content_rules.template_warnings(config, template)]}


def lint_template(db: sqlite_utils.Database, config: Config, name: str, segment: str,
                  offer: str | None = None) -> LintReport:
    """`winback templates lint NAME --segment S`: render for every member and report what to fix."""
    from console import messages
    from console.campaigns.integrations import segment_members_sql

    sql, params = segment_members_sql(db, segment)
    report = messages.lint(db, config, name, sql, params, offer=offer)
    report["segment"] = segment
    return report
