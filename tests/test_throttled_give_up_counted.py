"""A message throttled MAX_ATTEMPTS times is recorded `failed` ('throttled') by the hand-off (ledger.record_deferred
gives up) — the run's line and exit code must say so. Before, the dispatcher counted it from the channel's answer
(deferred): 'failed 0, deferred 3', exit 0, while the ledger held 3 failed recipients that are never resent — cron
was not told, and `campaign failures` was not pointed to.
"""

from __future__ import annotations

from collections import Counter

from console.campaigns import model
from console.campaigns.handoff import MAX_ATTEMPTS
from tests.test_send_leftovers_cli import _cli, _server, _words, _workspace

NUMBERS = [f"1380000000{i}" for i in (1, 2, 3)]


def test_the_attempt_that_gives_up_on_a_throttled_message_is_counted_failed_and_exits_1(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3)
        srv.state.code_for.update({n: ("Throttling.User", "Request was denied due to user flow control.")
                                   for n in NUMBERS})
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        launched = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert "deferred 3" in _words(launched), launched.output
        # as if throttled at every run since: the next claim is the last attempt
        db.execute("UPDATE sends SET attempts = ?", [MAX_ATTEMPTS - 1])
        db.conn.commit()
        monkeypatch.setenv("WINBACK_NOW", "2026-11-25T12:00:00+08:00")   # the deferrals are due
        resumed = _cli(ws, "campaign", "resume", "c")
    assert Counter(r[0] for r in db.execute("SELECT status FROM sends")) == {"failed": 3}
    text = _words(resumed)
    assert "failed 3" in text and "deferred 0" in text, text
    assert resumed.exit_code == 1 and "winback campaign failures c" in text, resumed.output
    db.close()
