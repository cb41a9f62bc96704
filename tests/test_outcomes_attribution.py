"""Outcomes read from ledger rows and events: the worked example, the window, intention to treat, coupons."""

from __future__ import annotations

import json

import pytest

from console import stats
from console.config import config_from_dict
from console.outcomes import campaign_outcomes
from tests.outcomes_ledger import DAY, add_campaign, add_events, add_sends, add_users

LAUNCH = 1_780_000_000


@pytest.fixture
def worked_example(db):
    """DOMAIN.md's example: treated 420/10,000 came back, holdout 60/2,000."""
    add_users(db, 12_000)
    cid = add_campaign(db, "spring", launched_at=LAUNCH, window_days=14)
    add_sends(db, cid, 1, 9_000, "A", sent_at=LAUNCH + 60)
    # Intention to treat: users whose message was skipped or failed after assignment still count as treated.
    add_sends(db, cid, 9_001, 9_500, "A", status="skipped", sent_at=None, cost=0)
    add_sends(db, cid, 9_501, 10_000, "A", status="failed", sent_at=LAUNCH + 60)
    add_sends(db, cid, 10_001, 12_000, "holdout", sent_at=LAUNCH)
    add_events(db, 1, 400, at=LAUNCH + 3 * DAY, amount=120.0)
    add_events(db, 9_001, 9_010, at=LAUNCH + 5 * DAY, amount=80.0)      # skipped users who came back anyway
    add_events(db, 9_501, 9_510, at=LAUNCH + 14 * DAY - 1, amount=80.0)  # the window's last second counts
    add_events(db, 10_001, 10_060, at=LAUNCH + 2 * DAY, amount=100.0)
    add_events(db, 1, 50, at=LAUNCH + 4 * DAY, amount=30.0, coupon=True)  # a second order, with the coupon
    # None of these count: before the start, after the window, not a conversion kind.
    add_events(db, 401, 600, at=LAUNCH - 1, amount=99.0)
    add_events(db, 601, 800, at=LAUNCH + 14 * DAY, amount=99.0)
    add_events(db, 801, 1_000, kind="visit", at=LAUNCH + DAY, amount=None)
    add_events(db, 10_061, 10_200, at=LAUNCH + 20 * DAY, amount=99.0)
    return cid


def test_worked_example_per_arm_and_against_holdout(db, worked_example):
    result = campaign_outcomes(db, "spring", as_of=LAUNCH + 30 * DAY)
    treated, holdout = result.arm("A"), result.arm("holdout")
    assert (treated.users, treated.converters) == (10_000, 420)
    assert (holdout.users, holdout.converters) == (2_000, 60)
    assert treated.reached == 9_000
    assert treated.revenue == pytest.approx(400 * 120 + 20 * 80 + 50 * 30)
    assert holdout.revenue_per_user == pytest.approx(6_000 / 2_000)
    assert treated.redemptions == 50 and holdout.redemptions == 0
    assert treated.cost == pytest.approx(9_500 * 0.04)

    lift = result.comparison("A")
    assert lift.absolute_lift == pytest.approx(0.012)
    assert lift.relative_lift == pytest.approx(0.40)
    assert lift.z == pytest.approx(2.500, abs=5e-4)
    assert lift.p_value == pytest.approx(0.0124, abs=5e-5)
    assert lift.ci_low * 100 == pytest.approx(0.278, abs=5e-4)
    assert lift.ci_high * 100 == pytest.approx(1.979, abs=5e-4)
    assert lift.incremental_conversions == pytest.approx(120)
    assert lift.incremental_revenue == pytest.approx((51_100 / 10_000 - 3.0) * 10_000)
    assert lift.cost_per_incremental == pytest.approx(380 / 120, abs=1e-3)
    # At 80% power these arms detect +1.3 pp reliably; +1.2 pp came out significant with less than that.
    mde = lift.minimum_detectable_lift
    assert stats.sample_size(0.03 + mde + 1e-6, 0.03, k=0.2)[0] <= 10_000 < stats.sample_size(0.03 + mde - 1e-4, 0.03, k=0.2)[0]
    assert result.winner == "A"
    assert not result.window_open


def test_no_winner_while_the_window_is_open(db, worked_example):
    result = campaign_outcomes(db, "spring", as_of=LAUNCH + 10 * DAY)
    assert result.window_open and result.winner is None
    assert "provisional" in result.verdict
    # Only what had happened by then counts.
    assert result.arm("A").converters == 400 + 10


def test_minimum_sample_holds_back_the_winner(db, worked_example):
    config = config_from_dict({"outcomes": {"min_sample": 5_000}})
    result = campaign_outcomes(db, "spring", config, as_of=LAUNCH + 30 * DAY)
    assert result.comparison("A").significant
    assert result.winner is None and "too few users" in result.verdict


def test_conversion_kinds_are_the_campaigns(db):
    add_users(db, 20)
    cid = add_campaign(db, "visits", launched_at=LAUNCH, kinds=["visit", "login"], window_days=7)
    add_sends(db, cid, 1, 10, "A", sent_at=LAUNCH)
    add_sends(db, cid, 11, 20, "holdout", sent_at=LAUNCH)
    add_events(db, 1, 3, kind="visit", at=LAUNCH + DAY, amount=None)
    add_events(db, 4, 4, kind="login", at=LAUNCH + DAY, amount=None)
    add_events(db, 5, 9, kind="order", at=LAUNCH + DAY)
    add_events(db, 11, 11, kind="visit", at=LAUNCH + 8 * DAY, amount=None)  # after the 7-day window
    result = campaign_outcomes(db, cid, as_of=LAUNCH + 30 * DAY)
    assert result.arm("A").converters == 4
    assert result.arm("holdout").converters == 0
    assert result.comparison("A").z is not None


def test_variants_are_compared_each_and_together(db):
    add_users(db, 3_000)
    cid = add_campaign(db, "ab", launched_at=LAUNCH)
    add_sends(db, cid, 1, 1_000, "A", sent_at=LAUNCH)
    add_sends(db, cid, 1_001, 2_000, "B", sent_at=LAUNCH)
    add_sends(db, cid, 2_001, 3_000, "holdout", sent_at=LAUNCH)
    add_events(db, 1, 100, at=LAUNCH + DAY)       # A: 10%
    add_events(db, 1_001, 1_035, at=LAUNCH + DAY)  # B: 3.5%
    add_events(db, 2_001, 2_030, at=LAUNCH + DAY)  # holdout: 3%
    result = campaign_outcomes(db, "ab", as_of=LAUNCH + 30 * DAY)
    assert [a.arm for a in result.arms] == ["A", "B", "treated", "holdout"]
    assert result.arm("treated").converters == 135
    assert [c.arm for c in result.comparisons] == ["A", "B", "treated"]
    assert result.winner == "A"
    assert not result.comparison("B").significant


def test_json_is_plain_data(db, worked_example):
    data = json.loads(json.dumps(campaign_outcomes(db, "spring", as_of=LAUNCH + 30 * DAY).to_json()))
    assert data["winner"] == "A"
    assert data["window_ends_iso"].endswith("Z")


def test_unknown_campaign_is_bad_input(db):
    from console.errors import NotFound

    with pytest.raises(NotFound):
        campaign_outcomes(db, "nope")


def test_redeemed_coupons_count_in_the_cost_per_extra_user(db, worked_example):
    db.execute("INSERT INTO offers (name, kind, threshold, amount, created_at, updated_at) "
               "VALUES ('c20', 'coupon', 100, 20, 0, 0)")
    db.execute("UPDATE campaigns SET offer = 'c20' WHERE id = ?", [worked_example])
    result = campaign_outcomes(db, "spring", as_of=LAUNCH + 30 * DAY)
    assert result.arm("A").coupon_cost == pytest.approx(50 * 20)
    assert result.comparison("A").cost_per_incremental == pytest.approx((380 + 1_000) / 120, abs=1e-3)
