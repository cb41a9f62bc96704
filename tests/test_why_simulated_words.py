"""`winback why USER --campaign C` never words a dry-run or simulated row as sent: nothing of it was sent.

Real means real: the summary and the ledger lines say "would send" (a dry run) or "simulated" (the demo's made-up
rows), as the person page and the tallies do; --json keeps each ledger row's stored `status` (scripts read it)
and says beside it whether the row is real (`mode`) and what the operator is shown (`state`).
"""

from __future__ import annotations

import json

import pytest

from tests.policy_support import add_campaign, add_send, add_user, ts

MORNING = "2026-11-25T10:00:00+08:00"


def why(cli, *args: str) -> str:
    result = cli("why", "u1", "--campaign", "spring", *args, env={"WINBACK_NOW": MORNING})
    assert result.exit_code == 0, result.output
    # the text wraps at the terminal's width: read it as one run of words
    return result.stdout if "--json" in args else " ".join(result.stdout.split())


@pytest.fixture
def shop(db):
    cid = add_campaign(db, "spring", "sms", dry_run=True)
    uid = add_user(db, "u1", phone="+8613800000001")
    return db, cid, uid


def test_a_dry_run_row_is_said_would_send_never_sent(shop, cli):
    db, cid, uid = shop
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="sent", dry_run=True, counts=False)
    text = why(cli)
    assert "(sent" not in text and ", sent" not in text, text
    assert "already has this user (would send — dry run, nothing was sent)" in text
    assert "would send [dry-run]" in text                      # the ledger line
    data = json.loads(why(cli, "--json"))
    row = data["ledger"][-1]
    assert row["status"] == "sent"                             # the stored word, kept for scripts
    assert (row["mode"], row["state"]) == ("dry run", "would send")
    assert "sent," not in data["summary"] and "would send" in data["summary"]


def test_the_demos_simulated_row_is_said_simulated_never_sent(shop, cli):
    db, cid, uid = shop
    db.execute("UPDATE campaigns SET simulated = 1 WHERE id = ?", [cid])
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="delivered", dry_run=True, counts=False)
    text = why(cli)
    assert "(delivered" not in text and "(sent" not in text, text
    assert "already has this user (simulated — made up by the demo, nothing was sent)" in text
    assert "simulated [simulated]" not in text and "arm A, simulated" in text
    row = json.loads(why(cli, "--json"))["ledger"][-1]
    assert (row["status"], row["mode"], row["state"]) == ("delivered", "simulated", "simulated")


def test_a_real_row_keeps_its_word(db, cli):
    cid = add_campaign(db, "spring", "sms")
    uid = add_user(db, "u1", phone="+8613800000001")
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="delivered", counts=False)
    text = why(cli)
    assert "already has this user (delivered): not sent again in that run" in text
    row = json.loads(why(cli, "--json"))["ledger"][-1]
    assert (row["status"], row["mode"], row["state"]) == ("delivered", "real", "delivered")


def test_a_dry_run_row_that_was_not_done_says_its_mode(shop, cli):
    db, cid, uid = shop
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="skipped", dry_run=True, counts=False)
    assert "arm A, skipped [dry-run]" in why(cli)
