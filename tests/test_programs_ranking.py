"""A program step ranked by predicted uplift with a budget (issues #14 and #15): the budget buys the due users
with the highest uplift per cost, treated and control cut alike; the rest skip the step (`ranked_out`) and go
on. Without a usable uplift fit the program file is refused with the fit's verdict, and a running program's
ranked step waits."""

from __future__ import annotations

import json

from tests.campaign_support import add_users
from tests.test_programs_ladder import at_day, cli, db, ws  # noqa: F401 (fixtures)

RANKED = """\
name = "ranked"
entry = "all"
control = 20

[[steps]]
name = "nudge"
channel = "sms"
template = "miss-you"
rank_by = "uplift"
budget = {budget}

[[steps]]
name = "again"
wait = "7d"
channel = "sms"
template = "miss-you"
"""


def _fit(conn, *, usable: bool, verdict: str, scores: dict[int, float] | None = None) -> None:
    """A stored uplift fit as `winback uplift fit` leaves it: the fit row and, when usable, the users' scores."""
    fit = conn.execute(
        "INSERT INTO uplift_fits (fitted_at, fitted_by, campaigns, treated, control, treated_conversions, "
        "control_conversions, usable, verdict, report, scored) VALUES (1, 'test', '[]', 1000, 1000, 80, 50, ?, ?, "
        "'{}', ?)", [int(usable), verdict, len(scores or {})]).lastrowid
    conn.execute("DELETE FROM uplift_scores")
    conn.conn.executemany("INSERT INTO uplift_scores VALUES (?, ?, 0.1, 0.1, ?, 1)",
                          [(u, s, fit) for u, s in (scores or {}).items()])
    conn.conn.commit()


def _add(workspace, tmp_path, budget: float = 0.4):
    path = tmp_path / "ranked.toml"
    path.write_text(RANKED.format(budget=budget), encoding="utf-8")
    return cli(workspace, "program", "add", str(path))


def _said(result) -> str:
    """The output with the terminal's line wrapping undone."""
    return " ".join(result.output.split())


def test_without_a_usable_uplift_fit_the_file_is_refused_with_the_verdict_at_its_line(ws, db, tmp_path):  # noqa: F811
    r = _add(ws, tmp_path)
    assert r.exit_code == 2
    assert "ranked.toml:9: steps[1].rank_by:" in _said(r) and "no uplift model yet" in _said(r)
    _fit(db, usable=False, verdict="no usable effect: the effect is indistinguishable from zero")
    r = _add(ws, tmp_path)
    assert r.exit_code == 2
    assert "steps[1].rank_by" in _said(r) and "indistinguishable from zero" in _said(r)
    assert db.execute("SELECT COUNT(*) FROM programs").fetchone()[0] == 0
    # and the file's own mistakes: a ranking without a budget, a score that does not exist
    bad = tmp_path / "bad.toml"
    bad.write_text(RANKED.format(budget=1).replace("budget = 1\n", ""), encoding="utf-8")
    r = cli(ws, "program", "add", str(bad))
    assert r.exit_code == 2 and "bad.toml:9: steps[1].rank_by: give the step a budget" in _said(r)
    bad.write_text(RANKED.format(budget=1).replace('"uplift"', '"charm"'), encoding="utf-8")
    r = cli(ws, "program", "add", str(bad))
    assert r.exit_code == 2 and "steps[1].rank_by: 'charm'" in _said(r)


def test_the_budget_buys_the_highest_uplift_and_the_rest_skip_the_step_and_go_on(ws, db, tmp_path,  # noqa: F811
                                                                                   monkeypatch):
    users = [r[0] for r in db.execute("SELECT id FROM users ORDER BY id")]
    # predicted uplift out of id order; two users unscored (they come last)
    scores = {u: ((u * 7) % 31) / 100 for u in users[2:]}
    _fit(db, usable=True, verdict="usable: Qini 0.12 [0.05, 0.19]", scores=scores)
    r = _add(ws, tmp_path, budget=0.4)
    assert r.exit_code == 0, r.output
    r = cli(ws, "program", "start", "ranked", "--json")
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)[0]
    ranking = run["steps"]["nudge"]["ranking"]
    control = dict(db.execute("SELECT user_id, control FROM program_entries").fetchall())
    moves = {u: (outcome, reason) for u, outcome, reason in db.execute(
        "SELECT e.user_id, m.outcome, m.reason FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
        "WHERE m.step = 0")}
    bought = {u for u, (o, _) in moves.items() if o == "queued"}
    out = {u for u, (_, why) in moves.items() if why == "ranked_out"}
    assert len(bought) == ranking["bought"] and len(out) == ranking["ranked_out"], ranking
    # the budget (0.40 at 0.04 a part) pays for 10 one-part messages: the ledger's cost stays within it
    cost = db.execute("SELECT SUM(cost) FROM sends WHERE status = 'sent'").fetchone()[0]
    assert 0 < cost <= 0.4 + 1e-9 and len(bought) == 10
    # the treated users bought are the highest predicted uplift among the treated (nobody ranked out above them)
    order = sorted(users, key=lambda u: (scores.get(u) is None, -scores.get(u, 0), u))
    cut = max(order.index(u) for u in bought)
    assert {u for u in order[:cut + 1] if not control[u]} == bought
    # control is cut at the same place: above it held out (holdout rows), below it ranked out like the treated
    assert {u for u in order[:cut + 1] if control[u]} == {u for u, (o, _) in moves.items() if o == "holdout"}
    assert out == set(order[cut + 1:]) and users[0] in out and users[1] in out
    # the ranked out go on: a week later they take the next step like everyone else
    at_day(monkeypatch, 7)
    assert cli(ws, "program", "run-due").exit_code == 0
    took_again = {r[0] for r in db.execute(
        "SELECT e.user_id FROM program_moves m JOIN program_entries e ON e.id = m.entry_id WHERE m.step = 1")}
    assert took_again == set(users)
    data = json.loads(cli(ws, "program", "show", "ranked", "--json").stdout)
    assert data["steps"][0]["skipped"]["ranked_out"] == len(out)
    why = cli(ws, "why", f"u{sorted(out)[0]}", "--program", "ranked")
    assert "ranked_out" in _said(why)


def test_a_ranked_step_waits_while_the_latest_fit_is_not_usable(ws, db, tmp_path, monkeypatch):  # noqa: F811
    users = [r[0] for r in db.execute("SELECT id FROM users ORDER BY id")]
    _fit(db, usable=True, verdict="usable", scores={u: u / 100 for u in users})
    assert _add(ws, tmp_path).exit_code == 0
    # a newer fit lost the verdict before the program was started: start is refused with it
    _fit(db, usable=False, verdict="no usable effect: too few conversions")
    r = cli(ws, "program", "start", "ranked")
    assert r.exit_code == 2 and "too few conversions" in _said(r)
    _fit(db, usable=True, verdict="usable", scores={u: u / 100 for u in users})
    assert cli(ws, "program", "start", "ranked").exit_code == 0
    # entrants who join while the fit is not usable wait for their ranked step: nothing sent, nothing skipped
    _fit(db, usable=False, verdict="no usable effect: too few conversions")
    at_day(monkeypatch, 1)
    late = add_users(db, 5, consent=("sms",), start=100)
    db.conn.commit()
    r = cli(ws, "program", "run-due")
    assert r.exit_code == 0 and "step nudge waits (5 due)" in _said(r) and "too few conversions" in _said(r)
    waiting = "SELECT COUNT(*) FROM program_entries WHERE state = 'active' AND step = 0 AND user_id >= ?"
    assert db.execute(waiting, [late[0]]).fetchone()[0] == 5
    assert db.execute("SELECT COUNT(*) FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
                      "WHERE e.user_id >= ?", [late[0]]).fetchone()[0] == 0
    # the next fit is usable again: the next run takes the step for them
    _fit(db, usable=True, verdict="usable", scores={u: u / 100 for u in users + late})
    at_day(monkeypatch, 2)
    assert cli(ws, "program", "run-due").exit_code == 0
    assert db.execute(waiting, [late[0]]).fetchone()[0] == 0
