"""A real run whose messages wait for quiet hours: `campaign tally` says when they are due and what sends them.

Found in a first real Aliyun campaign launched before 08:00: the launch said "deferred messages are due at 08:00 …
run-due (cron) or resume continues them", but the tally a newcomer then watches read `running`, 1,005 deferred,
0 msgs/s — and nothing says that nothing sends them unless run-due runs."""

from __future__ import annotations

import json

from tests.conftest import FROZEN_NOW
from tests.outcomes_ledger import add_campaign, add_sends, add_users

NOW = 1_795_572_000   # FROZEN_NOW, 2026-11-25 10:00 UTC+8
DUE = NOW + 3 * 3600  # 13:00 UTC+8


def _waiting_run(db) -> None:
    add_users(db, 6)
    cid = add_campaign(db, "first-sms", launched_at=NOW - 60)
    add_sends(db, cid, 1, 2, "A", sent_at=NOW - 30)
    add_sends(db, cid, 3, 6, "A", status="deferred")
    db.execute("UPDATE sends SET reason = 'quiet_hours', not_before = ? + user_id - 3 WHERE status = 'deferred'",
               [DUE])


def test_the_tally_of_a_real_run_waiting_for_quiet_hours_says_when_and_what_continues_it(cli, db):
    assert FROZEN_NOW == "2026-11-25T10:00:00+08:00"
    _waiting_run(db)
    result = cli("campaign", "tally", "first-sms")
    assert result.exit_code == 0, result.output
    assert ("4 deferred (quiet hours 4): the first due at 2026-11-25 13:00 UTC+8 — `winback campaign run-due` "
            "(cron) or `winback campaign resume first-sms` sends them then") in " ".join(result.output.split())
    data = json.loads(cli("campaign", "tally", "first-sms", "--json").output)
    assert data["deferred_due"] == DUE


async def test_deliveries_says_when_a_real_run_s_deferred_recipients_are_due_and_what_sends_them(workspace, db):
    from tests.tui_helpers import make_app, text_of, wait_for

    _waiting_run(db)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        app.followed_campaign = "first-sms"
        await pilot.press("d")
        await wait_for(pilot, lambda: "deferred:" in text_of(pilot, "#skipped-line"), what="the deferred count")
        line = " ".join(text_of(pilot, "#skipped-line").split())
        assert "deferred: quiet hours 4 · first due 11-25 13:00 UTC+8, sent then by `winback campaign run-due` (cron)" in line


async def test_r_on_a_run_waiting_for_quiet_hours_says_when_its_deferred_are_due(workspace, db):
    from screens.dialogs import ConfirmDialog
    from tests.tui_helpers import make_app, text_of, wait_for

    _waiting_run(db)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        app.followed_campaign = "first-sms"
        await pilot.press("d")
        await wait_for(pilot, lambda: "deferred:" in text_of(pilot, "#skipped-line"), what="the tally")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        body = " ".join(str(app.screen.body).split())
        assert "Its 4 deferred are not due before 11-25 13:00 UTC+8: resumed earlier, it sends nothing" in body
        await pilot.press("n")
