"""A ranked program step values users as a ranked campaign does (console.propensity.targeting): by uplift, with a
cash coupon, the expected extra revenue net of the coupon (console.uplift.value) — not the extra chance alone — and
a person who refused personalised marketing (PIPL Art. 24) is ranked at the due users' average, not by their own
score."""

from __future__ import annotations

import json

from tests.test_programs_ladder import cli, db, ws  # noqa: F401 (fixtures)
from tests.test_programs_ranking import RANKED, _fit

BUDGET = 0.4     # 10 one-part SMS at 0.04


def _start(workspace, tmp_path, text: str) -> dict:
    path = tmp_path / "ranked.toml"
    path.write_text(text, encoding="utf-8")
    r = cli(workspace, "program", "add", str(path))
    assert r.exit_code == 0, r.output
    conn = workspace.open()   # a fixed salt: the control group (by hash) is the same in every run
    conn.execute("UPDATE programs SET salt = 'test-salt'")
    conn.conn.commit()
    conn.close()
    r = cli(workspace, "program", "start", "ranked", "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)[0]["steps"]["nudge"]["ranking"]


def _bought(conn) -> set[int]:
    return {u for (u,) in conn.execute(
        "SELECT e.user_id FROM program_moves m JOIN program_entries e ON e.id = m.entry_id "
        "WHERE m.step = 0 AND m.outcome = 'queued'")}


def _treated_in_order(conn, order: list[int]) -> list[int]:
    control = dict(conn.execute("SELECT user_id, control FROM program_entries").fetchall())
    return [u for u in order if not control[u]]


def test_ranked_by_uplift_with_a_coupon_the_step_buys_the_best_net_of_the_coupon(ws, db, tmp_path):  # noqa: F811
    r = cli(ws, "offers", "add", "back10", "--kind", "coupon", "--threshold", "0", "--amount", "10",
            "--validity", "7")
    assert r.exit_code == 0, r.output
    users = [r[0] for r in db.execute("SELECT id FROM users ORDER BY id")]
    # the same predicted uplift for everyone (10 pp): by uplift alone the order would be by id; net of the coupon,
    # those who would return anyway (high p_control: the coupon goes to a sure thing) are worth least
    p0 = {u: ((u * 7) % 31) / 100 for u in users}
    _fit(db, usable=True, verdict="usable", scores={u: 0.1 for u in users})
    db.conn.executemany("UPDATE uplift_scores SET p_treated = ?, p_control = ? WHERE user_id = ?",
                        [(p0[u] + 0.1, p0[u], u) for u in users])
    db.conn.commit()
    ranking = _start(ws, tmp_path, RANKED.format(budget=BUDGET).replace(
        'template = "miss-you"\nrank_by', 'template = "miss-you"\noffer = "back10"\nrank_by', 1))
    bought = _bought(db)
    assert len(bought) == ranking["bought"] == 10, ranking
    best = _treated_in_order(db, sorted(users, key=lambda u: (p0[u], u)))
    assert bought == set(best[:10])
    assert bought != set(_treated_in_order(db, users)[:10])    # not the id order uplift alone would give


def test_a_person_who_refused_personalised_marketing_is_ranked_at_the_average(ws, db, tmp_path):  # noqa: F811
    users = [r[0] for r in db.execute("SELECT id FROM users ORDER BY id")]
    # scores rise with id; the five highest refused personalisation: their own score must not buy them a message.
    # The three lowest score 0, which pulls the others' average (where the refused are put) below the 19 users
    # from id 7 up, so ten treated users outrank it whichever way the control group falls: none of the refused is
    # bought, and nobody ties with them.
    scores = {u: 0.0 if u <= 3 else 0.5 + u / 100 for u in users}
    _fit(db, usable=True, verdict="usable", scores=scores)
    refused = users[-5:]
    average = sum(s for u, s in scores.items() if u not in refused) / (len(users) - len(refused))
    db.conn.executemany("INSERT INTO no_personalised (user_id, at, source) VALUES (?, 1, 'test')",
                        [(u,) for u in refused])
    db.conn.commit()
    ranking = _start(ws, tmp_path, RANKED.format(budget=BUDGET))
    bought = _bought(db)
    assert len(bought) == ranking["bought"] == 10, ranking
    # the setup holds: at least ten treated users outrank the average the refused are put at
    assert len([u for u in _treated_in_order(db, users) if u not in refused and scores[u] > average]) >= 10
    assert not bought & set(refused)
    others = [u for u in users if u not in refused]
    assert bought == set(_treated_in_order(db, sorted(others, reverse=True))[:10])
