"""`campaign resume` of a run whose messages quiet hours still hold printed 'deferred 0': the count was of the
messages this resume deferred, not of those still deferred. It says how many of the run wait now."""

from __future__ import annotations

from console.campaigns import model
from console.policy import quiet_hours
from tests.test_send_leftovers_cli import _cli, _server, _words, _workspace


def test_resume_says_how_many_messages_quiet_hours_still_hold(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3, quiet_hours="on")
        quiet_hours.set_quiet_hours(db, "09:00-11:00", at_night=True)   # the frozen clock, 10:00 UTC+8, is quiet
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        launched = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert "deferred 3" in _words(launched), launched.output
        resumed = _cli(ws, "campaign", "resume", "c")   # still quiet: nothing is due
    assert resumed.exit_code == 0, resumed.output
    text = _words(resumed)
    assert "sent 0, failed 0, deferred 3," in text, text
    assert srv.state.taken == []
    db.close()


def test_run_due_says_how_many_messages_quiet_hours_still_hold(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3, quiet_hours="on")
        quiet_hours.set_quiet_hours(db, "09:00-11:00", at_night=True)   # the frozen clock, 10:00 UTC+8, is quiet
        db.execute("UPDATE users SET timezone = 'Asia/Bangkok' WHERE id = 3")   # its quiet hours end an hour later
        db.conn.commit()
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        assert "deferred 3" in _words(_cli(ws, "campaign", "launch", "c", "--real", "--yes"))
        monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:01:00+08:00")   # due for two, 10:01 in Bangkok
        due = _cli(ws, "campaign", "run-due")
    assert due.exit_code == 0, due.output
    assert "c run 1: waiting, sent 2, deferred 1" in _words(due), due.output
    assert len(srv.state.taken) == 2
    db.close()
