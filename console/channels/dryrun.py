"""Dry-run: renders, validates, costs and records exactly what would be sent; sends nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from console.channels.base import SENT, Channel, Message, Result


class DryRunChannel(Channel):
    transport = "dryrun"
    external = False

    def send(self, batch: Sequence[Message], **hooks: Any) -> list[Result]:
        # nothing leaves the machine: the dispatcher claims and records in one transaction, without hooks
        return [Result(m.send_id, SENT) for m in batch]
