"""A step's `only` rule is read when the step falls due, not at entry (issue #14): the person as they are then
decides. Whoever it does not match skips the step — recorded with the reason, counted in the funnel's "skipped
(by reason)", explained by `why` — and goes on to the next step."""

from __future__ import annotations

import json

from tests.test_programs_ladder import at_day, cli, db, ws  # noqa: F401 (fixtures)

PROGRAM = """\
name = "east"
entry = "all"
control = 0

[[steps]]
name = "nudge"
channel = "sms"
template = "miss-you"

[[steps]]
name = "call"
wait = "7d"
channel = "sms"
template = "miss-you"
only = "region = 华东"

[[steps]]
name = "last"
wait = "7d"
channel = "sms"
template = "miss-you"
"""


def test_only_is_read_when_the_step_falls_due_and_the_skipped_go_on(ws, db, tmp_path, monkeypatch):  # noqa: F811
    path = tmp_path / "east.toml"
    path.write_text(PROGRAM, encoding="utf-8")
    assert cli(ws, "program", "add", str(path)).exit_code == 0
    users = [r[0] for r in db.execute("SELECT id FROM users ORDER BY id")]
    moved_east, moved_away = users[0], users[1]
    db.execute("UPDATE users SET region = '华北'")
    db.execute("UPDATE users SET region = '华东' WHERE id IN (?, ?)", [moved_away, users[2]])
    db.conn.commit()
    assert cli(ws, "program", "start", "east").exit_code == 0
    # between entry and the step's due time, one user moves east and one moves away
    at_day(monkeypatch, 3)
    db.execute("UPDATE users SET region = '华东' WHERE id = ?", [moved_east])
    db.execute("UPDATE users SET region = '华南' WHERE id = ?", [moved_away])
    db.conn.commit()
    for day in (7, 14):
        at_day(monkeypatch, day)
        assert cli(ws, "program", "run-due").exit_code == 0

    moves = {(u, step): (outcome, reason) for u, step, outcome, reason in db.execute(
        "SELECT e.user_id, m.step, m.outcome, m.reason FROM program_moves m JOIN program_entries e "
        "ON e.id = m.entry_id")}
    assert moves[(moved_east, 1)] == ("queued", None)          # matched at due time, not at entry
    assert moves[(users[2], 1)] == ("queued", None)
    assert moves[(moved_away, 1)] == ("skipped", "only")       # matched at entry, not at due time
    skipped = {u for (u, step), (_, why) in moves.items() if step == 1 and why == "only"}
    assert skipped == set(users) - {moved_east, users[2]}
    # the skipped went on: everyone took the last step a week later, and finished
    assert {u for (u, step) in moves if step == 2} == set(users)
    states = {r[0] for r in db.execute("SELECT DISTINCT state FROM program_entries")}
    assert states == {"finished"}

    data = json.loads(cli(ws, "program", "show", "east", "--json").stdout)
    call = data["steps"][1]
    assert call["skipped"] == {"only": len(skipped)} and call["reached"] == 2
    text = " ".join(cli(ws, "program", "show", "east").output.split())
    assert f"skipped at call: not matching its only rule {len(skipped)}" in text
    why = " ".join(cli(ws, "why", f"u{moved_away}", "--program", "east").output.split())
    assert "step call (skipped" in why and "its rule `region = 华东` did not match them when the step fell due" in why
    assert "step last (queued" in why and "sms: would send (dry run)" in why
