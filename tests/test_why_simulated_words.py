"""`winback why USER --campaign C` never words a dry-run or simulated row as sent: nothing of it was sent.

Real means real: the summary and the ledger lines say "would send" (a dry run) or "simulated" (the demo's made-up
rows), as the person page and the tallies do; --json keeps each ledger row's stored `status` (scripts read it)
and says beside it whether the row is real (`mode`) and what the operator is shown (`state`).
"""

from __future__ import annotations

import json

import pytest

from tests.policy_support import add_campaign, add_send, add_user, ts

MORNING = "2026-11-25T10:00:00+08:00"


def why(cli, *args: str) -> str:
    result = cli("why", "u1", "--campaign", "spring", *args, env={"WINBACK_NOW": MORNING})
    assert result.exit_code == 0, result.output
    # the text wraps at the terminal's width: read it as one run of words
    return result.stdout if "--json" in args else " ".join(result.stdout.split())


@pytest.fixture
def shop(db):
    cid = add_campaign(db, "spring", "sms", dry_run=True)
    uid = add_user(db, "u1", phone="+8613800000001")
    return db, cid, uid


def test_a_dry_run_row_is_said_would_send_never_sent(shop, cli):
    db, cid, uid = shop
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="sent", dry_run=True, counts=False)
    text = why(cli)
    assert "(sent" not in text and ", sent" not in text, text
    assert "already has this user (would send — dry run, nothing was sent)" in text
    assert "would send [dry-run]" in text                      # the ledger line
    data = json.loads(why(cli, "--json"))
    row = data["ledger"][-1]
    assert row["status"] == "sent"                             # the stored word, kept for scripts
    assert (row["mode"], row["state"]) == ("dry run", "would send")
    assert "sent," not in data["summary"] and "would send" in data["summary"]


def test_the_demos_simulated_row_is_said_simulated_never_sent(shop, cli):
    db, cid, uid = shop
    db.execute("UPDATE campaigns SET simulated = 1 WHERE id = ?", [cid])
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="delivered", dry_run=True, counts=False)
    text = why(cli)
    assert "(delivered" not in text and "(sent" not in text, text
    assert "already has this user (simulated — made up by the demo, nothing was sent)" in text
    assert "simulated [simulated]" not in text and "arm A, simulated" in text
    row = json.loads(why(cli, "--json"))["ledger"][-1]
    assert (row["status"], row["mode"], row["state"]) == ("delivered", "simulated", "simulated")


def test_a_real_row_keeps_its_word(db, cli):
    cid = add_campaign(db, "spring", "sms")
    uid = add_user(db, "u1", phone="+8613800000001")
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="delivered", counts=False)
    text = why(cli)
    assert "already has this user (delivered): not sent again in that run" in text
    row = json.loads(why(cli, "--json"))["ledger"][-1]
    assert (row["status"], row["mode"], row["state"]) == ("delivered", "real", "delivered")


def test_a_dry_run_row_that_was_not_done_says_its_mode(shop, cli):
    db, cid, uid = shop
    add_send(db, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="skipped", dry_run=True, counts=False)
    assert "arm A, skipped [dry-run]" in why(cli)


async def test_deliveries_of_a_dry_run_says_would_send_for_its_sent_recipients(db, workspace):
    """The console's Deliveries: a dry run's sent recipients read "would send" — in the table, its title and the
    why dialog's ledger line — never "sent"."""
    from rich.console import Console
    from textual.widgets import DataTable

    from console.campaigns import control, model
    from screens.deliveries import DeliveriesScreen
    from screens.dialogs import InfoDialog
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users
    from tests.tui_helpers import make_app, settle, text_of, wait_for

    add_users(db, 3)
    add_template(db, workspace.config, SMS_TEMPLATE)
    model.create(db, "nov", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, workspace.config, "nov")   # a dry run
    app = make_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_deliveries("nov")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "completed" in text_of(pilot, "#deliveries-title"), what="the dry run on Deliveries")
        box = app.screen.query_one("#recipients-box")
        table = app.screen.query_one("#recipients-table", DataTable)
        for _ in range(8):   # failed → deferred → unknown → skipped → sent (said "would send")
            if "Recipients: would send" in str(box.border_title):
                break
            await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 3, what="the three recipients the dry run would send to")
        await settle(pilot)
        assert str(box.border_title) == "Recipients: would send"
        states = {str(table.get_row_at(i)[4]) for i in range(table.row_count)}
        assert states == {"would send"}, states
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoDialog), what="why, for the first recipient")
        console = Console(width=100, record=True)
        console.print(app.screen.body)
        said = console.export_text()
        assert "ledger: would send · arm" in said and "ledger: sent" not in said, said


ONE_STEP = """\
name = "ladder"
entry = "all"
control = 20
exit_on = ["order"]

[[steps]]
name = "nudge"
wait = "0d"
channel = "sms"
template = "miss-you"
"""


def test_outcomes_and_program_show_of_a_dry_run_say_would_send_not_reached(db, workspace, cli, tmp_path):
    """`outcomes` and `program show` head a dry run's treated count "would send" (as the console's program page):
    a dry run reached nobody. --json keeps its key `reached`."""
    from console.campaigns import control, model
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users

    add_users(db, 6)
    add_template(db, workspace.config, SMS_TEMPLATE)
    model.create(db, "nov", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, workspace.config, "nov")   # a dry run
    shown = cli("outcomes", "nov", env={"WINBACK_NOW": MORNING})
    assert shown.exit_code == 0, shown.output
    assert "would send" in shown.stdout and "reached" not in shown.stdout, shown.stdout
    assert "reached" in json.loads(cli("outcomes", "nov", "--json", env={"WINBACK_NOW": MORNING}).stdout)["arms"][0]

    (tmp_path / "ladder.toml").write_text(ONE_STEP, encoding="utf-8")
    assert cli("program", "add", str(tmp_path / "ladder.toml")).exit_code == 0
    started = cli("program", "start", "ladder", env={"WINBACK_NOW": MORNING})
    assert started.exit_code == 0, started.output
    shown = cli("program", "show", "ladder", env={"WINBACK_NOW": MORNING})
    assert shown.exit_code == 0, shown.output
    assert "would send" in shown.stdout and "reached" not in shown.stdout, shown.stdout
