"""The customer's name on an email's To, in each transport's shape: `To: 张伟 <zw@example.com>`.

The name comes from imported data, so it is cleaned first (display_name): control and format characters go (a CR
or LF would start a new header line — `Bcc:` injection — and a bidi override would reverse what the reader sees),
runs of white space become one space. Quotes, commas and angle brackets stay: each shape below quotes or encodes
them, so they never split the name into a second recipient.

- SMTP (to_header): RFC 5322, ASCII only — an ASCII name as a quoted string where it needs one
  (email.headerregistry.Address), any other name as RFC 2047 encoded words (email.header.Header, base64, which
  hides every special character).
- Mailgun (rfc5322_address): the `to` form field as "Name <address>" in UTF-8, quoted where needed
  (email.headerregistry.Address); Mailgun writes the header.
- SendGrid (sendgrid_name): the `name` of the `to` object. SendGrid puts it into the header unquoted, so a comma
  splits the recipient (its documented limitation; sendgrid-csharp#268, sendgrid-ruby#394: its support's advice
  is to send such a name as a quoted string) — a name holding any RFC 5322 special goes quoted.
"""

from __future__ import annotations

import unicodedata
from email.header import Header
from email.headerregistry import Address
from email.utils import quote

_SPECIALS = frozenset('()<>[]:;@\\,."')
CRLF = "\r\n"   # SMTP's line ending, also between folded encoded words


def display_name(raw: object) -> str | None:
    """The name as a reader should see it, or None when nothing printable is left."""
    if raw is None:
        return None
    kept = "".join(" " if unicodedata.category(c) == "Cc" else c for c in str(raw)
                   if unicodedata.category(c) not in ("Cf", "Cs", "Co", "Cn"))
    name = " ".join(kept.split())
    return name or None


def _address(name: str | None, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    return Address(display_name=name or "", username=local, domain=domain)


def to_header(name: str | None, address: str) -> str:
    """The To header's value for SMTP, ASCII only, folded with CRLF where an encoded name is long."""
    if not name:
        return address
    if name.isascii():
        return str(_address(name, address))
    return f"{Header(name, 'utf-8').encode(linesep=CRLF)} <{address}>"


def rfc5322_address(name: str | None, address: str) -> str:
    """"Name <address>" (UTF-8), the name quoted where it holds a special character; the bare address without."""
    return str(_address(name, address)) if name else address


def sendgrid_name(name: str) -> str:
    """SendGrid's `to.name`: as is, or as a quoted string when it holds a character that would split it."""
    return f'"{quote(name)}"' if any(c in _SPECIALS for c in name) else name
