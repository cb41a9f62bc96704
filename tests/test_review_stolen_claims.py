"""Review: a batch's messages returned *not attempted* must not write rows another dispatcher holds now.

Dispatcher A claims a batch of 10; the gateway holds the 3rd message (on the wire). A's lease lapses meanwhile
(a slow provider) and dispatcher B (another process: another holder) recovers A's lost claims — the 7 never handed
over go back to `planned`, their booked cost refunded — then claims them itself and hands them to the provider.
Then the gateway answers A's 3rd message 429 Retry-After an hour: A returns the 7 not attempted (the provider asked
the batch to stay away). Those rows are B's now: A's record must leave them claimed by B, handed, and must not
refund their cost a second time. Before the fix A's record_deferred (and release_unsent, the unreachable twin)
matched any `claimed` row: B's rows on the wire became `deferred` with handed_at cleared — sent again by the next
claim, B's own answers then lost — and the run's spending was refunded twice. Conditions are waited for, never time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaign_support import (
    SMS_TEMPLATE,
    add_template,
    add_users,
    launch_in_background,
    load_workspace,
    wait_until,
    write_config,
)
from tests.servers import HttpGateway

HANG = 300.0   # only stops a hung test; nothing asserts how long anything takes
PRICE = 0.04
OTHER = "another-host:4242"   # dispatcher B: a process elsewhere (never taken for dead)




def test_rows_taken_over_by_another_dispatcher_are_not_rewritten_by_the_batch_that_lost_them(tmp_path: Path,
                                                                                             monkeypatch) -> None:
    from console.campaigns import ledger, model, pacing
    from console.campaigns.runs import recover_lost_claims
    from storage.tx import immediate

    monkeypatch.setenv("WB_REVIEW_TOKEN", "t")
    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=2, retry_after="3600") as gw:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_REVIEW_TOKEN", "price": PRICE, "concurrency": 1,
            "batch": 10, "timeout": HANG}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 10)
        add_template(db, ws.config, SMS_TEMPLATE)
        third = db.execute("SELECT phone FROM users ORDER BY id LIMIT 1 OFFSET 2").fetchone()[0]
        gw.state.answer_after_accept[third] = 429   # its answer, once released: come back in an hour
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        cid = model.get(db, "c").id
        sender, outcome = launch_in_background(ws, "c")
        try:
            wait_until(lambda: len(gw.state.accepted) >= 3 or not sender.is_alive(), "the third message on the wire")
            assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'claimed' AND handed_at IS NULL"
                              ).fetchone()[0] == 7
            lease = db.execute("SELECT MAX(lease_until) FROM sends WHERE status = 'claimed'").fetchone()[0]
            # B, after A's lease lapsed: recovery, then its own claim of the 7 (booked) and its hand-off stamp
            recover_lost_claims(db, cid, now=lease + 1)
            back = [r[0] for r in db.execute("SELECT id FROM sends WHERE status = 'planned' ORDER BY id")]
            assert len(back) == 7
            with immediate(db):
                ledger.claim(db, [(sid, None, 1, PRICE, None, None, None, None) for sid in back], holder=OTHER,
                             now=lease + 1, lease_until=lease + 10_000, dry_run_sent=False)
                pacing.book(db, cid, 1, 7 * PRICE)
                ledger.mark_handed(db, [(lease + 2, sid) for sid in back])
        finally:
            gw.state.release.set()
            sender.join(HANG)
        assert "error" not in outcome, outcome.get("error")

    rows = db.execute("SELECT status, claimed_by, handed_at IS NOT NULL FROM sends WHERE id IN "
                      f"({','.join(map(str, back))})").fetchall()
    assert rows == [("claimed", OTHER, 1)] * 7, "B's rows (on the wire) were rewritten by A's batch"
    # 2 sent by A, 7 booked by B; the 3rd (429: not taken) refunded once
    assert db.execute("SELECT spent FROM campaign_runs").fetchone()[0] == pytest.approx(9 * PRICE)
