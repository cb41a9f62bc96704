"""Issue #14: each program run exits, at once, users who opted out of every channel of their next step — not weeks
later when that step falls due."""

from __future__ import annotations

from console.inbound.apply import Reply, journal_replies
from console.programs import funnel, runner
from tests.test_programs_ladder import add_program, at_day, cli, db, messages_per_user_step, ws

__all__ = ["db", "ws"]   # the fixtures, shared with the ladder's tests


def _states(db) -> dict[int, tuple[str, int | None, str | None]]:
    return {r[0]: (r[1], r[2], r[3]) for r in db.execute(
        "SELECT user_id, state, left_at, left_reason FROM program_entries WHERE user_id <= 5")}


def test_a_user_who_opts_out_after_step_one_is_exited_at_the_next_run_not_at_step_two(ws, db, tmp_path,
                                                                                       monkeypatch):
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0        # day 0: everyone takes step 1 (sms)
    assert {r[0] for r in db.execute("SELECT state FROM program_entries")} == {"active"}

    day1 = at_day(monkeypatch, 1)
    # user 1 replies STOP by SMS (as the inbound server takes it: journal first); user 2 is suppressed on every
    # channel by the operator; user 3 is suppressed on email only (not a channel of the next step); user 4 has
    # push consent withdrawn but still sms (the offer step's fallback) — both stay
    journal_replies(db, ws.config, "sms", [Reply(1, "+8613800000001", "STOP")], source="test")
    assert cli(ws, "suppress", "add", "--user", "u2", "--channel", "all", "--reason", "opt_out").exit_code == 0
    assert cli(ws, "suppress", "add", "user3@example.com", "--channel", "email").exit_code == 0
    db.execute("INSERT INTO consents (user_id, channel, status, at, source) VALUES (4, 'push', 'withdrawn', ?, 't')",
               [day1 - 5])
    db.conn.commit()

    report = runner.run(db, ws.config, "ladder")                       # the very next run, day 1
    assert report.exited == {"opted_out": 2}
    states = _states(db)
    assert states[1][:2] == ("opted_out", day1) and states[2][:2] == ("opted_out", day1)
    assert states[1][2] == "opted out before step offer"
    assert {states[u][0] for u in (3, 4, 5)} == {"active"}
    data = funnel.funnel(db, "ladder")
    assert data["exited"].get("opted_out") == 2
    assert data["steps"][1]["taken"] == 0                             # nobody's step 2 is due yet

    at_day(monkeypatch, 7)                                             # step 2 falls due: they are long gone
    runner.run(db, ws.config, "ladder")
    assert _states(db)[1][:2] == ("opted_out", day1)
    taken = messages_per_user_step(db)
    assert (1, 1) not in taken and (2, 1) not in taken and (3, 1) in taken and (4, 1) in taken
    assert funnel.funnel(db, "ladder")["exited"].get("opted_out") == 2


def test_no_consent_on_record_is_not_an_opt_out_and_waits_for_the_step(ws, db, tmp_path, monkeypatch):
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    at_day(monkeypatch, 1)
    db.execute("DELETE FROM consents WHERE user_id = 1")               # consent may still come before day 7
    db.conn.commit()
    report = runner.run(db, ws.config, "ladder")
    assert "opted_out" not in report.exited and _states(db)[1][0] == "active"
