"""Approved SMS templates (mainland China): the provider renders the text, winback sends a code and parameters.

In China an SMS is not free text: the operator registers a signature and each template in the provider's console
(DOMAIN.md "Providers"), and a send names the approved template code and the value of each placeholder. A
winback template for such a channel says so in its TOML:

    name = "care_points"
    channel = "sms"
    provider = "aliyun"                      # or "tencent"
    provider_template = "SMS_123456789"      # the code the provider's console shows (Tencent: the template ID)
    approved_text = "尊敬的会员${name}，您有${points}积分将于月底到期。拒收请回复R"   # exactly as approved
    [params]                                 # one sandboxed Jinja expression per placeholder
    name = "user.first_name"
    points = "profile.orders"

Placeholders are `${name}` for Aliyun and `{1}`, `{2}` … for Tencent. A parameter is an expression
(`user.first_name`) or a small template (`{{ offer.amount | money }}元`); both are checked and rendered by
console/templates.py like any template part (as part `params.<placeholder>`). The template's body — what
preview, length, parts, cost and lint work on — is the approved text with each placeholder replaced by its
parameter, i.e. the text the provider will render; the signature 【sign_name】 of the channel goes in front and no
opt-out text is added (the approved text carries its own).

A mapping that leaves a placeholder unfilled, or fills one the text does not have, is refused (BadInput, exit 2,
naming the placeholder). Transports read the rendered parameters from `Message.fields`: see FIELD_* below.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from console.errors import BadInput

PROVIDERS = ("aliyun", "tencent")
KEYS = ("provider", "provider_template", "approved_text", "params")
PLACEHOLDER = {
    "aliyun": re.compile(r"\$\{([A-Za-z0-9_]+)\}"),
    "tencent": re.compile(r"\{([0-9]+)\}"),
}
SHOWN = {"aliyun": "${{{}}}", "tencent": "{{{}}}"}   # how a placeholder is written, for messages
# What a rendered message carries for the transport (Message.fields, copied from RenderedMessage.fields).
FIELD_PROVIDER = "provider"
FIELD_TEMPLATE = "provider_template"
FIELD_PARAMS = "template_params"
_JINJA = re.compile(r"\{[{%#]")


@dataclass
class Approved:
    provider: str
    code: str
    text: str
    params: dict[str, str] = field(default_factory=dict)   # placeholder → Jinja source of its value

    def placeholders(self) -> list[str]:
        """The placeholders of the approved text, in order of first appearance."""
        return list(dict.fromkeys(PLACEHOLDER[self.provider].findall(self.text)))

    def shown(self, name: str) -> str:
        return SHOWN[self.provider].format(name)

    def fragment(self, name: str) -> str:
        """The Jinja source of one parameter: an expression is wrapped in {{ }}, a template kept as it is."""
        value = self.params[name].strip()
        return value if _JINJA.search(value) else "{{ " + value + " }}"

    def body(self) -> str:
        """The approved text as a Jinja template: placeholders replaced by their parameters, the rest literal."""
        out: list[str] = []
        last = 0
        for match in PLACEHOLDER[self.provider].finditer(self.text):
            out.append(_literal(self.text[last:match.start()]))
            out.append(self.fragment(match.group(1)))
            last = match.end()
        out.append(_literal(self.text[last:]))
        return "".join(out)

    def sources(self) -> dict[str, str]:
        """Template parts to render for the transport: `params.<placeholder>` → Jinja source."""
        return {f"params.{name}": self.fragment(name) for name in self.placeholders()}


def _literal(text: str) -> str:
    """Literal approved text inside a Jinja template (it may contain braces Jinja would read)."""
    if not _JINJA.search(text):
        return text
    return "{% raw %}" + text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}") + "{% endraw %}"


def is_approved(data: dict[str, Any]) -> bool:
    return any(key in data for key in KEYS)


def parse(data: dict[str, Any], origin: str) -> Approved:
    """The approved-template part of a template's TOML, checked (BadInput names the key or placeholder)."""
    provider = data.get("provider")
    if provider not in PROVIDERS:
        raise BadInput(f"{origin}: provider = {provider!r}; an approved SMS template names its provider: "
                       f"{' or '.join(PROVIDERS)}")
    if data.get("channel") != "sms":
        raise BadInput(f"{origin}: provider_template is for SMS templates (channel = \"sms\")")
    for key in ("provider_template", "approved_text"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise BadInput(f"{origin}: an approved {provider} template needs {key} = \"…\" (as the provider's "
                           "console shows it)")
    if data.get("body"):
        raise BadInput(f"{origin}: an approved template has no body: the provider renders approved_text "
                       "(give each placeholder's value under [params])")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise BadInput(f"{origin}: [params] maps each placeholder to a template expression, e.g. "
                       "name = \"user.first_name\"")
    approved = Approved(provider, data["provider_template"].strip(), data["approved_text"],
                        {str(k): v for k, v in params.items()})
    found = approved.placeholders()   # none is fine: Aliyun allows no variables in promotional templates
    missing = [p for p in found if p not in approved.params]
    if missing:
        raise BadInput(f"{origin}: placeholder {approved.shown(missing[0])} of approved_text is not filled: add "
                       f"{_toml_key(missing[0])} = \"…\" under [params]")
    extra = [p for p in approved.params if p not in found]
    if extra:
        raise BadInput(f"{origin}: [params] fills {approved.shown(extra[0])}, which approved_text does not have "
                       f"(it has {', '.join(approved.shown(p) for p in found) or 'none'})")
    empty = [p for p in found if not approved.params[p].strip()]
    if empty:
        raise BadInput(f"{origin}: [params] {_toml_key(empty[0])} is empty: give the expression that fills "
                       f"{approved.shown(empty[0])}")
    return approved


def from_source(source: str | None) -> Approved | None:
    """The approved part of a saved template's TOML source (None for an ordinary template)."""
    if not source or "provider_template" not in source:
        return None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError:
        return None
    if not is_approved(data):
        return None
    return parse(data, "saved template")


def _toml_key(name: str) -> str:
    return f'"{name}"' if name.isdigit() else name
