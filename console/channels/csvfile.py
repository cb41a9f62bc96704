"""CSV export for call lists and gift lists: no automatic send, a file for the call centre or fulfilment.

Written through console/spreadsheet.py: a cell that a spreadsheet would run as a formula is kept as text.

The file is replaced atomically after every batch (written beside it, fsynced, renamed): a reader never sees a
half-written list, and every row the ledger records as sent is in the file.

A new file is UTF-8 with a BOM, like the segments export and the import's rejects file: without one, Excel on a
Chinese Windows reads it as GBK and shows mojibake. A later run appends plain UTF-8 after whatever the file starts
with: its BOM is kept and never repeated in the middle; a list written before lists had a BOM stays without one.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from console.channels.base import (
    SENT,
    SKIPPED,
    BeforeEach,
    Channel,
    ChannelError,
    Message,
    OnResult,
    OnWait,
    Result,
    Stop,
)
from console.spreadsheet import safe_writer

COLUMNS = ["message_id", "campaign", "user_id", "external_id", "to", "coupon_code", "text"]


class CsvChannel(Channel):
    transport = "csv"

    def __init__(self, name: str, settings: dict[str, Any] | None = None, *, campaign: str = "campaign",
                 base_dir: Path | None = None):
        super().__init__(name, settings)
        pattern = str(self.settings.get("path") or f"exports/{name}-list-{{campaign}}.csv")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in campaign)
        path = Path(pattern.replace("{campaign}", safe))
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        self.path = path
        self.columns: list[str] | None = list(self.settings["columns"]) if self.settings.get("columns") else None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ChannelError(f"[channels.{name}] path {self.path}: {exc}") from exc

    def validate(self, address: str | None) -> str | None:
        return None  # a call centre or fulfilment team works from the row, even without a phone

    def send(self, batch: Sequence[Message], *, before_each: BeforeEach | None = None,
             on_result: OnResult | None = None, on_wait: OnWait | None = None,
             stop: Stop | None = None) -> list[Result]:
        # on_wait, stop: a file never asks to wait, and its rows are written in one go (nothing to cut short)
        if not batch:
            return []
        # The file is the provider: a row written into it is handed over, so the last look happens per row first.
        skipped: dict[int, Result] = {}
        if before_each is not None:
            for m in batch:
                reason = before_each(m)
                if reason is not None:
                    skipped[m.send_id] = Result(m.send_id, SKIPPED, reason=reason, attempted=False)
        results = self._write([m for m in batch if m.send_id not in skipped])
        by_id = {r.send_id: r for r in results} | skipped
        ordered = [by_id[m.send_id] for m in batch]
        if on_result is not None:
            for r in ordered:
                on_result(r)
        return ordered

    def _write(self, batch: Sequence[Message]) -> list[Result]:
        if not batch:
            return []
        buf = io.StringIO()
        # Names and texts come from imports: formulas stay text in the call centre's spreadsheet.
        writer = safe_writer(buf)
        new_file = not self.path.exists() or self.path.stat().st_size == 0   # an empty file has no header yet
        if new_file:
            # the template's own fields (call script, gift address …) follow the standard columns
            extra = [k for k in batch[0].fields if k not in COLUMNS]
            self.columns = self.columns or COLUMNS + extra
            writer.writerow(self.columns)
        elif self.columns is None:
            # utf-8-sig: a BOM is not part of the first column's name (with it, message_id would stay empty)
            with self.path.open(encoding="utf-8-sig", newline="") as existing:
                self.columns = next(csv.reader(existing))
        for m in batch:
            row = {**m.fields, "message_id": m.message_id, "campaign": m.campaign, "user_id": m.user_id,
                   "to": m.to, "coupon_code": m.coupon_code, "text": m.text, "subject": m.subject}
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in self.columns])
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                if new_file:
                    out.write(codecs.BOM_UTF8)
                else:  # copied byte for byte: its BOM (or none) stays as it is, at the start only
                    with self.path.open("rb") as existing:
                        shutil.copyfileobj(existing, out)
                out.write(buf.getvalue().encode("utf-8"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return [Result(m.send_id, SENT, provider_id=f"{self.path.name}") for m in batch]
