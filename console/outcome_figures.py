"""What console.outcomes computes, as data: one arm's figures, one arm against the holdout, a campaign's outcomes,
and their plain-JSON shapes (`winback outcomes --json`, the console's outcomes pane)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TypedDict, cast

from console.clock import ts_to_iso


@dataclass
class ArmOutcome:
    """One arm's figures (a variant, all treated together, or the holdout)."""

    arm: str
    users: int
    reached: int            # messages handed to the provider (sent or delivered); 0 for the holdout
    converters: int
    rate: float | None
    revenue: float
    revenue_per_user: float | None
    redemptions: int        # users who used the coupon code they were sent
    cost: float             # message cost recorded in the ledger
    coupon_cost: float = 0.0  # redemptions × the campaign's coupon amount (single offer campaigns)


@dataclass
class Comparison:
    """One treated arm against the holdout."""

    arm: str
    absolute_lift: float | None        # p_t − p_c, as a proportion (0.012 = +1.2 percentage points)
    relative_lift: float | None        # (p_t − p_c) / p_c
    z: float | None
    p_value: float | None
    ci_low: float | None               # Newcombe 95% interval for p_t − p_c
    ci_high: float | None
    significant: bool
    incremental_conversions: float | None
    incremental_revenue: float | None
    cost_per_incremental: float | None  # None when there is no positive increment to pay for
    minimum_detectable_lift: float | None


class ArmDict(TypedDict):   # ArmOutcome as a dict
    arm: str
    users: int
    reached: int
    converters: int
    rate: float | None
    revenue: float
    revenue_per_user: float | None
    redemptions: int
    cost: float
    coupon_cost: float


class ComparisonDict(TypedDict):   # Comparison as a dict
    arm: str
    absolute_lift: float | None
    relative_lift: float | None
    z: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    significant: bool
    incremental_conversions: float | None
    incremental_revenue: float | None
    cost_per_incremental: float | None
    minimum_detectable_lift: float | None


class OutcomesDict(TypedDict):
    """Outcomes.to_json: `winback outcomes --json`, and the console's outcomes pane."""
    campaign: str
    campaign_id: int
    status: str
    dry_run: bool
    run: int
    start_at: int | None
    window_days: int
    window_ends_at: int | None
    window_open: bool
    conversion_kinds: list[str]
    as_of: int
    currency: str
    min_sample: int
    alpha: float
    arms: list[ArmDict]
    comparisons: list[ComparisonDict]
    winner: str | None
    verdict: str
    notes: list[str]
    mode: str
    start_iso: str | None
    window_ends_iso: str | None
    as_of_iso: str


@dataclass
class Outcomes:
    campaign: str
    campaign_id: int
    status: str
    dry_run: bool
    run: int
    start_at: int | None
    window_days: int
    window_ends_at: int | None
    window_open: bool
    conversion_kinds: list[str]
    as_of: int
    currency: str
    min_sample: int
    alpha: float
    arms: list[ArmOutcome] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    winner: str | None = None
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    mode: str = "real"         # 'real' | 'dry run' | 'simulated' (campaigns.model.mode_of)

    def to_json(self) -> OutcomesDict:
        """Plain data for `--json`: times as ISO 8601 UTC next to the epoch seconds."""
        data = asdict(self)
        data["start_iso"] = ts_to_iso(self.start_at)
        data["window_ends_iso"] = ts_to_iso(self.window_ends_at)
        data["as_of_iso"] = ts_to_iso(self.as_of)
        return cast(OutcomesDict, data)   # asdict: the fields above, in their order, then the three times

    def arm(self, name: str) -> ArmOutcome | None:
        return next((a for a in self.arms if a.arm == name), None)

    def comparison(self, name: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.arm == name), None)
