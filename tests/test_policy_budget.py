"""Budget: how many more messages fit, and which users of a batch are over it."""

from __future__ import annotations

import pytest

from console.config import Config
from console.policy.budget import messages_that_fit
from console.policy.engine import evaluate
from tests.policy_support import add_campaign, add_user, book, ts

AT = ts("2026-11-25 10:00", "Asia/Shanghai")
CONFIG = Config(channels={"sms": {"price": 0.04}})


def test_messages_that_fit():
    assert messages_that_fit(None, 0, 0.04) is None          # no ceiling
    assert messages_that_fit(1.0, 0, 0) is None              # free messages
    assert messages_that_fit(0.3, 0.0, 0.1) == 3             # 0.1 + 0.1 + 0.1 fits 0.3 despite floating point
    assert messages_that_fit(1.0, 0.92, 0.04) == 2
    assert messages_that_fit(1.0, 1.5, 0.04) == 0


@pytest.mark.parametrize("per_user_cost", [False, True])
def test_a_batch_fills_the_budget_in_user_order_and_no_further(db, per_user_cost):
    users = [add_user(db, f"u{i}", phone=f"+86138000000{i:02d}") for i in range(10)]
    cid = add_campaign(db, "c", "sms", budget=1.00)
    book(db, cid, 0.80)  # 0.20 left: five messages at 0.04
    if per_user_cost:
        # Two-part messages cost double: users with an even id get one.
        audience = "SELECT id AS user_id, CASE WHEN id % 2 = 0 THEN 0.08 ELSE 0.04 END AS cost FROM users"
    else:
        audience = "SELECT id AS user_id FROM users"
    result = evaluate(db, CONFIG, channel="sms", audience=audience, at=AT, campaign_id=cid)
    admitted = [u for u, (reason, _) in result.by_user().items() if reason is None]
    if per_user_cost:
        costs = [0.08 if u % 2 == 0 else 0.04 for u in users]
        running, expected = 0.0, []
        for u, c in zip(users, costs, strict=True):
            if running + c > 0.20 + 1e-9:
                break
            running += c
            expected.append(u)
        assert admitted == expected
    else:
        assert admitted == users[:5] and result.budget_room == 5
    assert result.counts["over_budget"] == 10 - len(admitted)


def test_a_dry_run_campaign_is_measured_on_its_latest_rehearsal(db):
    add_user(db, "u", phone="+8613800000001")
    cid = add_campaign(db, "c", "sms", budget=0.05, dry_run=True)
    book(db, cid, 0.05)                  # real spending does not limit a rehearsal
    book(db, cid, 0.04, dry_run=True)    # an older rehearsal does not either
    book(db, cid, 0.00, dry_run=True)    # the latest, just started
    audience = "SELECT id AS user_id FROM users"
    assert evaluate(db, CONFIG, channel="sms", audience=audience, at=AT, campaign_id=cid).counts == {"ok": 1}
    book(db, cid, 0.03, dry_run=True)    # a newer rehearsal that spent 0.03: 0.02 left, less than one message
    assert evaluate(db, CONFIG, channel="sms", audience=audience, at=AT, campaign_id=cid).counts == {"over_budget": 1}
