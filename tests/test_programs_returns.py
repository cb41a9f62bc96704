"""Returns over the same time since entry (issue #14's "Measuring"): the returned rate treated vs control by days
since entry, and per step who returned before the next step was due — on a real workspace, day by day with
WINBACK_NOW, two cohorts admitted ten days apart."""

from __future__ import annotations

import json

from tests.campaign_support import add_users
from tests.test_programs_ladder import add_program, at_day, cli, db, ws  # noqa: F401 (fixtures)


def _order(conn, user: int, ts: int) -> None:
    conn.execute("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (?, 'order', ?, ?)", [user, ts, ts + user])
    conn.conn.commit()


def test_returned_rate_by_days_since_entry_and_before_each_next_step(ws, db, tmp_path, monkeypatch):  # noqa: F811
    assert add_program(ws, tmp_path, control=30).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    first = dict(db.execute("SELECT user_id, control FROM program_entries").fetchall())
    treated = sorted(u for u, c in first.items() if not c)
    held = sorted(u for u, c in first.items() if c)
    assert len(held) >= 2 and len(treated) >= 4
    a, b, d = treated[:3]            # return on day 3 (before step 2), day 10 (before step 3), day 16
    c = held[0]                      # a control user returns on day 5
    second: list[int] = []
    for day in range(1, 21):
        ts = at_day(monkeypatch, day)
        if day == 10:                # a second cohort: entered ten days later than the first
            second = add_users(db, 10, consent=("sms",), start=100)
            db.conn.commit()
        for who, when in ((a, 3), (c, 5), (b, 10), (d, 16)):
            if day == when:
                _order(db, who, ts)
        if day == 12:                # a treated user of the second cohort returns two days after entering
            late = dict(db.execute("SELECT user_id, control FROM program_entries WHERE user_id >= ?",
                                   [min(second)]).fetchall())
            _order(db, min(u for u in second if not late[u]), ts)
        assert cli(ws, "program", "run-due").exit_code == 0
    late = dict(db.execute("SELECT user_id, control FROM program_entries WHERE user_id >= ?", [min(second)]))
    assert len(late) == 10
    n_treated = len(treated) + sum(1 for v in late.values() if not v)
    n_control = len(held) + sum(1 for v in late.values() if v)

    r = cli(ws, "program", "show", "ladder", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    curve = {row["days"]: row for row in data["returned_by_days"]}
    # day 20: the first cohort has been in 20 days, the second 10: nobody yet 21 days
    assert sorted(curve) == [1, 3, 7, 14]
    got = {days: (row["treated"]["users"], row["treated"]["returned"], row["control"]["users"],
                  row["control"]["returned"]) for days, row in curve.items()}
    assert got[1] == (n_treated, 0, n_control, 0)
    assert got[3] == (n_treated, 2, n_control, 0)                 # a (3 days), e (2 days)
    assert got[7] == (n_treated, 2, n_control, 1)                 # + c (5 days)
    assert got[14] == (len(treated), 2, len(held), 1)             # only the first cohort is 14 days in: a, b; c
    row = curve[14]
    assert row["treated"]["rate"] == 2 / len(treated) and row["control"]["rate"] == 1 / len(held)
    assert row["lift"] == 2 / len(treated) - 1 / len(held)
    assert row["ci_low"] < row["lift"] < row["ci_high"]          # Newcombe, as in `winback outcomes`

    nudge, offer, call = data["steps"]
    # before the next step was due: nudge → offer (day 7): a, e (2 days after their own entry) and c; offer → call
    # (day 21): b and d; call: nobody has taken it yet
    assert (nudge["returns"]["treated"]["returned"], nudge["returns"]["control"]["returned"]) == (2, 1)
    assert nudge["returns"]["treated"]["users"] == n_treated and nudge["returns"]["control"]["users"] == n_control
    assert nudge["returns"]["window_days"] == 7 and nudge["returned_before_next"] == 3
    assert (offer["returns"]["treated"]["returned"], offer["returns"]["control"]["returned"]) == (2, 0)
    assert offer["returned_before_next"] == 2 and offer["returns"]["window_days"] == 14
    assert call["taken"] == 0 and call["returns"]["window_days"] is None

    text = cli(ws, "program", "show", "ladder")
    assert text.exit_code == 0, text.output
    assert "days since entry" in text.output
    assert "before the next step was due" in text.output
