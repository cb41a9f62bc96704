"""The deliveries rate chart comes from the ledger: messages per time bucket, whoever looks and whenever."""

from __future__ import annotations

import pytest

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

NOW = 1_800_000_000


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 0.04}}))
    conn = ws.open()
    add_users(conn, 12)
    add_template(conn, ws.config, SMS_TEMPLATE)
    from console.campaigns import model

    model.create(conn, "c", segment="all", channel="sms", template="miss-you")
    yield conn
    conn.close()


def _ledger(db, rows):
    """(status, claimed_at, sent_at) per recipient, one user each."""
    campaign = db.execute("SELECT id FROM campaigns WHERE name = 'c'").fetchone()[0]
    users = [r[0] for r in db.execute("SELECT id FROM users ORDER BY id")]
    db.conn.executemany(
        "INSERT INTO sends (campaign_id, user_id, arm, channel, status, dry_run, counts_for_caps, claimed_at, "
        "sent_at, updated_at) VALUES (?, ?, 'A', 'sms', ?, 1, 0, ?, ?, ?)",
        [(campaign, users[i], status, claimed, sent, NOW) for i, (status, claimed, sent) in enumerate(rows)])


def test_rate_history_counts_handed_out_messages_per_bucket_oldest_first(db):
    from console.campaigns.tallies import rate_history

    _ledger(db, [
        ("sent", NOW - 5, NOW - 1),        # last bucket (sent_at wins over claimed_at)
        ("delivered", NOW - 12, NOW - 9),  # last bucket
        ("failed", NOW - 15, None),        # second to last, at claimed_at
        ("claimed", NOW - 25, None),       # third to last
        ("sent", NOW - 299, NOW - 299),    # the oldest bucket's first second
        ("sent", NOW - 300, NOW - 300),    # just before the window: left out
        ("sent", NOW, NOW),                # this very second: the last bucket
        ("sent", NOW + 1, NOW + 1),        # after `now`: left out
        ("planned", None, None),           # not handed out
        ("skipped", None, None),
        ("holdout", None, None),
    ])
    history = rate_history(db, "c", now=NOW)
    assert len(history) == 30
    assert history[-1] == 3 and history[-2] == 1 and history[-3] == 1
    assert history[0] == 1
    assert sum(history) == 6
    assert rate_history(db, "c", buckets=3, bucket_seconds=100, now=NOW) == [1, 0, 5]


def test_rate_history_of_a_campaign_not_launched_is_all_zero(db):
    from console.campaigns.tallies import rate_history

    assert rate_history(db, "c", buckets=5, now=NOW) == [0, 0, 0, 0, 0]
