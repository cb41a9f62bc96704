"""The services' `search` (issue 18, console/search.py): every row, not a page, matched on what the row shows —
contact details as masked, so digits the mask hides find nobody — and counted in all."""

from __future__ import annotations

import pytest

from console import audit, segments, templates
from console.campaigns import control, model, tallies
from console.policy import quiet_hours
from console.privacy import mask_phone
from tests.tui_helpers import demo_workspace


@pytest.fixture
def db(tmp_path, monkeypatch):
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml('name = "hi"\nchannel = "sms"\nbody = "好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    model.create(db, "nov-sms", segment="all", channel="sms", template="hi", holdout=0)
    control.launch(db, workspace.config, "nov-sms")
    yield db
    db.close()


def _with_phone(db):
    return db.execute("SELECT external_id, phone FROM users WHERE phone LIKE '+861%' ORDER BY id DESC LIMIT 1"
                      ).fetchone()


def test_members_are_found_by_their_masked_phone_not_by_the_hidden_digits(db):
    user, phone = _with_phone(db)
    shown = mask_phone(phone)  # 138****5678
    hidden = phone[-8:-4]  # the four digits the mask replaces with ****
    last_four = shown[-4:]
    found = segments.members(db, "all", page_size=10_000, search=last_four)
    assert user in [m["user"] for m in found]
    assert all(last_four in m["phone"] or last_four in m["user"] or last_four in (m["email"] or "")
               for m in found)
    assert segments.member_count(db, "all", search=last_four) == len(found)
    masked_hits = [m["user"] for m in segments.members(db, "all", page_size=10_000, search=phone[-8:])]
    assert user not in masked_hits  # the hidden middle digits and the last four together: not on screen
    assert user not in [m["user"] for m in segments.members(db, "all", page_size=10_000, search=hidden + last_four)]


def test_unmasked_member_search_finds_the_whole_number_and_is_audited_with_its_search(db):
    user, phone = _with_phone(db)
    found = segments.members(db, "all", page_size=50, unmask=True, search=phone[-8:])
    assert user in [m["user"] for m in found]
    entry = audit.recent(db, limit=1)[0]
    assert entry["action"] == "segment.unmask" and entry["details"]["search"] == phone[-8:]


def test_a_page_of_matches_and_their_count_cover_the_whole_segment(db):
    every = segments.members(db, "all", page_size=10_000)
    dormant = [m["user"] for m in every if m["dormancy"] == "dormant"]
    assert len(dormant) > 50
    pages = [segments.members(db, "all", page=p, page_size=50, search="DORMANT") for p in (1, 2, 3)]
    assert [m["user"] for page in pages for m in page] == dormant
    assert segments.member_count(db, "all", search="dormant") == len(dormant)
    assert segments.member_count(db, "all") == len(every)


def test_recipients_search_every_row_of_the_state_and_count_them(db):
    sent = tallies.recipients(db, "nov-sms", "sent", limit=100_000)
    assert len(sent) > 200
    oldest = sent[-1]
    assert tallies.recipients(db, "nov-sms", "sent", search=oldest["external_id"]) == [oldest]
    assert tallies.recipient_count(db, "nov-sms", "sent") == len(sent)
    skipped = tallies.recipients(db, "nov-sms", "skipped", limit=100_000)
    no_consent = [r for r in skipped if r["reason"] == "no_consent"]
    assert tallies.recipient_count(db, "nov-sms", "skipped", search="No_Consent") == len(no_consent) > 0
    phone = db.execute("SELECT phone FROM users WHERE external_id = ?", [oldest["external_id"]]).fetchone()[0]
    assert tallies.recipients(db, "nov-sms", "sent", search=phone[-8:]) == []  # masked: the hidden digits


def test_audit_search_matches_the_details_as_shown_and_counts_the_whole_log(db):
    for i in range(250):
        audit.record_now(db, "test.filler", step=i)
    assert audit.count(db) > 250
    hits = audit.recent(db, limit=10, search="step=7")  # step=7 and step=70 … step=79
    assert audit.count(db, search="step=7") == 11 and len(hits) == 10
    assert audit.recent(db, limit=1000, search="campaign=nov-sms")[0]["action"] == "campaign.launch"
    assert audit.count(db, action="campaign.*", search="nov-sms") == 2
