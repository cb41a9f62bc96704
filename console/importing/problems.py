"""What went wrong in an import: the first errors, the total, and (with --skip-invalid) the rejects file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypedDict, cast

from console.errors import BadInput
from console.spreadsheet import SafeWriter, safe_writer

SHOWN_ERRORS = 50


class InvalidRows(BadInput):
    """The file had invalid rows and nothing was written; `result` holds the counts and the first errors."""

    def __init__(self, result: ImportResult, message: str) -> None:
        super().__init__(message)
        self.result = result


class ImportResultDict(TypedDict):
    """ImportResult as `import … --json` prints it (tests/test_dict_shapes.py keeps the two alike)."""

    kind: str
    file: str
    rows: int
    valid: int
    invalid: int
    inserted: int
    updated: int
    unchanged: int
    consents: int
    kept_withdrawn: int
    dry_run: bool
    rejects_file: str | None
    errors: list[str]
    error_count: int
    seconds: float
    filtered: int
    swap_seconds: float


@dataclass
class ImportResult:
    """What an import did. Counts are rows of the file unless named otherwise."""

    kind: str                    # users | events
    file: str
    rows: int = 0                # records read (valid + invalid)
    valid: int = 0
    invalid: int = 0
    inserted: int = 0            # new users / new events
    updated: int = 0             # users whose stored values changed
    unchanged: int = 0           # users identical to what was stored / events already present
    consents: int = 0            # consent rows appended
    kept_withdrawn: int = 0      # "yes" cells not applied over a newer withdrawal (consent history, docs/policy.md)
    dry_run: bool = False
    rejects_file: str | None = None
    errors: list[str] = field(default_factory=list)  # the first SHOWN_ERRORS messages
    error_count: int = 0
    seconds: float = 0.0
    filtered: int = 0            # rows a saved mapping's `where` left out (not checked, not imported)
    swap_seconds: float = 0.0    # how long the main database's write lock was held (the swap of a staged import)

    def as_dict(self) -> ImportResultDict:
        return cast(ImportResultDict, dict(vars(self)))


class Problems:
    """Collects row errors as `FILE:LINE: column: what is wrong`; writes rejects beside the input if asked."""

    def __init__(self, path: Path, fmt: str, result: ImportResult, *, write_rejects: bool,
                 mapping: dict[str, str] | None = None) -> None:
        self.path = path
        # Errors name the column as the file does: with --map phone=手机 the operator looks for 手机, not phone.
        self.labels = {target: f"{source} ({target})" for source, target in (mapping or {}).items()}
        self.fmt = fmt
        self.result = result
        self.write_rejects = write_rejects
        self._fh: TextIO | None = None
        self._writer: SafeWriter | None = None     # the rejects file's CSV writer (csv input only)

    def row(self, line: int, messages: list[tuple[str, str]], raw: Any, header: list[str]) -> None:
        """Record one invalid row with its (column, message) problems."""
        self.result.invalid += 1
        for column, message in messages:
            self.result.error_count += 1
            if len(self.result.errors) < SHOWN_ERRORS:
                where = f"{self.labels.get(column, column)}: " if column else ""
                self.result.errors.append(f"{self.path.name}:{line}: {where}{message}")
        if self.write_rejects:
            reason = "; ".join(f"{self.labels.get(c, c)}: {m}" if c else m for c, m in messages)
            self._reject(line, reason, raw, header)

    def _reject(self, line: int, reason: str, raw: Any, header: list[str]) -> None:
        if self._fh is None:
            target = self.rejects_path()
            # Customers' rows: readable by the operator only (0600, like the database), also when an older
            # import left the file readable by all. utf-8 with BOM so that Excel opens Chinese text correctly.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            self._fh = os.fdopen(fd, "w", encoding="utf-8" if self.fmt == "jsonl" else "utf-8-sig", newline="")
            self.result.rejects_file = str(target)
            if self.fmt == "csv":
                # Formulas in the rejected cells stay text when the operator opens the file (console/spreadsheet.py).
                self._writer = safe_writer(self._fh)
                self._writer.writerow(["line", "error", *header])
        if self.fmt == "csv":
            assert self._writer is not None  # made with the rejects file above
            self._writer.writerow([line, reason, *(raw[: len(header)] if isinstance(raw, list) else [raw])])
        else:
            try:
                text = json.dumps({"line": line, "error": reason, "record": json.loads(raw)}, ensure_ascii=False)
                text.encode()  # a lone surrogate (from a \\ud800 escape) cannot be written as UTF-8
            except (ValueError, RecursionError):  # not JSON, or hostile JSON: the line as text
                text = json.dumps({"line": line, "error": reason, "record": raw.rstrip("\n")}, ensure_ascii=False)
            self._fh.write(text + "\n")

    def rejects_path(self) -> Path:
        suffix = ".rejects.jsonl" if self.fmt == "jsonl" else ".rejects.csv"
        return self.path.with_name(self.path.name + suffix)

    def remove_stale_rejects(self) -> None:
        """After an import with --skip-invalid that found nothing to reject, remove the rejects file an earlier
        import left: it lists rows that are now imported, and `wc -l FILE.rejects.csv` would count them."""
        if self.write_rejects and self.result.rejects_file is None:
            self.rejects_path().unlink(missing_ok=True)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def raise_if_any(self) -> None:
        """Exit code 2 with the first errors listed, when any row was invalid (and nothing was written)."""
        r = self.result
        if not r.error_count:
            return
        shown = "\n".join(r.errors)
        more = f"\n… and {r.error_count - len(r.errors):,} more" if r.error_count > len(r.errors) else ""
        # Rows a saved mapping's where left out are not among r.rows: say them, or the count reads as a miscount.
        where = f"; {r.filtered:,} more {'row' if r.filtered == 1 else 'rows'} left out by the mapping's where" \
            if r.filtered else ""
        raise InvalidRows(
            r,
            f"{r.invalid:,} of {_count(r.rows, 'row')} in {self.path.name} {'is' if r.invalid == 1 else 'are'} invalid "
            f"({_count(r.error_count, 'error')}{where}); "
            f"nothing was imported. Fix them, or pass --skip-invalid to import the valid rows.\n{shown}{more}"
        )


def _count(n: int, noun: str) -> str:
    """'1 row', '2,000 rows'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
