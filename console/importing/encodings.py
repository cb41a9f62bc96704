"""Which text encoding and which format an import file is in (and refusing what is no text file at all).

`auto` tells UTF-8 (with or without BOM) from GBK/GB18030 and UTF-16; anything else must be named.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from pathlib import Path

from console.errors import BadInput, NotFound

SAMPLE_BYTES = 1 << 16
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "gb18030": "gb18030",
                    "utf-8": "utf-8-sig", "utf8": "utf-8-sig", "utf-8-sig": "utf-8-sig"}


def read_utf8(path: Path) -> str:
    """A small whole file as UTF-8 text (a BOM is dropped), for lists like suppressions and receipt reports.

    A missing file is NotFound and undecodable bytes are BadInput, each naming the file.
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 ({exc})") from exc


def detect_encoding(path: Path, requested: str) -> str:
    """The Python codec to read *path* with. `auto` tells UTF-8 (with or without BOM) from GBK/GB18030 (and
    UTF-16); a file that is neither (Shift-JIS, cp1252, …) is refused, not read as garbage: name its encoding."""
    name = requested.strip().lower()
    if name != "auto":
        name = ENCODING_ALIASES.get(name, name)
        try:
            info = codecs.lookup(name)
        except LookupError:
            raise BadInput(f"--encoding {requested!r} is not an encoding winback knows (use auto, utf-8 or gbk)") from None
        # rot13, base64, zlib, hex…: codecs, but from text to text or bytes to bytes, never bytes to text.
        if not getattr(info, "_is_text_encoding", True):
            raise BadInput(f"--encoding {requested!r} is not a text encoding (use auto, utf-8 or gbk)")
        if name == "gb18030" and _starts_with_utf8_bom(path):
            # Excel's "CSV UTF-8" writes this mark; GBK text never starts with it. A shop export that moved to it
            # while a saved mapping still says gbk would otherwise be read as mojibake ('浼氬憳' for '会员').
            return "utf-8-sig"
        return name
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        whole = not fh.read(1)
    _refuse_spreadsheet(path, sample)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a BOM: every other byte of Latin text is NUL (never so in UTF-8 or GBK text).
    even, odd = sample[0::2], sample[1::2]
    if len(sample) >= 4 and sample.count(0) * 4 >= len(sample):
        return "utf-16-le" if odd.count(0) > even.count(0) else "utf-16-be"
    if not whole:
        # Judge whole lines only: the sample's end may cut a character in two, and then no reading is valid.
        # A newline byte is never part of a multibyte character in UTF-8 or GBK.
        cut = sample.rfind(b"\n")
        if cut > 0:
            sample, whole = sample[:cut + 1], True
    if sample.isascii():
        return "utf-8-sig"
    utf8 = _decoded(sample, "utf-8", final=whole)
    if utf8 is not None and _has_wide_character(utf8):
        # Chinese (or a zero-width space, an emoji, a curly quote) in UTF-8 is three or four bytes a character;
        # GBK bytes almost never line up into such sequences, while short UTF-8 text is often valid GBK too
        # (王芳 + U+200B read as 鐜嬭姵鈥): charset-normalizer once judged that GBK, and names were stored garbled.
        return "utf-8-sig"
    gbk = _decoded(sample, "gb18030", final=whole)
    if utf8 is not None and gbk is None:
        return "utf-8-sig"
    from charset_normalizer import from_bytes

    if utf8 is not None:
        # Only two-byte characters (accents, Cyrillic, Greek): short GBK text can read so (女鞋 reads as ŮЬ). Let
        # charset-normalizer judge which reading is language rather than noise; GBK only when clearly better.
        best = from_bytes(sample, cp_isolation=["utf_8", "gb18030"]).best()
        return "gb18030" if best is not None and best.encoding == "gb18030" else "utf-8-sig"
    if gbk is not None and _mostly_common_chinese(gbk):
        return "gb18030"
    best = from_bytes(sample).best()
    guess = best.encoding.replace("_", "-") if best is not None else None
    looks = f" (it looks like {guess})" if guess else ""
    raise BadInput(
        f"{path}: neither UTF-8 nor GBK text{looks}; save it as UTF-8 (in Excel: Save As › CSV UTF-8) and import "
        f"that file, or name its encoding, e.g. --encoding {guess or 'cp1252'}"
    )


def _starts_with_utf8_bom(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    except OSError:   # missing or unreadable: said by the reader, with the file's name
        return False


def _decoded(sample: bytes, encoding: str, *, final: bool) -> str | None:
    """The sample as text in *encoding*, or None when it is not valid there."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=final)
    except UnicodeDecodeError:
        return None


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WIDE = re.compile(r"[^\x00-\u07ff]")


def _has_wide_character(text: str) -> bool:
    """A character from U+0800 up: three or more bytes in UTF-8 (all of CJK)."""
    return _WIDE.search(text) is not None


def _mostly_common_chinese(text: str) -> bool:
    """Most bytes decode as GB18030, so a GB18030 reading alone proves little: Shift-JIS and cp1252 files read as
    rare or traditional characters. Chinese text is mostly GB2312's 7,445 common characters (at least half of
    them even in a list of unusual names); Shift-JIS or cp1252 read as GBK is almost none of them."""
    counts = Counter(_NON_ASCII.findall(text))
    common = 0
    for char, n in counts.items():
        try:
            char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += n
    return common * 2 >= sum(counts.values())


SPREADSHEET_MAGIC = {b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip file",
                     b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)"}


def _refuse_spreadsheet(path: Path, sample: bytes) -> None:
    """A workbook saved with a .csv name is common; say what it is instead of guessing its 'encoding'."""
    for magic, what in SPREADSHEET_MAGIC.items():
        if sample.startswith(magic):
            raise BadInput(f"{path}: this is {what}, not a CSV or JSONL text file; in Excel use "
                           "File › Save As › CSV UTF-8 (Comma delimited), then import that file")


def detect_format(path: Path, requested: str | None) -> str:
    if requested:
        fmt = requested.strip().lower()
        if fmt not in ("csv", "jsonl"):
            raise BadInput(f"--format {requested!r}: use csv or jsonl")
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "csv"
