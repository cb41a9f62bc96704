"""Recommendations' co-occurrence (issue 17): bounded per buyer, and kept up to date from new orders only."""

from __future__ import annotations

import pytest

from console import recommendations

NOW = 1_764_000_000
DAY = 86_400
_fp = iter(range(1, 10**9))


def add_user(db, ext: str) -> int:
    return db.execute("INSERT INTO users (external_id, created_at, updated_at) VALUES (?, 0, 0)", [ext]).lastrowid


def order(db, uid: int, item: str, days_ago: float, kind: str = "order", category: str | None = "c") -> None:
    db.execute("INSERT INTO events (user_id, kind, at, category, object, fingerprint) VALUES (?, ?, ?, ?, ?, ?)",
               [uid, kind, int(NOW - days_ago * DAY), category, item, next(_fp)])


def also_bought(db) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for obj, other, n in db.execute("SELECT object, other, buyers FROM rec_also_bought ORDER BY object, rank"):
        out.setdefault(obj, []).append((other, n))
    return out


def tables(db) -> dict[str, list[tuple]]:
    return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall())
            for t in ("rec_also_bought", "rec_best_sellers", "rec_pairs", "rec_user_items", "rec_item_orders")}


def test_only_each_buyers_latest_distinct_items_count(db, monkeypatch):
    monkeypatch.setattr(recommendations, "RECENT_ITEMS_PER_USER", 3)
    heavy, light = add_user(db, "heavy"), add_user(db, "light")
    # heavy bought A long ago, then B, C, D (and C again): their latest three distinct are D, C, B.
    for item, days in (("A", 50), ("B", 40), ("C", 30), ("D", 20), ("C", 10)):
        order(db, heavy, item, days)
    order(db, light, "A", 5)
    order(db, light, "B", 4)
    recommendations.refresh(db)
    got = also_bought(db)
    # A fell out of heavy's window: light is A's only co-buyer, and A is never "also bought" with C or D.
    assert got["A"] == [("B", 1)]
    assert got["B"] == [("A", 1), ("C", 1), ("D", 1)]
    assert got["D"] == [("B", 1), ("C", 1)]


def test_new_orders_update_the_counts_without_a_full_rebuild(db, monkeypatch):
    monkeypatch.setattr(recommendations, "RECENT_ITEMS_PER_USER", 3)
    users = [add_user(db, f"u{i}") for i in range(8)]
    for i, uid in enumerate(users):
        for j in range(i % 5 + 1):
            order(db, uid, f"item{(i * 3 + j) % 7}", 100 - j, category=f"cat{j % 2}")
    assert recommendations.refresh(db) is True

    # New orders: new items pushing old ones out of a window, a repeat, a back-filled old order, a new buyer.
    order(db, users[4], "item9", 1)
    order(db, users[4], "item8", 0.5, category="cat1")
    order(db, users[2], "item0", 2)
    order(db, users[6], "item5", 300)
    order(db, add_user(db, "new"), "item1", 1)
    order(db, users[1], "item3", 1, kind="purchase", category=None)

    def no_rebuild(_db) -> None:
        raise AssertionError("rebuilt everything for a few new orders")

    with monkeypatch.context() as m:
        m.setattr(recommendations, "_rebuild", no_rebuild)
        assert recommendations.refresh(db) is True
    incremental = tables(db)
    assert recommendations.refresh(db, force=True) is True
    assert incremental == tables(db)


def test_visits_and_views_do_not_rebuild(db):
    uid = add_user(db, "u")
    order(db, uid, "A", 3)
    order(db, uid, "B", 2)
    assert recommendations.refresh(db) is True
    db.execute("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (?, 'visit', ?, 'v1')", [uid, NOW])
    order(db, uid, "C", 1, kind="view")
    assert recommendations.is_fresh(db)
    assert recommendations.refresh(db) is False


@pytest.mark.parametrize("changed", [1, 3])
def test_many_changed_buyers_fall_back_to_one_full_pass(db, monkeypatch, changed):
    monkeypatch.setattr(recommendations, "INCREMENTAL_MAX_BUYERS", 2)
    users = [add_user(db, f"u{i}") for i in range(3)]
    for uid in users:
        order(db, uid, "A", 10)
    recommendations.refresh(db)
    for uid in users[:changed]:
        order(db, uid, "B", 1)
    calls: list[int] = []
    real = recommendations._rebuild
    monkeypatch.setattr(recommendations, "_rebuild", lambda d: calls.append(1) or real(d))
    recommendations.refresh(db)
    assert calls == ([1] if changed > 2 else [])
    assert also_bought(db)["B"] == [("A", changed)]


def test_a_refresh_keeps_the_callers_temp_tables_and_settings(db):
    """Batches and previews refresh on a connection that may hold temp tables (a program's members)."""
    uid = add_user(db, "u")
    order(db, uid, "A", 3)
    order(db, uid, "B", 2)
    db.execute("CREATE TEMP TABLE callers (user_id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO temp.callers VALUES (1)")
    settings = [db.execute(f"PRAGMA {k}").fetchone()[0] for k in ("temp_store", "cache_size")]
    assert recommendations.refresh(db) is True
    assert db.execute("SELECT count(*) FROM temp.callers").fetchone()[0] == 1
    db.execute("DROP TABLE temp.callers")
    order(db, uid, "C", 1)
    assert recommendations.refresh(db) is True
    assert [db.execute(f"PRAGMA {k}").fetchone()[0] for k in ("temp_store", "cache_size")] == settings
