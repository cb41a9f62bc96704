"""Twilio 21611: the `from` number's queue already holds more than 10 hours of messages, so Twilio refuses to
create more on it (Twilio's error 21611: thrown "when attempting to create additional messages"; nothing is
queued). It says "not now" about the sender, not the recipient: every recipient would get it until the queue drains.

Now it is a wait: nothing more is asked of the sender for twilio.QUEUE_FULL_WAIT (the channel held for every process, as a
Retry-After), the recipients deferred (never failed), and the next run sends each once. Before, each recipient was
recorded `failed` (never resent) — once the queue was full, the rest of the audience was burnt.
"""

from __future__ import annotations

from collections import Counter

from console.campaigns import control
from tests.test_twilio_newcomer import _phone, _statuses, _workspace
from tests.twilio_fake import FakeTwilio

FULL = (400, {"code": 21611, "message": "This 'From' number has exceeded the maximum number of queued messages",
              "status": 400})


def test_a_full_sender_queue_defers_the_recipients_and_a_later_run_sends_each_once(tmp_path, monkeypatch):
    from console.campaigns import model

    monkeypatch.setenv("WINBACK_NOW", "2026-12-08T10:00:00+00:00")
    with FakeTwilio(answers={_phone(i): FULL for i in (1, 2, 3)}) as tw:
        ws, db = _workspace(tmp_path, monkeypatch, tw.url)
        model.create(db, "c", segment="all", channel="sms", template="miss-en", holdout=0)
        control.launch(db, ws.config, "c", real=True, max_wait=0)
        assert _statuses(db) == {"deferred": 3}, _statuses(db)   # none failed
        assert len(tw.arrived) == 1                               # the sender was not asked again meanwhile
        assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] <= 1
        assert model.get(db, "c").status != "paused"

        tw.answers.clear()   # the queue drained
        monkeypatch.setenv("WINBACK_NOW", "2026-12-08T11:00:00+00:00")   # past the wait
        control.resume(db, ws.config, "c", max_wait=0)
    assert Counter(tw.numbers()) == {_phone(i): 1 for i in (1, 2, 3)}
    assert _statuses(db) == {"sent": 3}
    db.close()
