"""When a one-off campaign launches: the time the operator typed, read the same way in the CLI (`winback campaign
create --at`) and the console (the creation flow's schedule field). `model.create(at=…)` then stores it and makes
the campaign `scheduled`; `winback campaign run-due` launches it once its time has come.
"""

from __future__ import annotations

import unicodedata
from typing import TypedDict

from console.clock import now_ts
from console.errors import BadInput
from console.timefmt import local_time, parse_time


class Schedule(TypedDict, total=False):
    """`model.create` arguments for a schedule: `at` (one-off, epoch seconds) or `every` (recurring, e.g. '7d')."""

    at: int
    every: str


def parse_at(text: str, tz_name: str | None, *, option: str = "--at", now: int | None = None) -> int:
    """A one-off launch time in the workspace's zone, refused when malformed or already past (run-due would launch
    it at once, which is a launch now the operator did not ask for)."""
    at = parse_time(text, tz_name, option)
    now = now_ts() if now is None else now
    if at < now:
        raise BadInput(f"{option} {text.strip()!r} is in the past ({local_time(at, tz_name)}; it is now "
                       f"{local_time(now, tz_name)}): give a later time, or launch now")
    return at


def parse_schedule(text: str, tz_name: str | None, *, now: int | None = None) -> Schedule:
    """The console's schedule field: '' or 'now' → launch now; 'every 7d' → recurring; a date and time → once.
    What a Chinese input method types ('every ７ｄ', fullwidth digits) reads as its ASCII twin (NFKC)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text or text.lower() == "now":
        return {}
    if text.lower().startswith("every "):
        return {"every": text[6:].strip()}
    try:
        return {"at": parse_at(text, tz_name, option="schedule", now=now)}
    except BadInput as exc:
        raise BadInput(f"{exc} — or leave it empty (launch now), or write every 7d") from None
