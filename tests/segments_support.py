"""A small base whose profiles are worked out by hand (workspace zone Asia/Shanghai, UTC+8).

As of 2026-11-25 09:00 +08:00 (local date 25 November):

user  events (local times)                                            expected
a     none                                                            never active, no layer
b     one visit 11-20 10:00                                           never ordered → never active; warm light
c     orders 07-01 (食品 30), 08-01 (美妆 50), 08-27 23:30 (美妆 100)  last order 90 calendar days ago → dormant
      (only 89 days and 9.5 hours have elapsed: calendar days in the workspace zone, not 24-hour periods)
      orders_30d 2 (07-01 is 57 days earlier), orders 3, spend 180, aov 60, top 美妆; cold regular
d     order 08-28 00:30 (= 08-27 16:30 UTC), visits 11-11 10:00,       89 local days → at risk (UTC date would say 90)
      11-12 10:00, 11-18 10:00                                        visits_7d 2: 11-11 10:00 is exactly 7 days
                                                                      before the last visit, outside the window
e     orders 11-10 (美妆 200), 11-20 (食品 100), 11-24 20:00 (食品 300)  active; orders_30d 3; top 食品; warm loyal
f     order 2025-11-01                                                389 days → lost; cold light
g     orders 10-01 (B), 10-02 (A)                                     54 days → at risk; top A (tie → most recent)
"""

from __future__ import annotations

from datetime import datetime

AS_OF = "2026-11-25T09:00:00+08:00"


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


USERS = [
    # external_id, name, phone, email, region, gender
    ("a", "王小明", "+8613812345678", "alice@example.com", "华东", "F"),
    ("b", "Bob", "+8613900001111", "bob@example.com", "华南", "M"),
    ("c", "陈静", "+8613700002222", "chen@example.com", "华东", "F"),
    ("d", "Dan", "+8613600003333", "dan@example.com", "华北", "M"),
    ("e", "Eve", "+8613500004444", "eve@example.com", "华南", "F"),
    ("f", "Fay", "+8613400005555", "fay@example.com", "西南", "F"),
    ("g", "Gus", "+8613300006666", "gus@example.com", "华东", "M"),
]

EVENTS = [
    # user, kind, local time, amount, category, object
    ("b", "visit", "2026-11-20T10:00:00+08:00", None, None, "home"),
    ("c", "order", "2026-07-01T12:00:00+08:00", 30, "食品", "rice"),
    ("c", "order", "2026-08-01T12:00:00+08:00", 50, "美妆", "cream"),
    ("c", "order", "2026-08-27T23:30:00+08:00", 100, "美妆", "lipstick"),
    ("d", "order", "2026-08-28T00:30:00+08:00", 20, None, "socks"),
    ("d", "visit", "2026-11-11T10:00:00+08:00", None, None, "home"),
    ("d", "visit", "2026-11-12T10:00:00+08:00", None, None, "home"),
    ("d", "visit", "2026-11-18T10:00:00+08:00", None, None, "sale"),
    ("e", "order", "2026-11-10T12:00:00+08:00", 200, "美妆", "serum"),
    ("e", "order", "2026-11-20T12:00:00+08:00", 100, "食品", "tea"),
    ("e", "order", "2026-11-24T20:00:00+08:00", 300, "食品", "gift box"),
    ("f", "order", "2025-11-01T12:00:00+08:00", 80, "家居", "lamp"),
    ("g", "order", "2026-10-01T12:00:00+08:00", 10, "B", "b1"),
    ("g", "order", "2026-10-02T12:00:00+08:00", 10, "A", "a1"),
]

_fingerprint = iter(range(1, 10**9))


def add_user(db, external_id: str, name: str | None = None, phone: str | None = None, email: str | None = None,
             region: str | None = None, gender: str | None = None) -> int:
    cur = db.execute(
        "INSERT INTO users (external_id, name, phone, email, region, gender, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 0, 0)", [external_id, name, phone, email, region, gender])
    return cur.lastrowid


def add_event(db, external_id: str, kind: str, when: str, amount=None, category=None, obj=None,
              source: str = "app") -> None:
    uid = db.execute("SELECT id FROM users WHERE external_id = ?", [external_id]).fetchone()[0]
    db.execute("INSERT INTO events (user_id, kind, at, amount, category, object, source, fingerprint) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [uid, kind, ts(when), amount, category, obj, source,
                                                   next(_fingerprint)])


def build(db) -> None:
    for row in USERS:
        add_user(db, *row)
    for user, kind, when, amount, category, obj in EVENTS:
        add_event(db, user, kind, when, amount, category, obj)


def profile(db, external_id: str) -> dict:
    rows = list(db.query("SELECT p.* FROM profiles p JOIN users u ON u.id = p.user_id WHERE u.external_id = ?",
                         [external_id]))
    return rows[0]
