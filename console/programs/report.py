"""What one program run did (returned by runner.run, printed by `winback program run-due`, shown by the console)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NotRequired, TypedDict, cast

from rich.markup import escape

from console.campaigns.summary import not_sent_line


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


class ProgramSkipped(TypedDict):   # run_due: another process is running it
    program: str
    outcome: Literal["skipped"]
    reason: str


class ProgramFailed(TypedDict):    # run_due: its problem (a missing secret, …, a bug); the others still ran
    program: str
    outcome: Literal["error"]
    error: str
    traceback: NotRequired[str]   # an unexpected error's, only under WINBACK_DEBUG


ProgramResult = RanReport | ProgramSkipped | ProgramFailed   # told apart by `outcome`


def report_lines(results: list[ProgramResult]) -> list[str]:
    """One line (or a few) per program run, for people, in rich markup: `program run-due`, `campaign run-due` and
    the console's start of a program print them."""
    lines = []
    for r in results:
        name = escape(r["program"])
        if r["outcome"] == "error":
            lines.append(f"[bold red]program {name}: {escape(r['error'])}[/]")
            if "traceback" in r:
                lines.append(escape(r["traceback"].rstrip("\n")))
            continue
        if r["outcome"] == "skipped":
            lines.append(f"program {name}: skipped — {escape(r['reason'])}")
            continue
        steps = ", ".join(
            f"{escape(step)} {c['queued'] + c['holdout']:,}"
            + (f" (skipped {sum(c['skipped'].values()):,})" if c["skipped"] else "")
            for step, c in r["steps"].items()) or "no step due"
        mode = "dry run" if r["dry_run"] else "real"
        # each dispatched run counted in its own mode: a run left from the other mode (an interrupted rehearsal's
        # step run, dispatched on its own mode's channel) never adds its would-sends to the real sent, nor back
        mine = [d for d in r["dispatch"] if d.get("dry_run", r["dry_run"]) == r["dry_run"]]
        own = sum(d.get("sent", 0) for d in mine)
        other = sum(d.get("sent", 0) for d in r["dispatch"] if d not in mine)
        # what did not go out, counted beside what did (a real run's; the lines below say what to do about it)
        lost = "" if r["dry_run"] else "".join(f", {word} {n:,}" for word in ("failed", "unknown")
                                               if (n := sum(d.get(word, 0) for d in mine)))
        lines.append(f"program {name} ({mode}): entered {r['entered']:,}, returned {r['returned']:,}; steps: "
                     f"{steps}; {'would send' if r['dry_run'] else 'sent'} {own:,}{lost}"
                     + (f"; {'sent' if r['dry_run'] else 'would send'} {other:,} (rows of the "
                        f"{'real run' if r['dry_run'] else 'dry run'})" if other else ""))
        lines.extend(f"program {name}: {escape(p)}" for p in r["problems"])
        # a real step's messages that failed or ended unknown: which step campaign, and what to run next
        lines.extend(f"[bold red]program {name}: {escape(line)}[/]" for line in _not_sent(r))
    return lines


def _not_sent(result: ProgramResult) -> list[str]:
    """not_sent_line of each real run of the program's step campaigns this run dispatched that did not reach
    everyone (failed or unknown), naming the step's campaign for `winback campaign failures`."""
    if result["outcome"] != "ran":
        return []
    return [line for d in result["dispatch"] if (line := not_sent_line(d))]


def not_sent_lines(results: list[ProgramResult]) -> list[str]:
    """Every program's lines of step runs that did not reach everyone: a cron run (`program run-due`, `campaign
    run-due`) exits 1 when there is one, as a campaign's real launch does."""
    return [line for r in results for line in _not_sent(r)]
