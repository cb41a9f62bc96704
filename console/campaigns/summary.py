"""What a dispatch did: the summary the CLI prints, the console shows and helper processes send back as JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypedDict


class SummaryDict(TypedDict):
    """DispatchSummary.as_dict: what `--json` prints and the console's launch and resume hand their screens."""
    campaign: str
    run: int
    dry_run: bool
    outcome: str
    claimed: int
    sent: int
    failed: int
    deferred: int
    unknown: int
    recovered_unknown: int
    skipped: dict[str, int]           # reason → recipients
    next_at: int | None
    seconds: float
    pause_reason: str | None
    stopped_by: str | None
    wait_reason: str | None
    would_wait: int
    wait_last_at: int | None
    notes: list[str]                  # what the operator should know about the run (a dry run's withheld codes)


@dataclass
class DispatchSummary:
    campaign: str
    run: int
    dry_run: bool
    outcome: str = "running"  # completed | paused | cancelled | waiting | in_flight | interrupted | partition_done
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0                  # sent but no reply, or handed over by a dispatcher that died
    recovered: int = 0                # of those: handed over by a dispatcher that died (unknown on resume)
    skipped: Counter = field(default_factory=Counter)
    next_at: int | None = None        # waiting: when deferred rows become due
    seconds: float = 0.0
    pause_reason: str | None = None   # paused: why (an operator's reason, or the brake that tripped)
    stopped_by: str | None = None     # 'brake', 'unreachable' or 'channel_error' when winback itself paused the run
                                      # (scripts: exit 1)
    wait_reason: str | None = None    # waiting: why, when it is not deferred rows (the provider asked us to wait)
    would_wait: int = 0               # dry run: recipients a real run would defer (quiet hours), from next_at …
    wait_last_at: int | None = None   # … to wait_last_at
    notes: list[str] = field(default_factory=list)   # said to the operator (console.campaigns.dry_codes)

    def add(self, other: DispatchSummary) -> None:
        """Fold in what a helper dispatcher on the same run did."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.failed += other.failed
        self.deferred += other.deferred
        self.unknown += other.unknown
        self.recovered += other.recovered
        self.would_wait += other.would_wait
        self.skipped.update(other.skipped)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DispatchSummary:
        out = cls(data["campaign"], data["run"], data["dry_run"], outcome=data["outcome"])
        for key in ("claimed", "sent", "failed", "deferred", "unknown"):
            setattr(out, key, data[key])
        out.recovered = data.get("recovered", 0)
        out.would_wait = data.get("would_wait", 0)
        out.skipped.update(data["skipped"])
        return out

    def as_dict(self) -> SummaryDict:
        return {"campaign": self.campaign, "run": self.run, "dry_run": self.dry_run, "outcome": self.outcome,
                "claimed": self.claimed, "sent": self.sent, "failed": self.failed, "deferred": self.deferred,
                "unknown": self.unknown, "recovered_unknown": self.recovered,
                "skipped": dict(self.skipped), "next_at": self.next_at, "seconds": round(self.seconds, 3),
                "pause_reason": self.pause_reason, "stopped_by": self.stopped_by, "wait_reason": self.wait_reason,
                "would_wait": self.would_wait, "wait_last_at": self.wait_last_at, "notes": list(self.notes)}


def not_sent_line(ran: SummaryDict | dict[str, Any]) -> str | None:
    """'c run 1: 37 failed, 2 unknown — …what to do next' for a real run that did not reach everyone, else None.
    Said by launch, resume and run-due of a campaign, and for a recall program's step (console.programs.report)."""
    failed, unknown = ran.get("failed") or 0, ran.get("unknown") or 0
    if ran["dry_run"] or not (failed or unknown):
        return None
    name = ran["campaign"]
    counted = ", ".join(f"{n:,} {word}" for n, word in ((failed, "failed"), (unknown, "unknown")) if n)
    steps = [f"`winback campaign failures {name}` shows the provider's reasons"]
    if unknown:   # the query APIs winback asks (console.campaigns.provider_query); others: the provider's records
        steps.append(f"`winback campaign reconcile {name}` settles the unknown (aliyun, tencent, twilio; else "
                     f"check the provider's records, then `winback campaign requeue {name} --not-sent FILE`)")
    return f"{name} run {ran['run']}: {counted} — not every message went out (exit 1): {'; '.join(steps)}"


__all__ = ["DispatchSummary", "SummaryDict", "not_sent_line"]
