"""What one program run did (returned by runner.run, printed by `winback program run-due`, shown by the console)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict, cast


class RanReport(TypedDict):
    """RunReport.as_dict: what `--json` prints for a program that ran, and the console's start shows."""
    outcome: Literal["ran"]
    program: str
    dry_run: bool
    at: int
    returned: int
    entered: int
    control_entered: int
    steps: dict[str, dict[str, Any]]
    exited: dict[str, int]
    dispatch: list[dict[str, Any]]
    problems: list[str]


@dataclass
class RunReport:
    program: str
    dry_run: bool
    at: int
    returned: int = 0
    entered: int = 0
    control_entered: int = 0
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)   # step name -> counts
    exited: dict[str, int] = field(default_factory=dict)             # opted_out / unreachable / finished
    dispatch: list[dict[str, Any]] = field(default_factory=list)     # the step campaigns' summaries
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> RanReport:
        return cast(RanReport, {"outcome": "ran", **asdict(self)})   # asdict: the fields above, in their order
