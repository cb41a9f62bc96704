"""Which template variables are personalised — chosen for the person by analysing their behaviour — and a
template's non-personalised fallback (PIPL Art. 24; DOMAIN.md "Regulation").

Art. 24 is about decisions made by automatically analysing a person's behaviour, habits and interests. A value
that *is* a recorded fact about the person, shown back to them, decides nothing: their name, region, last order,
last item, order count, spend, days since their last visit. A value winback *infers or picks* for them from
their behaviour is a decision: the items recommended to them (best sellers of the category they buy most, items
bought by people who bought what they bought), the category it takes as their interest, the behaviour layer it
puts them in — and, outside the template, an offer chosen by that layer (console/messages.py). Those are
:data:`PERSONALISED`. A person who refused personalised marketing receives the template's ``[fallback]`` (which may
not read them), or else the template with them replaced by values the same for everyone (console/personalised_copy.py).

The fallback is a TOML table in the template file:

    body = "{{ user.name }}，您可能喜欢：{{ recommendations.also_bought | join('、') }}"
    [fallback]
    body = "{{ user.name }}，好久不见，本周热卖等您来看。"
    offer = "back10"      # optional: the offer they get when the campaign gives offers by layer

Any part it leaves out is the template's own (it must then read nothing personalised either).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError, nodes

from console.errors import BadInput
from console.templates.allowed import PARTS, VARIABLES
from console.templates.sandbox import Locale, environment

# Variable → what winback inferred or picked for the person (said to the operator in lint, preview and why).
PERSONALISED: dict[str, str] = {
    "recommendations.best_sellers": "items picked from the category they buy most",
    "recommendations.also_bought": "items picked from what buyers of their last purchase bought",
    "recommendations.top_category": "the category winback takes as their interest",
    "profile.top_category": "the category winback takes as their interest",
    "profile.layer": "the behaviour layer winback puts them in",
}
FALLBACK_KEY = "fallback"
FALLBACK_EXTRA = ("fields", "offer")


@dataclass
class Fallback:
    """A template's non-personalised version: parts replacing the template's, and an offer for by-layer
    campaigns (None: such a campaign gives them no offer)."""

    parts: dict[str, str] = field(default_factory=dict)
    fields: list[str] | None = None
    offer: str | None = None


def variable_path(node: nodes.Node) -> list[str] | None:
    """['user', 'name'] for user.name / user['name']; None if the expression is not a plain variable path."""
    if isinstance(node, nodes.Name):
        return [node.name]
    if isinstance(node, nodes.Getattr):
        base = variable_path(node.node)
        return None if base is None else [*base, node.attr]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        base = variable_path(node.node)
        return None if base is None else [*base, node.arg.value]
    return None


def _reads(node: nodes.Node, found: set[str]) -> None:
    """The longest variable paths an expression tree reads (recommendations.best_sellers, not recommendations)."""
    path = variable_path(node) if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem) else None
    if path is not None:
        if path[0] in VARIABLES:
            found.add(".".join(path))
        return
    if isinstance(node, nodes.Getitem):   # items[0]: what is indexed is read whole
        _reads(node.node, found)
        _reads(node.arg, found)
        return
    for child in node.iter_child_nodes():
        _reads(child, found)


def personalised_in(paths: set[str]) -> list[str]:
    """The personalised variables among *paths* read: reading `recommendations` whole reads all of its own."""
    hits = set()
    for path in paths:
        for variable in PERSONALISED:
            if variable == path or variable.startswith(path + ".") or path.startswith(variable + "."):
                hits.add(variable)
    return sorted(hits)


def personalised_reads(sources: dict[str, str], loc: Locale = Locale()) -> list[str]:
    """The personalised variables the parts *sources* read (parts that do not parse are left to the checks)."""
    found: set[str] = set()
    for part, source in sources.items():
        try:
            ast = environment(loc, html=(part == "html")).parse(source)
        except (TemplateError, RecursionError):
            continue
        _reads(ast, found)
    return personalised_in(found)


def parse(data: dict[str, Any], channel: str, origin: str) -> Fallback | None:
    """The `[fallback]` table of a template's TOML (None when it has none); BadInput names what is wrong."""
    table = data.get(FALLBACK_KEY)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise BadInput(f"{origin}: fallback must be a table: [fallback] with body = \"...\" (the non-personalised "
                       "version)")
    allowed = (*PARTS[channel], *FALLBACK_EXTRA)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise BadInput(f"{origin}: [fallback] has no {unknown[0]!r}; a {channel} fallback has: {', '.join(allowed)}")
    for key in (*PARTS[channel], "offer"):
        if key in table and not isinstance(table[key], str):
            raise BadInput(f"{origin}: [fallback] {key} must be a string")
    fields = table.get("fields")
    if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        raise BadInput(f"{origin}: [fallback] fields must be a list of variable names")
    parts = {k: table[k] for k in PARTS[channel] if table.get(k)}
    return Fallback(parts=parts, fields=fields, offer=table.get("offer") or None)


def from_source(source: str | None, channel: str) -> Fallback | None:
    """The fallback of a saved template's TOML source (None for a template without one)."""
    if not source or FALLBACK_KEY not in source:
        return None
    try:
        return parse(tomllib.loads(source), channel, "saved template")
    except (tomllib.TOMLDecodeError, BadInput):
        return None


def to_toml_lines(fb: Fallback) -> list[str]:
    """The `[fallback]` table as TOML lines (for a template built in code, without a source)."""
    import json

    lines = ["", f"[{FALLBACK_KEY}]"]
    for key, text in fb.parts.items():
        lines.append(f"{key} = {json.dumps(text, ensure_ascii=False)}")
    if fb.fields is not None:
        lines.append(f"fields = {json.dumps(fb.fields, ensure_ascii=False)}")
    if fb.offer:
        lines.append(f"offer = {json.dumps(fb.offer, ensure_ascii=False)}")
    return lines
