"""Refresh: derived fields, dormancy and layers against a small base worked out by hand (tests/segments_support.py)."""

from __future__ import annotations

import pytest

from console.config import Config, config_from_dict
from console.profiles import refresh
from tests import segments_support as hand
from tests.segments_support import AS_OF, ts


@pytest.fixture
def base(db, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", AS_OF)
    hand.build(db)
    summary = refresh(db, Config())
    return db, summary


def test_every_user_gets_a_profile_and_the_dormancy_worked_out_by_hand(base):
    db, summary = base
    assert summary["mode"] == "full"
    assert summary["profiles"] == 7
    states = {u: hand.profile(db, u)["dormancy"] for u in "abcdefg"}
    assert states == {
        "a": "never_active",   # no events at all
        "b": "never_active",   # visited, never ordered (the metric is orders)
        "c": "dormant",        # 90 calendar days, though only 89 d 9.5 h have elapsed
        "d": "at_risk",        # 89 local days; by the UTC date it would be 90
        "e": "active",
        "f": "lost",
        "g": "at_risk",
    }
    assert summary["dormancy"] == {"active": 1, "at_risk": 2, "dormant": 1, "lost": 1, "never_active": 2}


def test_derived_fields_of_a_buyer(base):
    db, _ = base
    c = hand.profile(db, "c")
    assert c["orders"] == 3
    assert c["spend"] == 180
    assert c["aov"] == 60
    assert c["orders_30d"] == 2           # 07-01 is 57 days before the last order
    assert c["last_order_at"] == ts("2026-08-27T23:30:00+08:00")
    assert c["first_seen_at"] == ts("2026-07-01T12:00:00+08:00")
    assert c["top_category"] == "美妆"
    assert (c["last_action"], c["last_object"], c["last_category"]) == ("order", "lipstick", "美妆")
    assert c["last_visit_at"] is None and c["visits_7d"] == 0
    assert c["layer"] == "cold regular"


def test_visit_window_excludes_the_visit_exactly_seven_days_before(base):
    db, _ = base
    d = hand.profile(db, "d")
    assert d["last_visit_at"] == ts("2026-11-18T10:00:00+08:00")
    assert d["visits_7d"] == 2
    assert d["top_category"] is None       # its only order has no category
    assert d["last_action"] == "visit" and d["last_object"] == "sale"
    assert d["layer"] == "warm light"


def test_single_event_and_no_event_users(base):
    db, _ = base
    b = hand.profile(db, "b")
    assert (b["orders"], b["spend"], b["aov"], b["visits_7d"]) == (0, 0, None, 1)
    assert b["first_seen_at"] == b["last_event_at"] == b["last_visit_at"]
    assert b["layer"] == "warm light"
    a = hand.profile(db, "a")
    assert a["last_event_at"] is None and a["layer"] is None and a["orders"] == 0


def test_top_category_ties_go_to_the_most_recent_and_counts_win(base):
    db, _ = base
    assert hand.profile(db, "g")["top_category"] == "A"
    assert hand.profile(db, "e")["top_category"] == "食品"      # two 食品 orders against one 美妆
    assert hand.profile(db, "e")["layer"] == "warm loyal"
    assert hand.profile(db, "f")["layer"] == "cold light"


def test_rf_grid_scores_by_rank(base):
    db, _ = base
    cells = {u: (hand.profile(db, u)["rf_r"], hand.profile(db, u)["rf_f"], hand.profile(db, u)["rf_cell"])
             for u in "cdefg"}
    assert cells == {
        "e": (5, 5, "Champions"),
        "g": (4, 3, "Potential Loyalists"),
        "d": (3, 1, "About to Sleep"),
        "c": (2, 4, "At Risk"),
        "f": (1, 2, "Hibernating"),
    }
    assert hand.profile(db, "b")["rf_cell"] is None


def test_incremental_refresh_recomputes_only_users_with_new_events(base, monkeypatch):
    db, _ = base
    before = {r["user_id"]: r["refreshed_at"] for r in db.query("SELECT user_id, refreshed_at FROM profiles")}
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    hand.add_event(db, "f", "order", "2026-11-25T09:30:00+08:00", 50, "家居", "rug")
    summary = refresh(db, Config())
    assert summary["mode"] == "incremental"
    assert summary["users_recomputed"] == 1
    f = hand.profile(db, "f")
    assert (f["dormancy"], f["orders"], f["spend"]) == ("active", 2, 130)
    after = {r["user_id"]: r["refreshed_at"] for r in db.query("SELECT user_id, refreshed_at FROM profiles")}
    changed = [uid for uid in before if before[uid] != after[uid]]
    assert changed == [f["user_id"]]
    assert refresh(db, Config())["users_recomputed"] == 0


def test_a_day_later_users_cross_thresholds_without_new_events(base, monkeypatch):
    db, _ = base
    monkeypatch.setenv("WINBACK_NOW", "2026-11-26T09:00:00+08:00")
    summary = refresh(db, Config())
    assert summary["mode"] == "incremental" and summary["users_recomputed"] == 0
    assert hand.profile(db, "d")["dormancy"] == "dormant"      # now 90 days
    assert hand.profile(db, "c")["dormancy"] == "dormant"


def test_new_users_get_a_never_active_profile_incrementally(base):
    db, _ = base
    hand.add_user(db, "h", region="华东")
    refresh(db, Config())
    assert hand.profile(db, "h")["dormancy"] == "never_active"


def test_as_of_recomputes_the_past(base):
    db, _ = base
    summary = refresh(db, Config(), as_of=ts("2026-09-01T23:59:59+08:00"))
    assert summary["mode"] == "full"
    assert hand.profile(db, "c")["dormancy"] == "active"         # 5 days after its last order
    assert hand.profile(db, "e")["dormancy"] == "never_active"   # its orders came later
    assert hand.profile(db, "d")["last_visit_at"] is None
    # After a look at the past, the next plain refresh rebuilds everything for today.
    assert refresh(db, Config())["mode"] == "full"
    assert hand.profile(db, "e")["dormancy"] == "active"


def test_dormancy_metric_and_thresholds_come_from_the_config(base):
    db, _ = base
    visits = config_from_dict({"dormancy": {"metric": "visit", "at_risk_days": 7, "dormant_days": 30,
                                            "lost_days": 100}})
    refresh(db, visits)   # a config change re-derives every profile
    states = {u: hand.profile(db, u)["dormancy"] for u in "bcde"}
    # b: visit 5 days ago; c: orders count as visits, 90 days; d: visit 7 days ago; e: order yesterday
    assert states == {"b": "active", "c": "dormant", "d": "at_risk", "e": "active"}


def test_full_refresh_matches_incremental(base, monkeypatch):
    db, _ = base
    monkeypatch.setenv("WINBACK_NOW", "2026-12-20T09:00:00+08:00")
    hand.add_event(db, "b", "order", "2026-12-01T09:30:00+08:00", 10, "A", "x")
    hand.add_event(db, "g", "visit", "2026-12-19T09:30:00+08:00")
    refresh(db, Config())
    columns = "user_id, dormancy, layer, orders, orders_30d, visits_7d, visit_recency, order_recency, temperature"
    incremental = list(db.query(f"SELECT {columns} FROM profiles ORDER BY user_id"))
    refresh(db, Config(), full=True)
    assert list(db.query(f"SELECT {columns} FROM profiles ORDER BY user_id")) == incremental


def test_bad_dormancy_settings_are_refused(db):
    from console.config import ConfigError

    with pytest.raises(ConfigError, match="at_risk_days < dormant_days < lost_days"):
        refresh(db, config_from_dict({"dormancy": {"dormant_days": 400}}))


def test_progress_is_reported_to_the_end(db, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", AS_OF)
    hand.build(db)
    seen = []
    refresh(db, Config(), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_refresh_puts_the_connection_settings_back(db):
    before = [db.execute(f"PRAGMA {k}").fetchone()[0] for k in ("cache_size", "threads")]
    refresh(db, Config())
    assert [db.execute(f"PRAGMA {k}").fetchone()[0] for k in ("cache_size", "threads")] == before
