"""`winback why USER --campaign <a program step's campaign>` (and the console's why panel on a step message): a step
message recorded `over_budget` was stopped by the *program's* budget (issue #14: steps share it), not by a budget of
the step's internal campaign, which has none — so the explanation names the program's budget and its figures."""

from __future__ import annotations

from tests.test_programs_budget import PRICE, add, db, flat, treated_users, ws  # noqa: F401 (fixtures)
from tests.test_programs_ladder import at_day, cli


def test_why_on_a_step_message_over_budget_names_the_programs_budget(ws, db, tmp_path, monkeypatch):  # noqa: F811
    n = len(treated_users(db)) + 4              # step 1 for everyone treated, then 4 of step 2
    assert add(ws, tmp_path, f"{n * PRICE:.2f}").exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    at_day(monkeypatch, 7)
    assert cli(ws, "campaign", "run-due").exit_code == 0
    user, step_campaign = db.execute(
        "SELECT u.external_id, c.name FROM sends s JOIN users u ON u.id = s.user_id JOIN campaigns c "
        "ON c.id = s.campaign_id WHERE s.reason = 'over_budget' ORDER BY s.id LIMIT 1").fetchone()
    why = cli(ws, "why", user, "--campaign", step_campaign)
    assert why.exit_code == 0, why.output
    said = flat(why.output)
    assert "the campaign's budget" not in said
    assert ("not sent: the program's budget (program ladder) was spent when run 1 reached this user (recorded "
            "over_budget, dry run); never sent later in that run") in said, said
    assert f"NO budget spent {n * PRICE:.2f} of {n * PRICE:.2f} (program ladder); 0 more message(s)" in said, said


def test_why_on_a_step_for_someone_the_program_never_moved_there_says_so(ws, db, tmp_path, monkeypatch):  # noqa: F811
    """A step's audience is not a saved segment: asking about someone with no row in that step said "no segment
    named 'program:…'" (exit 2) instead of telling where to look."""
    assert add(ws, tmp_path, "1000").exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    at_day(monkeypatch, 7)
    assert cli(ws, "campaign", "run-due").exit_code == 0
    step_campaign = db.execute("SELECT name FROM campaigns WHERE program_id IS NOT NULL ORDER BY id LIMIT 1"
                               ).fetchone()[0]
    user = "joined-later"          # imported after the run: the program has not seen them yet
    db.execute("INSERT INTO users (external_id, phone, created_at, updated_at) VALUES (?, '+8613900000999', 0, 0)", [user])
    db.conn.commit()
    why = cli(ws, "why", user, "--campaign", step_campaign)
    assert why.exit_code == 0, why.output
    said = flat(why.output)
    assert "not moved to this step of program ladder" in said and f"winback why {user} --program ladder" in said, said
