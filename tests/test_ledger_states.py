"""The ledger's state machines (console/campaigns/ledger.py): legal moves happen, illegal ones raise and change
nothing, conditional moves lost to another process change nothing and say so; send-row transitions keep to
SEND_MOVES. On a real, migrated SQLite workspace."""

from __future__ import annotations

import pytest

from console.campaigns import ledger, model
from console.campaigns.ledger import CAMPAIGN_MOVES, SEND_MOVES, CampaignStatus, IllegalTransition, SendState
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users

C = CampaignStatus
S = SendState


@pytest.fixture
def campaign(workspace, db) -> model.Campaign:
    add_users(db, 3)
    add_template(db, workspace.config, SMS_TEMPLATE)
    return model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)


def _status(db, campaign: model.Campaign) -> str:
    return db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign.id]).fetchone()[0]


def _force(db, campaign: model.Campaign, status: CampaignStatus) -> None:
    # test setup only: put the campaign in a state without walking there
    db.execute("UPDATE campaigns SET status = ? WHERE id = ?", [status.value, campaign.id])
    db.conn.commit()


def test_the_tables_name_every_state_the_schema_allows(db):
    schema = db.execute("SELECT sql FROM sqlite_master WHERE name = 'sends'").fetchone()[0]
    assert all(f"'{s.value}'" in schema for s in S) and set(SEND_MOVES) == set(S)
    schema = db.execute("SELECT sql FROM sqlite_master WHERE name = 'campaigns'").fetchone()[0]
    assert all(f"'{c.value}'" in schema for c in C) and set(CAMPAIGN_MOVES) == set(C)
    # terminal states stay terminal
    assert CAMPAIGN_MOVES[C.CANCELLED] == frozenset()
    assert all(SEND_MOVES[s] == frozenset() for s in (S.FAILED, S.BOUNCED, S.SKIPPED, S.CANCELLED, S.HOLDOUT))


@pytest.mark.parametrize("old,new", [(old, new) for old in C for new in sorted(CAMPAIGN_MOVES[old])])
def test_every_legal_campaign_move_is_made(db, campaign, old, new):
    _force(db, campaign, old)
    assert ledger.move_campaign(db, campaign.id, new, pause_reason="why") is True
    assert _status(db, campaign) == new.value


@pytest.mark.parametrize("old,new", [(old, new) for old in C for new in C
                                     if new not in CAMPAIGN_MOVES[old]])
def test_every_illegal_campaign_move_raises_and_changes_nothing(db, campaign, old, new):
    _force(db, campaign, old)
    with pytest.raises(IllegalTransition, match=f"from {old.value} to {new.value}"):
        ledger.move_campaign(db, campaign.id, new, pause_reason="why")
    assert _status(db, campaign) == old.value
    assert db.execute("SELECT pause_reason FROM campaigns WHERE id = ?", [campaign.id]).fetchone()[0] is None


def test_a_conditional_move_lost_to_another_process_changes_nothing(db, campaign):
    # a brake (running → paused) finds the campaign already cancelled: no error, no change
    _force(db, campaign, C.CANCELLED)
    assert ledger.move_campaign(db, campaign.id, C.PAUSED, when={C.RUNNING}, pause_reason="brake") is False
    assert _status(db, campaign) == "cancelled"
    _force(db, campaign, C.RUNNING)
    assert ledger.move_campaign(db, campaign.id, C.PAUSED, when={C.RUNNING}, pause_reason="brake") is True
    assert db.execute("SELECT status, pause_reason FROM campaigns WHERE id = ?",
                      [campaign.id]).fetchone() == ("paused", "brake")


def test_only_known_columns_go_with_a_status(db, campaign):
    with pytest.raises(ValueError, match="segment"):
        ledger.move_campaign(db, campaign.id, C.RUNNING, segment="x")
    assert _status(db, campaign) == "draft"


def test_a_scheduled_campaign_is_created_through_the_ledger(db, campaign):
    assert _status(db, campaign) == "draft"
    later = model.create(db, "later", segment="all", channel="sms", template="miss-you", holdout=0,
                         at=1_796_000_000)
    assert _status(db, later) == "scheduled"


def _send(db, campaign: model.Campaign, status: SendState, **cols) -> int:
    user = db.execute("SELECT MIN(id) FROM users WHERE id NOT IN (SELECT user_id FROM sends)").fetchone()[0]
    cur = db.execute("INSERT INTO sends (campaign_id, user_id, run, arm, channel, address, status, dry_run, "
                     "counts_for_caps, claimed_by, updated_at) VALUES (?, ?, 1, 'A', 'sms', '+8613800000000', ?, "
                     "0, 1, ?, 0)", [campaign.id, user, status.value, cols.get("claimed_by")])
    db.conn.commit()
    return int(cur.lastrowid)


def _row(db, send_id: int) -> tuple:
    return db.execute("SELECT status, reason FROM sends WHERE id = ?", [send_id]).fetchone()


def test_send_results_move_only_from_the_states_the_table_allows(db, campaign):
    claimed = _send(db, campaign, S.CLAIMED, claimed_by="me")
    skipped = _send(db, campaign, S.SKIPPED)
    cancelled = _send(db, campaign, S.CANCELLED)
    for sid in (claimed, skipped, cancelled):
        ledger.record_failed(db, sid, "refused", 1)
        ledger.record_sent(db, sid, "p1", 2)
    # claimed → failed (legal); a failure is final: the late "sent" does not undo it
    assert _row(db, claimed) == ("failed", "provider_refused")
    # skipped and cancelled are terminal: neither moved
    assert _row(db, skipped)[0] == "skipped" and _row(db, cancelled)[0] == "cancelled"
    assert ledger.may_move("claimed", "failed") and not ledger.may_move("failed", "sent")
    assert not ledger.may_move("skipped", "sent") and not ledger.may_move("cancelled", "planned")


def test_a_skip_before_hand_off_needs_the_claim_to_be_ours(db, campaign):
    mine = _send(db, campaign, S.CLAIMED, claimed_by="me")
    theirs = _send(db, campaign, S.CLAIMED, claimed_by="other")
    assert ledger.record_skipped(db, mine, "suppressed", "me", 1) is True
    assert ledger.record_skipped(db, theirs, "suppressed", "me", 1) is False
    assert _row(db, mine) == ("skipped", "suppressed") and _row(db, theirs) == ("claimed", None)
    assert ledger.still_ours(db, [mine, theirs], "other") == {theirs}


def test_unknown_goes_back_to_planned_only_by_requeue(db, campaign):
    unknown = _send(db, campaign, S.UNKNOWN)
    sent = _send(db, campaign, S.SENT)
    assert ledger.requeue_unknown(db, [unknown, sent], 5) == 1
    assert _row(db, unknown)[0] == "planned" and _row(db, sent)[0] == "sent"
    assert ledger.cancel_open(db, campaign.id, 6) == 1
    assert _row(db, unknown) == ("cancelled", "cancelled") and _row(db, sent)[0] == "sent"


def test_history_from_elsewhere_goes_in_through_the_ledger_in_named_states(db):
    add_users(db, 2)
    cid = ledger.insert_past_campaign(db, {"name": "past", "segment": "all", "channel": "sms", "holdout_pct": 50,
                                           "dry_run": 0, "salt": "s", "created_at": 0, "created_by": "sim"})
    cols = ("campaign_id", "user_id", "run", "arm", "channel", "status", "dry_run", "counts_for_caps", "updated_at")
    ledger.insert_past_sends(db, cols, [(cid, 1, 1, "A", "sms", "delivered", 0, 1, 0)])
    with pytest.raises(ValueError, match="'gone'"):
        ledger.insert_past_sends(db, cols, [(cid, 2, 1, "A", "sms", "gone", 0, 1, 0)])
    db.conn.commit()
    assert db.execute("SELECT status FROM campaigns WHERE id = ?", [cid]).fetchone()[0] == "completed"
    assert [r[0] for r in db.execute("SELECT status FROM sends WHERE campaign_id = ?", [cid])] == ["delivered"]
