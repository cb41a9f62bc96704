"""Reading an import file: encoding, format, delimiter, header, column renames — streamed, never loaded whole.

A `Source` yields records in `Batch`es (a few thousand at a time, so the per-record work of an import stays a
tight loop): for each record its values (strings aligned to the importer's known columns, '' when absent), its
extra columns (kept as attributes), the record as read (for the rejects file) and its line in the file (the
line where it ends, for a quoted field spanning lines).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gc
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice, repeat
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]  # not in typeshed
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from console.errors import BadInput
from console.importing.batch import Batch
from console.importing.bulk_cells import Attributes
from console.importing.cells import SUSPECT, control_problem, scrub_row, shown_names
from console.importing.encodings import SAMPLE_BYTES, detect_encoding, detect_format, read_utf8
from console.importing.jsonl import jsonl_batches

# Public here too, where their callers have always found them.
__all__ = ["SAMPLE_BYTES", "Batch", "Source", "detect_encoding", "detect_format", "encode_attributes", "no_cyclic_gc",
           "parse_mapping", "read_utf8"]

DELIMITERS = (",", ";", "\t", "|")

csv.field_size_limit(1 << 24)


@contextmanager
def no_cyclic_gc():
    """Pause Python's cycle collector: an import allocates millions of small rows (none in cycles), and the
    collector's repeated scans of everything alive (a million-user dictionary) cost a third of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _checked_lines(fh: TextIO, delimiter: str, dirty: list[tuple[int, int]], longest: list[int] | None = None
                   ) -> Iterator[list[str]]:
    """The file's lines in chunks, noting (in *dirty*) the line range of each chunk that holds a character other
    than printable text (a control character, a BOM, but also a no-break space): the CSV reader's records from
    those lines are then checked one by one. The test runs in C over the text, so a clean file costs little."""
    tsv = delimiter == "\t"
    controls = _ASCII_CONTROLS.replace(b"\t", b"") if tsv else _ASCII_CONTROLS
    seen = 0
    while chunk := fh.readlines(1 << 18):
        text = "".join(chunk)
        if text.isascii():  # (known without a scan) only C0 controls and DEL to look for: bytes.translate
            data = text.encode("ascii")
            clean = len(data.translate(None, controls)) == len(data)
        else:
            lines = map(str.rstrip, chunk, repeat("\r\n"))
            if tsv:
                lines = map(str.replace, lines, repeat("\t"), repeat(""))
            # Not printable can also be a no-break or ideographic space (common in Chinese exports): only then
            # the slower exact search, so that such files do not have every record checked one by one.
            clean = all(map(str.isprintable, lines)) or not (_CHUNK_SUSPECT_TSV if tsv else _CHUNK_SUSPECT).search(text)
        if not clean:
            dirty.append((seen + 1, seen + len(chunk)))
        if longest is not None:  # the longest line so far (Batch.longest)
            longest[0] = max(longest[0], max(map(len, chunk)))
        seen += len(chunk)
        yield chunk


_ASCII_CONTROLS = bytes([*range(0x0a), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])  # all but LF and CR (line ends)
_CHUNK_SUSPECT = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")  # SUSPECT but line ends
_CHUNK_SUSPECT_TSV = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


# Attributes as stored: compact, keys sorted (so equal attributes are equal text), UTF-8 as is. One encoder
# object: json.dumps with options builds a new one per call, which costs more than the encoding.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
if c_make_encoder is not None:
    # JSONEncoder.encode also builds its C encoder per call (with a check for cycles, which parsed input
    # cannot have): building it once makes an import's attributes cost a third as much, with the same text.
    _encode_chunks = c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, True)

    def encode_attributes(value: dict) -> str:
        """The stored JSON text of an attributes dictionary."""
        return "".join(_encode_chunks(value, 0))
else:  # an interpreter without the C accelerator
    def encode_attributes(value: dict) -> str:
        """The stored JSON text of an attributes dictionary."""
        return _ENCODER.encode(value)


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """`--map target=source` options → {source: target}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, eq, source = pair.partition("=")
        target, source = target.strip(), source.strip()
        if not eq or not target or not source:
            raise BadInput(f"--map {pair!r}: write it as target=source, e.g. --map phone=mobile")
        mapping[source] = target
    return mapping


@dataclass
class Source:
    """One import file, opened lazily; iterate `records()` once."""

    path: Path
    known: Sequence[str]                       # the importer's columns, in the order values are given
    required: Sequence[str] = ()
    mapping: dict[str, str] = field(default_factory=dict)  # source column → target column
    encoding: str = "auto"
    format: str | None = None
    columns: list[str] = field(default_factory=list)     # the header after renames (CSV)
    raw_header: list[str] = field(default_factory=list)  # the header as written (CSV)
    size: int = 0
    rewrite: Any = None  # a saved mapping's mappings.Rewrite, applied to each batch

    def __post_init__(self) -> None:
        if not self.path.exists():
            raise BadInput(f"{self.path}: no such file")
        if self.path.is_dir():
            raise BadInput(f"{self.path}: is a folder, not a file")
        self._check_targets()
        self.size = self.path.stat().st_size
        if self.size == 0:
            raise BadInput(f"{self.path}: the file is empty")
        self.format = detect_format(self.path, self.format)
        self.encoding = detect_encoding(self.path, self.encoding)
        self._fh: TextIO | None = None
        # (header line, delimiter, number of columns, column names) once a CSV file's header is read
        self._csv_state: tuple[int, str, int, set[str]] | None = None
        if self.format == "csv":
            # Read the header now: callers need to know which columns the file has before the rows.
            fh = self.open()
            try:
                self._csv_state = self._guarded(lambda: self._read_header(fh))
            except BaseException:
                self.close()
                raise

    def _check_targets(self) -> None:
        """A --map target that is not one of our columns names an attribute — unless it is a near miss of one
        (--map phnoe=手机), which would silently turn the phone numbers into an attribute."""
        self.mapping = {s: (t.lower() if t.lower() in self.known else t) for s, t in self.mapping.items()}
        for source, target in self.mapping.items():
            if target in self.known:
                continue
            close = difflib.get_close_matches(target.lower(), self.known, n=1, cutoff=0.75)
            if close:
                raise BadInput(
                    f"--map {target}={source}: {target!r} is not a column winback reads; did you mean "
                    f"--map {close[0]}={source}? (columns: {', '.join(self.known)})"
                )

    def _guarded(self, read):
        try:
            return read()
        except UnicodeDecodeError as exc:
            raise BadInput(self._undecodable(exc)) from None
        except csv.Error as exc:
            raise BadInput(f"{self.path}: unreadable CSV: {exc}") from None

    def _undecodable(self, exc: UnicodeDecodeError) -> str:
        """Where the file stops being text in its encoding — the exact line (found by reading it again, only on
        this error path) — and which --encoding to try instead."""
        decoder = codecs.getincrementaldecoder(self.encoding)()
        offset = line = 0
        with self.path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as bad:
                    # The decoder's error position counts from the bytes it held over from the previous chunk.
                    held = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
                    at = max(0, bad.start - held)
                    line += chunk.count(b"\n", 0, at) + 1
                    offset += at
                    break
                line += chunk.count(b"\n")
                offset += len(chunk)
            else:
                line, offset = 0, self.position()
        name = self.encoding.replace("-sig", "")
        other = "gbk" if name == "utf-8" else "utf-8"
        where = f"line {line:,} (byte {offset:,})" if line else f"near byte {offset:,}"
        return f"{self.path}: not valid {name} text at {where} ({exc.reason}); pass --encoding {other}"

    def open(self):
        self._fh = self.path.open(encoding=self.encoding, newline="")
        return self._fh

    def position(self) -> int:
        """Bytes consumed so far (for progress)."""
        try:
            return self._fh.buffer.tell() if self._fh is not None else 0
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def present(self, column: str) -> bool:
        """Does the file have this (target) column? Always true for JSONL, whose keys vary per line."""
        return self.format == "jsonl" or column in self.columns

    def batches(self, size: int = 20_000) -> Iterator[Batch]:
        """The file's records in batches, read as needed (the file is never in memory whole)."""
        fh = self._fh if self._fh is not None and not self._fh.closed else self.open()
        try:
            batches = jsonl_batches(fh, size, self.path, self.known, self.mapping) if self.format == "jsonl" else self._csv(fh, size)
            if self.rewrite is None:
                yield from batches
            else:
                for batch in batches:
                    batch.filtered = self.rewrite.apply(batch)
                    yield batch
        except UnicodeDecodeError as exc:
            raise BadInput(self._undecodable(exc)) from None
        except csv.Error as exc:
            raise BadInput(f"{self.path}: unreadable CSV: {exc}") from None
        finally:
            self.close()

    # CSV ------------------------------------------------------------------------------------------------------

    def _target(self, name: str) -> str:
        name = name.strip()
        if name in self.mapping:
            return self.mapping[name]
        lowered = name.lower()
        return lowered if lowered in self.known else name

    def _read_header(self, fh):
        first = fh.readline()
        header_line = 1
        while first and not first.strip():
            first = fh.readline()
            header_line += 1
        if not first.strip():
            raise BadInput(f"{self.path}: the file is empty")
        delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
        header = [h.replace("\ufeff", "") for h in next(csv.reader([first], delimiter=delimiter))]
        self.raw_header = header
        stripped = [h.strip() for h in header]
        # Column names match case-insensitively, so --map sources do too (--map external_id=id for a column ID).
        by_lower = {h.lower(): h for h in stripped}
        self.mapping = {s if s in stripped else by_lower.get(s.lower(), s): t for s, t in self.mapping.items()}
        missing_sources = [s for s in self.mapping if s not in stripped]
        if missing_sources:
            raise BadInput(
                f"{self.path}: --map names column {missing_sources[0]!r}, which is not in the file "
                f"(columns: {shown_names(stripped)})"
            )
        # An unnamed column (Excel writes a trailing delimiter on every line, "a,b,") is kept under its position,
        # "column 3": its cells are usually all empty, and a value in one is kept as an attribute, not lost.
        self.columns = [self._target(h) or f"column {i}" for i, h in enumerate(header, 1)]
        for name in self.columns:
            problem = control_problem(name)
            if problem:  # it would become an attribute's name, shown in the console and in templates
                raise BadInput(f"{self.path}:{header_line}: a column's name {problem}")
        seen: set[str] = set()
        for col in self.columns:
            if col in seen:
                raise BadInput(f"{self.path}:{header_line}: column {col!r} appears twice")
            seen.add(col)
        missing = [c for c in self.required if c not in seen]
        if missing:
            # An events file without a kind column usually holds one kind: --kind is the answer, not a rename.
            how = ("give the kind of every row with --kind (e.g. --kind order), or rename a column with --map "
                   "kind=YOUR_COLUMN" if missing[0] == "kind" else f"rename with --map {missing[0]}=YOUR_COLUMN")
            raise BadInput(
                f"{self.path}: missing required column {', '.join(repr(c) for c in missing)} "
                f"(columns found: {shown_names(self.columns)}; {how})"
            )
        return header_line, delimiter, len(header), seen

    def _csv(self, fh, size: int) -> Iterator[Batch]:
        assert self._csv_state is not None  # read in __init__ for every CSV file
        header_line, delimiter, width, seen = self._csv_state
        pad = any(c not in seen for c in self.known)
        # Columns the file lacks point one past the end, where each row gets an empty string appended.
        index = [self.columns.index(c) if c in seen else width for c in self.known]
        pick = itemgetter(*index) if len(index) > 1 else (lambda row: (row[index[0]],))
        extra = [(i, c) for i, c in enumerate(self.columns) if c not in self.known]
        # A saved mapping's `where` may look at the extra columns' dictionaries: then they are built as ever.
        template = Attributes([c for _, c in extra]) if extra and self.rewrite is None else None
        dirty: list[tuple[int, int]] = []  # line ranges (first, last) of read text that may hold a control char
        longest = [0]  # the longest line read so far, in characters: no cell on one line is longer
        reader = csv.reader(chain.from_iterable(_checked_lines(fh, delimiter, dirty, longest)), delimiter=delimiter)
        count = 0
        consumed = 0  # reader.line_num at the end of the previous batch
        while True:
            # islice and map run in C: the per-record Python work is left to the importer's checks.
            rows = list(islice(reader, size))
            if not rows:
                break
            first_line = header_line + consumed + 1
            spans_lines = reader.line_num - consumed != len(rows)
            if not spans_lines:
                lines: Sequence[int] = range(first_line, first_line + len(rows))
            else:  # a quoted field spans lines: each record ends (1 + its embedded newlines) lines later
                lines, line = [], first_line - 1
                for row in rows:
                    line += 1 + sum(field.count("\n") for field in row)
                    lines.append(line)
            consumed = reader.line_num
            batch = Batch(raws=rows, lines=lines, longest=None if spans_lines else longest[0])
            if set(map(len, rows)) != {width}:
                batch = self._irregular(batch, width)
                if not batch.raws:
                    continue
            # Records are looked at one by one for control characters and BOMs only where the text had any.
            if spans_lines or (dirty and dirty[0][0] <= reader.line_num):
                if SUSPECT.search(",".join(chain.from_iterable(batch.raws))):
                    self._scrub(batch)
                while dirty and dirty[0][1] <= reader.line_num:
                    dirty.pop(0)
            if pad:
                for row in batch.raws:
                    row.append("")
            count += len(batch.raws)
            self._finish_csv(batch, pick, extra, template)
            yield batch
        if count == 0:
            raise BadInput(f"{self.path}: the file has a header but no rows")

    def _scrub(self, batch: Batch) -> None:
        known = set(self.known)
        for j, row in enumerate(batch.raws):
            if j not in batch.broken:
                found = scrub_row(row, self.columns, known)
                if found:
                    batch.broken[j] = found

    @staticmethod
    def _irregular(batch: Batch, width: int) -> Batch:
        """Drop blank lines; mark records with the wrong number of fields (they are reported, not read)."""
        kept_lines: list[int] = []
        kept = Batch(lines=kept_lines, longest=batch.longest)
        for row, line in zip(batch.raws, batch.lines, strict=True):
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                kept.broken[len(kept.raws)] = [("", f"the row has {len(row)} field{'' if len(row) == 1 else 's'}, "
                                                    f"the header has {width}")]
            kept.raws.append(row)
            kept_lines.append(line)
        return kept

    @staticmethod
    def _finish_csv(batch: Batch, pick, extra: list[tuple[int, str]], template: Attributes | None = None) -> None:
        broken = batch.broken
        if broken:
            batch.values = [None if j in broken else pick(row) for j, row in enumerate(batch.raws)]
        else:
            batch.values = list(map(pick, batch.raws))
        if template is not None and not broken:
            # Usually every extra cell is filled with plain text: the JSON texts come from one template, with no
            # dictionary per record (batch.extras stays None; batch.attributes holds the texts).
            batch.attributes = template.encode([list(map(itemgetter(i), batch.raws)) for i, _ in extra])
            if batch.attributes is not None:
                return
        if extra:
            batch.extras = [None if j in broken else ({c: row[i] for i, c in extra if row[i] != ""} or None)
                            for j, row in enumerate(batch.raws)]
