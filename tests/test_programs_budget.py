"""A recall program's budget (issue #14: step messages go through the campaigns' budget brake): `budget = …` at the
top of the file is what the program may spend over all its steps and runs. A budget for N messages sends exactly N
(dry run, and real through a real HTTP gateway), the rest recorded `over_budget` as a campaign leaves them; the
program pauses with the reason; raising the budget and resuming never sends anything twice; control rows cost
nothing; a campaign's budget and a program's never mix. Time is set with WINBACK_NOW."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from console.programs import runner
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.test_programs_ladder import at_day, cli
from tests.test_tui_programs import demo  # noqa: F401 (fixture)

PRICE = 0.05

PROGRAM = """\
name = "ladder"
entry = "all"
control = 20
exit_on = ["order"]
budget = {budget}

[[steps]]
name = "nudge"
wait = "0d"
channel = "sms"
template = "miss-you"

[[steps]]
name = "offer"
wait = "{wait2}"
channel = "sms"
template = "miss-you"

[[steps]]
name = "call"
wait = "{wait3}"
channel = "sms"
template = "miss-you"
"""


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    at_day(monkeypatch, 0)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": PRICE}})
    return load_workspace(cfg)


@pytest.fixture
def db(ws):
    conn = ws.open()
    add_users(conn, 30, consent=("sms",))
    add_template(conn, ws.config, SMS_TEMPLATE)
    yield conn
    conn.close()


def add(ws, tmp_path: Path, budget: str, wait2: str = "7d", wait3: str = "14d"):
    path = tmp_path / "ladder.toml"
    path.write_text(PROGRAM.format(budget=budget, wait2=wait2, wait3=wait3), encoding="utf-8")
    result = cli(ws, "program", "add", str(path))
    db = ws.open()
    db.execute("UPDATE programs SET salt = 'test-salt'")   # a fixed control group (by hash)
    db.conn.commit()
    db.close()
    return result


def treated_users(db) -> list[int]:
    held = runner.control_assigner("test-salt", 20)
    return [u for (u,) in db.execute("SELECT id FROM users ORDER BY id") if not held(u)]


def rows_by_step(db) -> Counter:
    """(step, status, reason) over the program's ledger rows."""
    return Counter((r[0], r[1], r[2]) for r in db.execute(
        "SELECT c.program_step, s.status, s.reason FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
        "WHERE c.program_id IS NOT NULL"))


def flat(text: str) -> str:
    """CLI output without the terminal's line wrapping."""
    return " ".join(text.split())


def one_row_per_user_and_step(db) -> bool:
    return db.execute("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                      "WHERE c.program_id IS NOT NULL GROUP BY s.user_id, c.program_step)").fetchone()[0] == 1


# ---- the file ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["-5", '"5000"', "true", "nan", "inf"])
def test_a_negative_or_non_numeric_budget_is_refused_at_its_line(ws, db, tmp_path, bad):
    r = add(ws, tmp_path, bad)
    assert r.exit_code == 2, r.output
    assert "ladder.toml:5: budget: " in flat(r.output) and "an amount of 0 or more" in flat(r.output)
    assert "Traceback" not in r.output
    assert db.execute("SELECT COUNT(*) FROM programs").fetchone()[0] == 0


def test_a_budget_written_in_a_step_says_where_the_programs_goes(ws, db, tmp_path):
    path = tmp_path / "ladder.toml"
    path.write_text(PROGRAM.format(budget=1, wait2="7d", wait3="14d").replace("budget = 1\n", "")
                    + "budget = 5000\n", encoding="utf-8")
    r = cli(ws, "program", "add", str(path))
    assert r.exit_code == 2
    assert "ladder.toml:23: steps[3].budget:" in flat(r.output) and "before the first [[steps]]" in flat(r.output)


def test_a_budget_of_nothing_pauses_the_program_at_its_start_with_nobody_moved(ws, db, tmp_path):
    assert add(ws, tmp_path, "0").exit_code == 0
    r = cli(ws, "program", "start", "ladder")
    assert r.exit_code == 0, r.output
    assert "paused: budget spent: 0.00 of 0.00" in flat(r.output)
    assert db.execute("SELECT status FROM programs").fetchone()[0] == "paused"
    assert db.execute("SELECT COUNT(*) FROM program_entries").fetchone()[0] == 0
    assert rows_by_step(db) == Counter()


def test_the_budget_command_refuses_bad_amounts_and_a_stopped_program(ws, db, tmp_path):
    assert add(ws, tmp_path, "5").exit_code == 0
    for bad in ("lots", "-1", "nan"):
        r = cli(ws, "program", "budget", "ladder", "--", bad)   # "--": -1 is a value, not an option
        assert r.exit_code == 2 and "an amount of 0 or more" in flat(r.output) and "Traceback" not in r.output
    assert db.execute("SELECT budget FROM programs").fetchone()[0] == 5
    r = cli(ws, "program", "budget", "ladder", "none", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"budget": None, "spent": 0.0, "remaining": None}
    assert cli(ws, "program", "stop", "ladder").exit_code == 0
    r = cli(ws, "program", "budget", "ladder", "7")
    assert r.exit_code == 2 and "stopped" in flat(r.output)


def test_the_budget_command_refuses_an_amount_below_what_was_spent_as_the_console_does(ws, db, tmp_path):
    treated = treated_users(db)
    assert add(ws, tmp_path, "100").exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0   # step 1 for everyone treated: spent
    spent = len(treated) * PRICE
    r = cli(ws, "program", "budget", "ladder", f"{spent / 2:.2f}")
    assert r.exit_code == 2, r.output
    assert f"below what is already spent ({spent:,.2f})" in flat(r.output) and "Traceback" not in r.output
    # nothing changed: the budget, and no audit entry
    assert db.execute("SELECT budget FROM programs").fetchone()[0] == 100
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'program.budget'").fetchone()[0] == 0
    r = cli(ws, "program", "budget", "ladder", f"{spent:.2f}", "--json")   # exactly what was spent is fine
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["remaining"] == pytest.approx(0)


# ---- a budget for N messages, day by day ----------------------------------------------------------------------

def test_a_dry_run_budget_for_n_messages_sends_n_over_several_days_then_pauses_and_resumes_without_resending(
        ws, db, tmp_path, monkeypatch):
    treated = treated_users(db)
    held = 30 - len(treated)
    assert 0 < held < 15
    n = len(treated) + 4                        # step 1 for everyone treated, then 4 of step 2
    assert add(ws, tmp_path, f"{n * PRICE:.2f}").exit_code == 0

    r = cli(ws, "program", "start", "ladder")   # day 0: step 1
    assert r.exit_code == 0, r.output
    assert rows_by_step(db) == {(0, "sent", None): len(treated), (0, "holdout", None): held}
    assert db.execute("SELECT status FROM programs").fetchone()[0] == "running"

    at_day(monkeypatch, 7)                      # day 7: step 2 — the budget buys 4 of them
    r = cli(ws, "campaign", "run-due")
    assert r.exit_code == 0, r.output
    assert "paused: budget spent" in flat(r.output)
    rows = rows_by_step(db)
    assert rows[(1, "sent", None)] == 4
    assert rows[(1, "skipped", "over_budget")] == len(treated) - 4
    assert rows[(1, "holdout", None)] == held          # control is recorded, and costs nothing
    assert sum(v for (_, status, _), v in rows.items() if status == "sent") == n
    status, reason = db.execute("SELECT status, pause_reason FROM programs").fetchone()
    assert status == "paused"
    assert reason.startswith(f"budget spent: {n * PRICE:.2f} of {n * PRICE:.2f} ({len(treated) - 4} step messages "
                             "not sent: over_budget)")

    shown = json.loads(cli(ws, "program", "show", "ladder", "--json").stdout)
    assert shown["budget"] == {"budget": pytest.approx(n * PRICE), "spent": pytest.approx(n * PRICE),
                               "remaining": pytest.approx(0)}
    assert shown["status"] == "paused" and shown["pause_reason"] == reason
    assert shown["steps"][1]["skipped"] == {"over_budget": len(treated) - 4}
    text = flat(cli(ws, "program", "show", "ladder").output)
    assert f"budget {n * PRICE:,.2f}, spent {n * PRICE:,.2f}, remaining 0.00" in text and "paused by winback" in text

    # the person the budget did not reach is told so
    skipped = db.execute("SELECT u.external_id FROM sends s JOIN users u ON u.id = s.user_id "
                         "WHERE s.reason = 'over_budget' ORDER BY s.id LIMIT 1").fetchone()[0]
    why = cli(ws, "why", skipped, "--program", "ladder")
    assert why.exit_code == 0, why.output
    assert "not sent (over_budget) — the program's budget" in " ".join(why.output.split())
    assert "the program is paused — budget spent" in " ".join(why.output.split())

    # resuming with nothing left is refused (it would only record the next steps over_budget)
    r = cli(ws, "program", "resume", "ladder")
    assert r.exit_code == 2 and "has spent its budget" in flat(r.output)
    at_day(monkeypatch, 14)
    before = rows_by_step(db)
    assert cli(ws, "program", "run-due").exit_code == 0
    assert rows_by_step(db) == before

    # raise the budget, resume: step 3 goes out when due; nothing of steps 1 and 2 is sent again
    r = cli(ws, "program", "budget", "ladder", "100")
    assert r.exit_code == 0, r.output
    assert "resume" in flat(r.output)
    assert cli(ws, "program", "resume", "ladder").exit_code == 0
    at_day(monkeypatch, 21)
    r = cli(ws, "program", "run-due")
    assert r.exit_code == 0, r.output
    after = rows_by_step(db)
    assert {k: v for k, v in after.items() if k[0] < 2} == {k: v for k, v in before.items() if k[0] < 2}
    assert after[(2, "sent", None)] == len(treated) and after[(2, "holdout", None)] == held
    assert one_row_per_user_and_step(db)
    assert db.execute("SELECT status, pause_reason FROM programs").fetchone() == ("running", None)
    spent = json.loads(cli(ws, "program", "show", "ladder", "--json").stdout)["budget"]["spent"]
    assert spent == pytest.approx((n + len(treated)) * PRICE)
    audit = [json.loads(r[0]) for r in db.execute("SELECT details FROM audit WHERE action = 'program.budget'")]
    assert audit and audit[0]["budget"] == 100 and audit[0]["previous"] == pytest.approx(n * PRICE)


def test_a_real_budget_through_a_real_http_gateway_sends_exactly_n_and_never_twice(tmp_path, monkeypatch):
    from tests.servers import HttpGateway
    from tests.test_campaigns_crash import _log

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "t0ken")
    at_day(monkeypatch, 0)
    log = tmp_path / "gateway.jsonl"
    with HttpGateway(log) as gw:
        http = {"transport": "http", "url": gw.url, "token_env": "WB_TEST_SMS_TOKEN", "price": PRICE,
                "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}'}
        ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": http}))
        db = ws.open()
        add_users(db, 20, consent=("sms",))
        add_template(db, ws.config, SMS_TEMPLATE)
        treated = treated_users(db)
        n = len(treated) + 3                    # step 1 for everyone treated (day 0), 3 of step 2 (day 1)
        assert add(ws, tmp_path, f"{n * PRICE:.2f}", wait2="1d", wait3="1d").exit_code == 0
        assert cli(ws, "program", "start", "ladder", "--real", "--yes").exit_code == 0
        for day in (1, 2, 3):                   # paused from day 1: days 2 and 3 send nothing
            at_day(monkeypatch, day)
            r = cli(ws, "campaign", "run-due")
            assert r.exit_code == 0, r.output
        assert len(_log(log)) == n
        assert db.execute("SELECT status FROM programs").fetchone()[0] == "paused"
        assert cli(ws, "program", "budget", "ladder", "10").exit_code == 0
        assert cli(ws, "program", "resume", "ladder").exit_code == 0
        at_day(monkeypatch, 4)                  # step 3 (due on day 2) for everyone still in
        r = cli(ws, "campaign", "run-due")
        assert r.exit_code == 0, r.output
        arrived = _log(log)

    rows = list(db.query("SELECT s.user_id, c.program_step AS step, s.status, s.reason, s.message_id FROM sends s "
                         "JOIN campaigns c ON c.id = s.campaign_id WHERE c.program_id IS NOT NULL"))
    assert max(Counter(r["id"] for r in arrived).values()) == 1, "a message arrived twice"
    assert len(arrived) == n + len(treated)
    sent = Counter(r["step"] for r in rows if r["status"] == "sent")
    assert sent == {0: len(treated), 1: 3, 2: len(treated)}
    over = [r for r in rows if r["reason"] == "over_budget"]
    assert len(over) == len(treated) - 3 and {r["step"] for r in over} == {1}
    # what the budget left over_budget never reached the gateway; control rows never did either
    arrived_ids = {r["id"] for r in arrived}
    assert not {r["message_id"] for r in over} & arrived_ids
    phones = dict(db.execute("SELECT id, phone FROM users").fetchall())
    held = {r["user_id"] for r in rows if r["status"] == "holdout"}
    assert held and not {phones[u] for u in held} & {r["to"] for r in arrived}
    assert one_row_per_user_and_step(db)
    spent = db.execute("SELECT SUM(spent) FROM campaign_runs WHERE dry_run = 0").fetchone()[0]
    assert spent == pytest.approx((n + len(treated)) * PRICE)


def test_a_campaigns_budget_and_a_programs_never_mix(ws, db, tmp_path):
    from console import segments
    from console.campaigns import control, model
    from console.policy.budget import budget_state

    db.execute("UPDATE users SET gender = 'f' WHERE id <= 10")
    db.conn.commit()
    segments.create(db, "ten", "gender = f")
    model.create(db, "before", segment="ten", channel="sms", template="miss-you", holdout=0, budget=3 * PRICE)
    control.launch(db, ws.config, "before", real=True)
    treated = treated_users(db)
    assert add(ws, tmp_path, f"{5 * PRICE:.2f}").exit_code == 0
    assert cli(ws, "program", "start", "ladder", "--real", "--yes").exit_code == 0
    model.create(db, "after", segment="ten", channel="sms", template="miss-you", holdout=0, budget=4 * PRICE)
    control.launch(db, ws.config, "after", real=True)

    def sent(campaign: str | None) -> Counter:
        where = "c.program_id IS NOT NULL" if campaign is None else "c.name = ?"
        return Counter((r[0], r[1]) for r in db.execute(
            f"SELECT s.status, s.reason FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE {where}",
            [] if campaign is None else [campaign]))

    # the program spent its own 5 (the campaign's 3 before it did not count against it) …
    assert sent(None)[("sent", None)] == 5
    assert sent(None)[("skipped", "over_budget")] == len(treated) - 5
    # … and each campaign its own, the program's spending not counted against them
    assert sent("before") == {("sent", None): 3, ("skipped", "over_budget"): 7}
    assert sent("after") == {("sent", None): 4, ("skipped", "over_budget"): 6}
    for name, budget in (("before", 3), ("after", 4)):
        campaign = model.get(db, name).as_dict()
        assert budget_state(db, ws.config, campaign)["spent"] == pytest.approx(budget * PRICE)
    shown = json.loads(cli(ws, "program", "show", "ladder", "--json").stdout)["budget"]
    assert shown["spent"] == pytest.approx(5 * PRICE)


# ---- the console ------------------------------------------------------------------------------------------------

async def test_the_editor_names_a_bad_budget_and_the_page_shows_budget_spent_and_left(demo):  # noqa: F811
    from console.programs import budget, store
    from screens.programs import ProgramEditorScreen, ProgramPage
    from tests.test_tui_programs import _open_ladder_editor
    from tests.tui_helpers import make_app, text_of, wait_for

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        area = await _open_ladder_editor(pilot)
        text = area.text
        lines = text.splitlines()
        first_step = lines.index("[[steps]]")
        area.text = "\n".join([*lines[:first_step], "budget = -50", "", *lines[first_step:]]) + "\n"
        await wait_for(pilot, lambda: f"line {first_step + 1}: budget: -50: an amount of 0 or more"
                       in text_of(pilot, "#program-check"), what="the negative budget named at its line")
        area.text = text
        await wait_for(pilot, lambda: "✓ ladder" in text_of(pilot, "#program-check"), what="the file good again")
        await pilot.press("escape")

        db = demo.open()
        budget.set_budget(db, "ladder", 1.0)
        store.start(db, "ladder", real=False)
        runner.run(db, demo.config, "ladder")
        state = budget.state(db, store.get(db, "ladder"))
        status = store.get(db, "ladder").status
        db.close()
        assert state["spent"] > 0 and status == "paused"   # ¥1 buys a few of the demo's step messages
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, ProgramEditorScreen), what="the list")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                       and "budget" in text_of(pilot, "#program-head"), what="the page with its budget")
        head = " ".join(text_of(pilot, "#program-head").split())
        assert f"budget ¥1.00 · spent ¥{state['spent']:,.2f} · ¥{state['remaining']:,.2f} left" in head
        assert "paused: budget spent" in head



def test_a_failed_or_given_back_step_message_is_not_in_the_programs_cost(ws, db, tmp_path):
    """The ledger keeps the cost it booked on a row the provider refused (failed) or that was given back unsent
    (planned again, cancelled): none of it was spent, so `program show`'s step cost and total leave it out — as
    the budget does (console.policy.budget counts handed rows only)."""
    assert add(ws, tmp_path, "1000").exit_code == 0
    started = cli(ws, "program", "start", "ladder", "--real", "--yes")
    assert started.exit_code == 0, started.output
    sent = db.execute("SELECT s.id FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.program_id IS NOT "
                      "NULL AND s.status = 'sent' AND s.dry_run = 0 ORDER BY s.id").fetchall()
    assert len(sent) >= 3
    # as record_failed and a release leave them: status changed, the booked cost still on the row (a refusal in the
    # provider's answer has no send time nor provider id; one failed by a later receipt was billed: it is counted)
    db.execute("UPDATE sends SET status = 'failed', reason = 'provider_refused', sent_at = NULL, provider_id = NULL "
               "WHERE id = ?", [sent[0][0]])
    db.execute("UPDATE sends SET status = 'cancelled', reason = 'cancelled' WHERE id = ?", [sent[1][0]])
    db.conn.commit()
    really = db.execute("SELECT SUM(cost) FROM sends WHERE status = 'sent' AND dry_run = 0").fetchone()[0]
    data = json.loads(cli(ws, "program", "show", "ladder", "--json").stdout)
    assert data["steps"][0]["cost"] == pytest.approx(really)
    assert data["cost"] == pytest.approx(really) and data["comparison"]["cost"] == pytest.approx(really)
