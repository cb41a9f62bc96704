"""Templates and the TOML files they are written in: the Template, a Problem found in one, parsing and writing
the TOML, and the sources of each part.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace

from console import approved_templates
from console.channel_names import CHANNELS
from console.errors import BadInput
from console.templates import personal
from console.templates.allowed import ALL_KEYS, MAX_SOURCE, PARTS, REQUIRED


@dataclass
class Template:
    name: str
    channel: str
    body: str = ""
    subject: str | None = None
    preheader: str | None = None
    html: str | None = None
    title: str | None = None
    link: str | None = None
    fields: list[str] = field(default_factory=list)
    group: str | None = None
    variant: str | None = None
    style: str | None = None
    language: str | None = None
    description: str | None = None
    version: int = 0
    id: int | None = None
    source: str | None = None   # the TOML it was read from
    # An approved SMS template (provider renders the text; console/approved_templates.py), else None.
    approved: approved_templates.Approved | None = None
    # The non-personalised version a person who refused personalised marketing receives (console/templates/
    # personal.py), else None.
    fallback: personal.Fallback | None = None

    def parts(self) -> dict[str, str]:
        """The text parts this template renders, by name (only those it has)."""
        out = {}
        for part in PARTS[self.channel]:
            value = getattr(self, part)
            if value:
                out[part] = value
        return out


@dataclass
class Problem:
    part: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.part
        if self.line is not None:
            where += f" line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
        return f"{where}: {self.message}"


def parse_toml(text: str, origin: str = "template") -> Template:
    """Read one template from its TOML text; BadInput names the file and what is wrong."""
    if len(text) > MAX_SOURCE:
        raise BadInput(f"{origin}: {len(text):,} characters; a template file is at most {MAX_SOURCE:,}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        from console.config_lines import syntax_hint

        hint = syntax_hint(text, str(exc))   # “ typed for " by a Chinese input method: say which and what to write
        raise BadInput(f"{origin}: not valid TOML: {exc}" + (f": {hint}" if hint else "")) from exc
    unknown = sorted(set(data) - set(ALL_KEYS) - set(approved_templates.KEYS) - {personal.FALLBACK_KEY})
    if unknown:
        raise BadInput(f"{origin}: unknown key {unknown[0]!r}; a template has: {', '.join(ALL_KEYS)}")
    for key in ALL_KEYS:
        if key in data and key != "fields" and not isinstance(data[key], str):
            raise BadInput(f"{origin}: {key} must be a string")
    name = data.get("name") or data.get("group")
    if not name:
        raise BadInput(f"{origin}: a template needs name = \"...\"")
    approved = approved_templates.parse(data, origin) if approved_templates.is_approved(data) else None
    if approved is not None:
        data["body"] = approved.body()   # the text the provider renders, as a template (see approved_templates)
    channel = data.get("channel", "")
    if channel not in CHANNELS:
        raise BadInput(f"{origin}: channel = {channel!r}; choose one of {', '.join(CHANNELS)}")
    extra = [k for k in ("subject", "preheader", "html", "title", "link") if k in data and k not in PARTS[channel]]
    if extra:
        raise BadInput(f"{origin}: a {channel} template has no {extra[0]!r} (it has: {', '.join(PARTS[channel])})")
    fields = data.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadInput(f"{origin}: fields must be a list of variable names, e.g. [\"user.name\", \"offer.code\"]")
    for key in REQUIRED[channel]:
        if not data.get(key):
            # fields is a list (checked above): a string there is refused next
            value = '["user.name", …] (the columns of the list, after the standard ones)' if key == "fields" \
                else '"..."'
            raise BadInput(f"{origin}: {article(channel)} {channel} template needs {key} = {value}")
    fallback = personal.parse(data, channel, origin)
    if fallback is not None and approved is not None:
        raise BadInput(f"{origin}: an approved template cannot have a [fallback] (the provider approved one text); "
                       "register a non-personalised template and use it for those who refused personalisation")
    return Template(
        name=name, channel=channel, body=data.get("body", ""), subject=data.get("subject"),
        preheader=data.get("preheader"), html=data.get("html"), title=data.get("title"), link=data.get("link"),
        fields=fields, group=data.get("group"), variant=data.get("variant"), style=data.get("style"),
        language=data.get("language"), description=data.get("description"), source=text, approved=approved,
        fallback=fallback,
    )


def to_toml(t: Template) -> str:
    """The TOML text of a template (its saved source when it has one)."""
    if t.source:
        return t.source
    lines = []
    for key in ALL_KEYS:
        value = t.fields if key == "fields" else getattr(t, key, None)
        if value:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    if t.fallback is not None:
        lines.extend(personal.to_toml_lines(t.fallback))
    return "\n".join(lines) + "\n"


def part_sources(template: Template) -> dict[str, str]:
    """Every part to check and render: the template's parts, each field as an expression, and an approved
    template's parameters."""
    sources = dict(template.parts())
    for i, f in enumerate(template.fields):
        sources[f"fields[{i}]"] = "{{ " + f + " }}"
    if template.approved is not None:
        sources.update(template.approved.sources())   # params.<placeholder>: each value the provider gets
    return sources


def article(channel: str) -> str:
    """The article as channel names are read aloud: an SMS, an email, a push, a call, a gift."""
    return "an" if channel in ("sms", "email") else "a"


def fallback_version(template: Template) -> Template:
    """The template as a person who refused personalised marketing receives it (console/templates/personal.py):
    its `[fallback]`'s parts and fields in place of its own (the template itself when it has no fallback)."""
    fb = template.fallback
    if fb is None:
        return template
    version = replace(template, fallback=None, fields=template.fields if fb.fields is None else fb.fields)
    for part, text in fb.parts.items():   # only PARTS' names (personal.parse): body, subject, html, title …
        setattr(version, part, text)
    return version
