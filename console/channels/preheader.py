"""An email's preheader, the line mail clients show beside the subject, put where they read it: hidden text at the
top of the HTML part. A template's `preheader` is rendered and previewed; without this it never left winback."""

from __future__ import annotations

import html as html_escape
import re

_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
# Hidden in every client that renders CSS (and Outlook's mso-hide); the preview line still reads it.
_HIDDEN = ('<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;'
           'overflow:hidden;mso-hide:all">')


def with_preheader(html: str | None, preheader: str | None) -> str | None:
    """The HTML part with the preheader as its first text (escaped: it is text, never markup); unchanged without
    one. A text-only message has nowhere to hide it, so it stays as it is."""
    if not html or not preheader:
        return html
    block = f"{_HIDDEN}{html_escape.escape(preheader, quote=False)}</div>"
    body = _BODY_TAG.search(html)
    if body:
        return html[:body.end()] + block + html[body.end():]
    return block + html
