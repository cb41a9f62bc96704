"""Saved column mappings: `[import.mappings.NAME]` in winback.toml, used with `winback import … --mapping NAME`.

An operator's exports come in a few fixed shapes (the shop's order export, the CRM's member list). A saved mapping
names that shape once:

    [import.mappings.shop_orders]
    kind = "order"                       # events: the kind of every row (as --kind)
    encoding = "gbk"                     # as --encoding
    date_format = "%d/%m/%Y %H:%M"       # how `at` (events) / `signup_at` (users) are written (strptime codes)
    amount_format = "decimal_comma"      # 1.299,00 is 1299.00 (European Excel); "plain" (default) refuses it
    where = ["status != 'refunded'", "channel in ['app', 'web']"]   # rows to import; the others are left out

    [import.mappings.shop_orders.columns]  # file column = winback column (as --map winback=file)
    "Customer No" = "user_id"
    "Paid At" = "at"
    "Total" = "amount"

Rows the `where` leaves out are not checked and not imported: they are counted (`filtered`), not invalid. The
rewrite runs in the reader (this process or the reader process), batch by batch: see Rewrite.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from console.config import Config, ConfigError, setting_error
from console.errors import BadInput
from console.ime_text import QUOTES, fold_width

KEYS = ("columns", "kind", "encoding", "date_format", "amount_format", "where")
AMOUNT_FORMATS = ("plain", "decimal_comma")
DATE_COLUMNS = ("at", "signup_at")
# Read after fold_width (console/ime_text.py): ＝ ！＝ ［ ］ ， ｉｎ typed with a Chinese input method are ASCII by then;
# its quotes (“…” ‘…’ ＂…＂ ＇…＇) and ≠ have no ASCII form under NFKC, so they are spelt out here.
_CONDITION = re.compile(
    r"""\s*(?P<column>"[^"]+"|'[^']+'|“[^”]+”|‘[^’]+’|＂[^＂]+＂|＇[^＇]+＇|[^\s=!≠]+)\s*
        (?P<op>==|=|!=|≠|not\s+in|in|is\s+not\s+empty|is\s+empty)\s*
        (?P<value>.*?)\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_THOUSAND_DOTS = re.compile(r"[^\d]*\d{1,3}(\.\d{3})+[^\d]*")  # 1.299 or ¥1.299.000: dots between thousands
_QUOTED = re.compile(r"""'([^']*)'|"([^"]*)"|“([^”]*)”|‘([^’]*)’|＂([^＂]*)＂|＇([^＇]*)＇""")


@dataclass(frozen=True)
class Condition:
    """One `where` condition: COLUMN = 'v' | != 'v' | in ['a', 'b'] | not in [...] | is empty | is not empty.
    Cells compare stripped and case-insensitively (exports write Refunded and refunded alike)."""

    column: str
    keep_if_in: bool          # True: the row is kept when its cell is one of values
    values: frozenset[str]
    text: str                 # as written, for messages

    def holds(self, cell: str) -> bool:
        return (cell.strip().casefold() in self.values) is self.keep_if_in


@dataclass
class SavedMapping:
    name: str
    columns: dict[str, str] = field(default_factory=dict)  # file column → winback column
    kind: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    amount_format: str = "plain"
    where: list[Condition] = field(default_factory=list)


def load_mapping(config: Config, name: str, known: Sequence[str] = (), what: str = "") -> SavedMapping:
    """The mapping `[import.mappings.NAME]` of the workspace's winback.toml. A name not there is BadInput (the
    option's fault); a bad setting a ConfigError naming the file, the line and the setting (exit 2 both).
    *known*: the columns of the import it is for (*what*: users, events), to refuse a misspelt one of them."""
    where_is = f"[import.mappings.{name}] in {config.path or 'winback.toml'}"
    table_name = f"import.mappings.{name}"

    def bad(key: str | None, problem: str) -> ConfigError:
        return setting_error(config, table_name, key, problem)

    section = (config.raw.get("import") or {}).get("mappings") or {}
    if not isinstance(section, dict) or name not in section:
        known = ", ".join(sorted(section)) if isinstance(section, dict) and section else "none"
        misplaced = _written_elsewhere(config.raw, name)
        hint = f"; it is written as [{misplaced}]: rename that table [import.mappings.{name}]" if misplaced else ""
        raise BadInput(f"--mapping {name!r}: no {where_is} (saved mappings: {known}){hint}")
    table = section[name]
    if not isinstance(table, dict):
        raise bad(None, "must be a table of settings")
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise bad(unknown[0], f"unknown setting (settings: {', '.join(KEYS)})")
    columns = table.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                for k, v in columns.items()):
        raise bad("columns", "must map file columns to winback columns, e.g. \"手机号\" = \"phone\"")
    mapping = SavedMapping(name=name, columns={k.strip(): v.strip() for k, v in columns.items()})
    _check_targets(config, name, mapping.columns, known, what)
    for key in ("kind", "encoding", "date_format"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise bad(key, f"{value!r} must be a text, e.g. {key} = \"{_EXAMPLES[key]}\"")
        setattr(mapping, key, value.strip() if isinstance(value, str) else None)
    if mapping.date_format is not None and "%" not in mapping.date_format:
        raise bad("date_format", f"{mapping.date_format!r} has no strptime code; write it like \"%d/%m/%Y %H:%M\" "
                  "(%Y year, %m month, %d day, %H hour, %M minute, %S second, %z offset)")
    amount_format = table.get("amount_format", "plain")
    if amount_format not in AMOUNT_FORMATS:
        raise bad("amount_format", f"{amount_format!r}: use one of {', '.join(AMOUNT_FORMATS)}")
    mapping.amount_format = amount_format
    where = table.get("where") or []
    if isinstance(where, str):
        where = [where]
    if not isinstance(where, list) or not all(isinstance(w, str) for w in where):
        raise bad("where", "must be a condition or a list of them, e.g. where = \"status != 'refunded'\"")
    mapping.where = [_condition(text, bad) for text in where]
    return mapping


def _written_elsewhere(raw: dict, name: str) -> str | None:
    """The dotted name of a table NAME written under another path ([import.mapping.NAME], [imports.mappings.NAME],
    [mappings.NAME]): a typo in the header makes the mapping silently absent."""
    def walk(table: dict, path: list[str]) -> str | None:
        for key, value in table.items():
            if not isinstance(value, dict) or len(path) >= 3:
                continue
            here = [*path, key]
            # only under a table named like the right one: [channels.sms] is no misplaced mapping 'sms'
            if key == name and here != ["import", "mappings", name] and any("import" in p or "mapping" in p
                                                                           for p in path):
                return ".".join(here)
            found = walk(value, here)
            if found:
                return found
        return None

    return walk(raw, [])


def _check_targets(config: Config, name: str, columns: dict[str, str], known: Sequence[str], what: str) -> None:
    """A winback column that is a near miss of one of winback's (`userid`, `phnoe`) would quietly make that column
    an attribute — and the import then misses a required column, or loses the phones. Said as the saved mapping's
    line in winback.toml: the operator gave no --map, so the --map check's words would point the wrong way."""
    other = "users" if what == "events" else "events"
    for source, target in columns.items():
        if not known or target.lower() in known:
            continue
        if target.lower() in ("external_id", "user_id"):   # the other import's id: the wrong mapping was chosen
            raise setting_error(config, f"import.mappings.{name}.columns", source,
                                f"{target!r} is a column of {other}, not of {what}: is mapping {name!r} for "
                                f"`winback import {other}`?")
        close = difflib.get_close_matches(target.lower(), known, n=1, cutoff=0.75)
        if close:
            raise setting_error(config, f"import.mappings.{name}.columns", source,
                                f"{target!r} is not a column winback reads for {what}; did you mean "
                                f"\"{close[0]}\"? (columns: {', '.join(known)})")


_EXAMPLES = {"kind": "order", "encoding": "gbk", "date_format": "%d/%m/%Y %H:%M"}


def _condition(text: str, bad: Callable[[str, str], ConfigError]) -> Condition:
    # typed with a Chinese input method (ｓｔａｔｕｓ ！＝ ［“a”，‘b’］): read as the ASCII form, quoted values as typed
    match = _CONDITION.fullmatch(fold_width(text))
    if not match:
        raise bad("where", f"{text!r}: write COLUMN = 'value', COLUMN != 'value', "
                       "COLUMN in ['a', 'b'], COLUMN not in ['a', 'b'], COLUMN is empty or COLUMN is not empty")
    column = match["column"]
    quoted = len(column) > 1 and column[0] in QUOTES and column[-1] == QUOTES[column[0]]
    column = column[1:-1] if quoted else column.strip("'\"")
    op = " ".join(match["op"].lower().split()).replace("≠", "!=")
    raw = match["value"]
    if op in ("is empty", "is not empty"):
        if raw:
            raise bad("where", f"{text!r}: nothing may follow {op!r}")
        return Condition(column, op == "is empty", frozenset({""}), text)
    values = [next(v for v in m.groups() if v is not None) for m in _QUOTED.finditer(raw)]
    if op in ("in", "not in"):
        ok = raw.startswith("[") and raw.endswith("]") and values
    else:
        ok = len(values) == 1 and _QUOTED.fullmatch(raw) is not None
    if not ok:
        shape = "['a', 'b']" if op in ("in", "not in") else "'value'"
        raise bad("where", f"{text!r}: after {op!r} give {shape} (quoted)")
    return Condition(column, op in ("=", "==", "in"), frozenset(v.strip().casefold() for v in values), text)


@dataclass
class Rewrite:
    """What a saved mapping does to each batch the reader produces — picklable, for the reader process.

    *positions* locate winback's columns in a record's values (Source.known order); a `where` column that is not
    one of them is looked up among the record's extra columns (attributes)."""

    name: str
    date_positions: list[tuple[int, str]]  # (index in values, column) of the time columns
    date_format: str | None
    amount_position: int | None
    decimal_comma: bool
    where: list[tuple[Condition, int | None, str]]  # (condition, index in values or None, name among the extras)

    @classmethod
    def of(cls, mapping: SavedMapping, known: Sequence[str]) -> Rewrite | None:
        if not (mapping.date_format or mapping.amount_format != "plain" or mapping.where):
            return None
        targets = {source.casefold(): target for source, target in mapping.columns.items()}

        def position(column: str) -> int | None:
            target = targets.get(column.casefold(), column)
            return known.index(target.lower()) if target.lower() in known else None

        return cls(
            name=mapping.name,
            date_positions=[(known.index(c), c) for c in DATE_COLUMNS if c in known] if mapping.date_format else [],
            date_format=mapping.date_format,
            amount_position=known.index("amount") if "amount" in known and mapping.amount_format != "plain" else None,
            decimal_comma=mapping.amount_format == "decimal_comma",
            where=[(c, position(c.column), targets.get(c.column.casefold(), c.column)) for c in mapping.where],
        )

    def apply(self, batch: Any) -> int:
        """Rewrite *batch* (reading.Batch) in place; return how many records the `where` left out."""
        left_out = self._filter(batch) if self.where else 0
        if self.date_positions or self.amount_position is not None:
            for j, values in enumerate(batch.values):
                if values is None:
                    continue
                changed = list(values)
                problems = []
                for i, column in self.date_positions:
                    cell = changed[i].strip()
                    if cell:
                        try:
                            changed[i] = datetime.strptime(cell, self.date_format or "").isoformat(sep=" ")
                        except ValueError:
                            problems.append((column, f"{cell!r} does not match the date format "
                                                     f"{self.date_format!r} of mapping {self.name!r}"))
                if self.amount_position is not None:
                    changed[self.amount_position] = _decimal_comma(changed[self.amount_position])
                if problems:
                    batch.values[j] = None
                    batch.broken[j] = problems
                else:
                    batch.values[j] = tuple(changed)
        return left_out

    def _filter(self, batch: Any) -> int:
        keep = []
        for j, values in enumerate(batch.values):
            if values is None:  # unreadable: reported as it is
                keep.append(True)
                continue
            extras = batch.extras[j] if batch.extras is not None else None
            keep.append(all(condition.holds(_cell(values, extras, i, name)) for condition, i, name in self.where))
        if all(keep):
            return 0
        kept = [j for j, k in enumerate(keep) if k]
        broken = {new: batch.broken[old] for new, old in enumerate(kept) if old in batch.broken}
        lines = list(batch.lines)
        batch.values = [batch.values[j] for j in kept]
        batch.raws = [batch.raws[j] for j in kept]
        batch.lines = [lines[j] for j in kept]
        if batch.extras is not None:
            batch.extras = [batch.extras[j] for j in kept]
        batch.broken = broken
        return len(keep) - len(kept)


def check_columns(rewrite: Rewrite | None, src: Any) -> None:
    """A `where` on a column the CSV file does not have would leave every row out (or keep every one): refuse it."""
    if rewrite is None or src.format != "csv":
        return
    names = {c.casefold() for c in src.columns} | {h.strip().casefold() for h in src.raw_header}
    for condition, _, _ in rewrite.where:
        if condition.column.casefold() not in names:
            raise BadInput(f"{src.path}: mapping {rewrite.name!r}: where {condition.text!r} names column "
                           f"{condition.column!r}, which is not in the file")


def _cell(values: tuple, extras: dict | None, index: int | None, column: str) -> str:
    if index is not None:
        return values[index]
    if not extras:
        return ""
    value = extras.get(column)
    if value is None:  # extra columns keep the file's spelling; match it case-insensitively
        value = next((v for k, v in extras.items() if k.casefold() == column.casefold()), None)
    return "" if value is None else value if isinstance(value, str) else str(value)


def _decimal_comma(cell: str) -> str:
    """1.299,00 → 1299.00; 12,5 → 12.5 (thousands dots and spaces dropped, the comma is the decimal point)."""
    text = cell.strip()
    if not text.isascii():   # fullwidth ，．and digits as an input method types them: the ASCII ones
        text = unicodedata.normalize("NFKC", text)
    if "," not in text:
        return text.replace(".", "") if _THOUSAND_DOTS.fullmatch(text) else text
    return text.replace(".", "").replace(" ", "").replace("\u00a0", "").replace(",", ".")
