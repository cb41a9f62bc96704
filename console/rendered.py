"""A rendered message (console/messages.py renders them): what one recipient would receive, or why not; its
masked twin for the screen; masking a person's name and address in any text; a render failure in the operator's
words (`classify`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypedDict, cast

from jinja2.exceptions import SecurityError, TemplateError, UndefinedError

from console.message_context import masked_context
from console.privacy import mask_address, mask_name, mask_phone
from console.sms_length import Warning_
from console.templates import Empty, RenderLimit


class WarningDict(TypedDict):
    code: str
    message: str


class EmptyDict(TypedDict):   # templates.Empty
    part: str
    expression: str
    snippet: str


class MessageDict(TypedDict):
    """RenderedMessage.as_dict: `winback preview --json` (with the preview's facts) and the console's preview."""
    user_id: int
    channel: str
    external_id: str | None
    to: str | None
    subject: str | None
    preheader: str | None
    title: str | None
    text: str
    content: str
    html: str | None
    link: str | None
    fields: dict[str, Any]
    units: int
    parts: int
    encoding: str | None
    cost: float
    warnings: list[WarningDict]
    coupon_code: str | None
    offer: str | None
    offer_expires: int | None
    error: str | None
    error_kind: str | None
    empties: list[EmptyDict]
    copy: str
    copy_reason: str | None


@dataclass
class RenderedMessage:
    """One recipient's message as it would be sent, or the reason it cannot be."""

    user_id: int
    channel: str
    external_id: str | None = None
    to: str | None = None              # phone (E.164), email or push token at render time
    subject: str | None = None
    preheader: str | None = None
    title: str | None = None
    text: str = ""                     # what the recipient reads (SMS: signature + content + opt-out)
    content: str = ""                  # the template's own text (SMS content without signature/opt-out)
    html: str | None = None
    link: str | None = None
    # call / gift list columns; an approved SMS template's code and parameters (console/approved_templates.py)
    fields: dict[str, Any] = field(default_factory=dict)
    units: int = 0                     # SMS characters / units; others: characters of text
    parts: int = 0                     # billed SMS parts; 1 for other channels
    encoding: str | None = None
    cost: float = 0.0
    warnings: list[str] = field(default_factory=list)
    coupon_code: str | None = None
    offer: str | None = None
    offer_expires: int | None = None   # end of the offer's last valid day for this send (epoch seconds)
    error: str | None = None           # why it cannot be rendered (the recipient is skipped: render_error)
    error_kind: str | None = None      # undefined | security | too_long | value | template | no_user
    empties: list[Empty] = field(default_factory=list)
    # Which version of the template (console/personalised_copy.py): "as written", or for a person who refused
    # personalised marketing "fallback" / "generic"; and why, when they refused.
    copy: str = "as written"
    copy_reason: str | None = None
    # The recipient's name as stored (for masking what is shown; never part of as_dict()).
    name: str | None = field(default=None, repr=False)
    # How to render this message again with masked values (renderer, row, context, offer): see masked().
    _source: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def address(self) -> str | None:
        return self.to

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> MessageDict:
        data = asdict(replace(self, _source=None))
        data.pop("name")
        data.pop("_source")
        data["warnings"] = [{"code": getattr(w, "code", "warning"), "message": str(w)} for w in self.warnings]
        data["empties"] = [asdict(e) for e in self.empties]
        return cast(MessageDict, data)   # the fields above but name and _source, in their order

    def mask(self, text: str | None) -> str | None:
        """*text* with this recipient's personal data (name, first name, address) masked: 王*, 138****5678."""
        return mask_personal(text, self.name, self.channel, self.to)

    def masked(self) -> RenderedMessage:
        """A copy for the screen: rendered again from the recipient's values with the name masked *before*
        rendering (so `|upper` or "亲爱的{{ user.first_name }}" cannot show it), the address masked; lengths,
        parts and cost stay those of the real message. Without a way to render again, the text is masked."""
        m = self.mask
        twin = self._masked_render()
        if twin is not None:
            empty_warnings = [w for w in twin.warnings if getattr(w, "code", "") == "empty_field"]
            return replace(
                twin, to=mask_address(self.channel, self.to) if self.to else self.to, units=self.units,
                parts=self.parts, encoding=self.encoding, cost=self.cost, coupon_code=self.coupon_code,
                offer=self.offer, offer_expires=self.offer_expires, _source=None,
                warnings=[Warning_(getattr(w, "code", "warning"), m(str(w)) or "") for w in self.warnings
                          if getattr(w, "code", "") != "empty_field"] + empty_warnings)
        return replace(
            self, to=mask_address(self.channel, self.to) if self.to else self.to, subject=m(self.subject),
            preheader=m(self.preheader), title=m(self.title), text=m(self.text) or "", content=m(self.content) or "",
            html=m(self.html), fields={k: _mask_value(m, v) for k, v in self.fields.items()},
            warnings=[Warning_(getattr(w, "code", "warning"), m(str(w)) or "") for w in self.warnings],
            empties=[replace(e, snippet=m(e.snippet) or "") for e in self.empties], _source=None)

    def _masked_render(self) -> RenderedMessage | None:
        if self._source is None or self.error is not None:
            return None
        renderer, row, context, offer = self._source
        twin = renderer.render_row(row, masked_context(context), offer, keep_source=False)
        return None if twin.error is not None else twin


def _mask_value(mask: Callable[[str | None], str | None], value: Any) -> Any:
    """A field value masked: text, or each value of a mapping (an approved template's parameters)."""
    if isinstance(value, dict):
        return {k: _mask_value(mask, v) for k, v in value.items()}
    return mask(value) or "" if isinstance(value, str) else value


def mask_personal(text: str | None, name: str | None, channel: str | None = None,
                  address: str | None = None) -> str | None:
    """Mask a person's name, first name and address wherever they appear in *text* (screens and reports show
    copy rendered for real people; PRODUCT.md: personal data is masked on screen by default)."""
    if not text:
        return text
    found: dict[str, str] = {}
    if name and name.strip():
        full = name.strip()
        found[full] = mask_name(full)
        for token in full.split():
            if len(token) > 1:          # "Isabella Williams": the first name alone appears too
                found[token] = mask_name(token)
    if address:
        found[address] = mask_address(channel or "", address)
        if address.startswith("+86"):
            found[address[3:]] = mask_phone(address)
    # Longest first ("Isabella Williams" before "Isabella"); Latin names only as whole words ("Li" ≠ "Like").
    pattern = "|".join(rf"(?<!\w){re.escape(v)}(?!\w)" if v.isascii() else re.escape(v)
                       for v in sorted(found, key=len, reverse=True))
    return re.sub(pattern, lambda match: found[match.group()], text)


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, message) of a render failure, in the operator's words."""
    message = str(exc)
    if isinstance(exc, UndefinedError):
        if "'offer' is undefined" in message:
            message += " (no offer for this recipient: pass --offer, or give their layer one with `winback offers map LAYER OFFER`)"
        return "undefined", message
    if isinstance(exc, RenderLimit):
        return "too_long", message
    if isinstance(exc, SecurityError):
        return "security", message
    if isinstance(exc, TemplateError):
        return "template", message
    if isinstance(exc, TypeError | ValueError | ArithmeticError | KeyError | IndexError):
        return "value", f"{type(exc).__name__}: {message}"
    return "internal", f"{type(exc).__name__}: {message}"
