"""The one way winback writes a CSV file a person may open in a spreadsheet (exports, call and gift lists, the
rejects of an import): a cell a spreadsheet would run as a formula is written as text.

Names, attributes, message texts and rejected rows come from imports: `=HYPERLINK("http://evil", "click")`
as a customer name, or `+cmd|' /C calc'!A0`, must stay text when the operator opens the file (OWASP "CSV
injection"). Such a cell — starting with = + - @, a tab or a carriage return — gets a leading apostrophe, which
spreadsheets hide and which tells them "text". Numbers and phone numbers (+8613800138000, -12.5) stay as they
are: made of digits and punctuation only, they cannot call anything. Rows end in CRLF (RFC 4180, what
spreadsheets write), so a carriage return inside a cell is quoted like a newline and cannot split a row.

    from console.spreadsheet import safe_writer, safe_dict_writer
    writer = safe_writer(fh)                       # like csv.writer(fh); every cell made safe
    writer = safe_dict_writer(fh, fieldnames)      # like csv.DictWriter(fh, fieldnames)
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_TRIGGERS = "=+-@\t\r"
# A number or a phone number: digits with + - . , ( ) and spaces only.
_NUMBER = re.compile(r"^[+-]?[0-9][0-9 .,()-]*$")


def safe_cell(value: Any) -> Any:
    """*value*, or the text with a leading apostrophe when a spreadsheet would read it as a formula."""
    if not isinstance(value, str) or not value or value[0] not in _TRIGGERS:
        return value
    if value[0] in "+-" and _NUMBER.match(value):
        return value
    return "'" + value


# csv quotes a field holding any character of the line terminator: with "\n" alone, a bare "\r" in a name
# went out unquoted and split the row in two for every reader.
_LINE_END = "\r\n"


class SafeWriter:
    """csv.writer whose cells pass through safe_cell."""

    def __init__(self, fh: Any, **fmtparams: Any) -> None:
        self._writer = csv.writer(fh, **{**fmtparams, "lineterminator": _LINE_END})

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """csv.DictWriter whose cells pass through safe_cell (the header is the programmer's and is left alone)."""

    def __init__(self, fh: Any, fieldnames: Sequence[str], **fmtparams: Any) -> None:
        self._writer = csv.DictWriter(fh, fieldnames=list(fieldnames), **{**fmtparams, "lineterminator": _LINE_END})

    def writeheader(self) -> Any:
        return self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> Any:
        return self._writer.writerow({k: safe_cell(v) for k, v in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(fh: Any, **fmtparams: Any) -> SafeWriter:
    return SafeWriter(fh, **fmtparams)


def safe_dict_writer(fh: Any, fieldnames: Sequence[str], **fmtparams: Any) -> SafeDictWriter:
    return SafeDictWriter(fh, fieldnames, **fmtparams)
