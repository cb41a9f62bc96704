"""Recall programs (issue #14) end to end on a real workspace: a 3-step ladder advanced day by day with
WINBACK_NOW, through the campaign send pipeline (dry run and real on the csv transport)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

DAY0 = datetime.fromisoformat("2026-11-25T10:00:00+08:00")

PROGRAM = """\
name = "ladder"
entry = "all"
control = {control}
exit_on = ["order"]

[[steps]]
name = "nudge"
wait = "0d"
channel = "sms"
template = "miss-you"

[[steps]]
name = "offer"
wait = "7d"
channel = ["push", "sms"]
template = {{ push = "miss-you-push", sms = "miss-you" }}

[[steps]]
name = "call"
wait = "14d"
channel = "sms"
template = "miss-you"
only = "region = 华东"
"""

PUSH = '''
name = "miss-you-push"
channel = "push"
title = "Hi {{ user.name }}"
body = "We miss you"
'''


def at_day(monkeypatch, day: float) -> int:
    when = DAY0 + timedelta(days=day)
    monkeypatch.setenv("WINBACK_NOW", when.isoformat())
    return int(when.timestamp())


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    at_day(monkeypatch, 0)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04},
                                                    "push": {"transport": "csv", "price": 0.0}})
    return load_workspace(cfg)


@pytest.fixture
def db(ws):
    conn = ws.open()
    add_users(conn, 30, consent=("sms",))          # sms only: the offer step falls back from push to sms
    conn.execute("UPDATE users SET region = '华东' WHERE id % 2 = 0")
    conn.conn.commit()
    add_template(conn, ws.config, SMS_TEMPLATE)
    add_template(conn, ws.config, PUSH)
    yield conn
    conn.close()


def cli(ws, *args: str, input: str | None = None):
    return CliRunner().invoke(app, ["--config", str(ws.config.path), "--db", str(ws.db_path), *args], input=input)


def add_program(ws, tmp_path, control: int = 20, text: str | None = None):
    path = tmp_path / "ladder.toml"
    path.write_text(text or PROGRAM.format(control=control), encoding="utf-8")
    result = cli(ws, "program", "add", str(path))
    # a fixed salt: the control group (by hash) is the same in every test run, never empty by chance
    db = ws.open()
    db.execute("UPDATE programs SET salt = 'test-salt'")
    db.conn.commit()
    db.close()
    return result


def step_rows(db) -> Counter:
    """(step campaign, status) over the ledger."""
    return Counter((r[0], r[1]) for r in db.execute(
        "SELECT c.name, s.status FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.program_id IS NOT NULL"))


def messages_per_user_step(db) -> Counter:
    return Counter((r[0], r[1]) for r in db.execute(
        "SELECT s.user_id, c.program_step FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
        "WHERE c.program_id IS NOT NULL"))


def test_a_dry_run_ladder_moves_users_step_by_step_and_exits_those_who_return(ws, db, tmp_path, monkeypatch):
    r = add_program(ws, tmp_path)
    assert r.exit_code == 0, r.output
    r = cli(ws, "program", "start", "ladder", "--json")
    assert r.exit_code == 0, r.output
    entries = {row[0]: row[1] for row in db.execute("SELECT user_id, control FROM program_entries")}
    assert len(entries) == 30
    control = {u for u, c in entries.items() if c}
    assert 0 < len(control) < 30
    # step 1 at once: treated users "sent" (dry run), control users recorded holdout, nobody else
    rows = step_rows(db)
    assert rows[("program:ladder/nudge/sms", "sent")] == 30 - len(control)
    assert rows[("program:ladder/nudge/sms", "holdout")] == len(control)
    holdouts = {r[0] for r in db.execute("SELECT user_id FROM sends WHERE status = 'holdout'")}
    assert holdouts == control

    # a rerun at the same time sends nobody a step twice
    assert cli(ws, "program", "run-due").exit_code == 0
    assert step_rows(db) == rows

    # day 3: a treated user orders → exits returned, gets nothing more
    buyer = min(u for u in entries if u not in control)
    ts = at_day(monkeypatch, 3)
    db.execute("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (?, 'order', ?, 1)", [buyer, ts])
    db.conn.commit()
    assert cli(ws, "program", "run-due").exit_code == 0
    assert db.execute("SELECT state, step FROM program_entries WHERE user_id = ?", [buyer]).fetchone() == (
        "returned", 1)
    # day 6: step 2 is not due yet
    at_day(monkeypatch, 6)
    assert cli(ws, "campaign", "run-due").exit_code == 0
    assert not any(name.startswith("program:ladder/offer") for name, _ in step_rows(db))
    # day 7: step 2 falls due; `campaign run-due` advances programs too; push has no consent → sms
    at_day(monkeypatch, 7)
    r = cli(ws, "campaign", "run-due")
    assert r.exit_code == 0, r.output
    rows = step_rows(db)
    assert rows[("program:ladder/offer/sms", "sent")] == 30 - len(control) - 1
    assert rows[("program:ladder/offer/sms", "holdout")] == len(control)
    assert not any(name == "program:ladder/offer/push" for name, _ in rows)
    per = messages_per_user_step(db)
    assert (buyer, 1) not in per and (buyer, 0) in per
    assert max(per.values()) == 1

    # winback not run for a month: step 3 (due day 21) is taken at the next run, once; `only` is obeyed
    at_day(monkeypatch, 40)
    assert cli(ws, "program", "run-due").exit_code == 0
    assert cli(ws, "program", "run-due").exit_code == 0
    per = messages_per_user_step(db)
    got_call = {u for (u, step) in per if step == 2}
    east = {r[0] for r in db.execute("SELECT id FROM users WHERE region = '华东'")}
    assert got_call == east - {buyer}
    assert max(per.values()) == 1
    skipped = Counter(r[0] for r in db.execute("SELECT reason FROM program_moves WHERE outcome = 'skipped'"))
    assert skipped["only"] == len(set(entries) - east - {buyer})
    states = Counter(r[0] for r in db.execute("SELECT state FROM program_entries"))
    assert states == {"finished": 29, "returned": 1}

    # the funnel equals the ledger
    r = cli(ws, "program", "show", "ladder", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["entered"], data["control"], data["returned"]) == (30, len(control), 1)
    nudge, offer, call = data["steps"]
    assert nudge["reached"] == 30 - len(control) and nudge["holdout"] == len(control)
    assert nudge["returned_before_next"] == 1
    assert offer["reached"] == rows[("program:ladder/offer/sms", "sent")]
    assert call["skipped"]["only"] == skipped["only"]
    assert data["comparison"]["treated"]["returned"] == 1 and data["comparison"]["control"]["returned"] == 0
    assert "lift" in data["comparison"]
    r = cli(ws, "program", "show", "ladder")
    assert r.exit_code == 0 and "returned: treated" in r.output
    # step campaigns are internal: `campaign list` does not show them
    assert "program:ladder" not in cli(ws, "campaign", "list").output


def test_a_real_program_records_sent_rows_and_asks_for_the_name(ws, db, tmp_path, monkeypatch):
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    r = cli(ws, "program", "start", "ladder", "--real", input="wrong\n")
    assert r.exit_code == 2 and "does not match" in r.output
    assert db.execute("SELECT COUNT(*) FROM program_entries").fetchone()[0] == 0
    r = cli(ws, "program", "start", "ladder", "--real", input="ladder\n")
    assert r.exit_code == 0, r.output
    rows = step_rows(db)
    assert rows == {("program:ladder/nudge/sms", "sent"): 30}
    assert db.execute("SELECT COUNT(*) FROM sends WHERE dry_run = 0 AND counts_for_caps = 1").fetchone()[0] == 30
    # the csv transport really wrote the messages
    at_day(monkeypatch, 7)
    assert cli(ws, "program", "run-due").exit_code == 0
    assert step_rows(db)[("program:ladder/offer/sms", "sent")] == 30
    assert max(messages_per_user_step(db).values()) == 1


def test_an_opted_out_user_leaves_the_program(ws, db, tmp_path, monkeypatch):
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    db.execute("INSERT INTO consents (user_id, channel, status, at, source) VALUES (1, 'sms', 'withdrawn', ?, 't')",
               [at_day(monkeypatch, 0) - 10])
    db.conn.commit()
    db.execute("DELETE FROM consents WHERE user_id = 2")          # never asked: no consent on record
    db.execute("UPDATE users SET phone = NULL WHERE id = 3")        # no number
    db.conn.commit()
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    states = dict(db.execute("SELECT user_id, state FROM program_entries WHERE user_id <= 4").fetchall())
    assert states == {1: "opted_out", 2: "unreachable", 3: "unreachable", 4: "active"}
    reasons = dict(db.execute("SELECT e.user_id, m.reason FROM program_moves m JOIN program_entries e "
                              "ON e.id = m.entry_id WHERE e.user_id <= 4").fetchall())
    assert reasons == {1: "opted_out", 2: "no_consent", 3: "no_address", 4: None}
    assert {(1, 0), (2, 0), (3, 0)}.isdisjoint(messages_per_user_step(db))


def test_pause_resume_and_stop(ws, db, tmp_path, monkeypatch):
    assert add_program(ws, tmp_path).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    assert cli(ws, "program", "pause", "ladder").exit_code == 0
    at_day(monkeypatch, 8)
    r = cli(ws, "program", "run-due")
    assert r.exit_code == 0 and "no program is running" in r.output
    assert not any(name.startswith("program:ladder/offer") for name, _ in step_rows(db))
    assert cli(ws, "program", "resume", "ladder").exit_code == 0
    assert cli(ws, "program", "run-due").exit_code == 0
    assert any(name.startswith("program:ladder/offer") for name, _ in step_rows(db))
    r = cli(ws, "program", "list", "--json")
    assert json.loads(r.stdout)[0]["status"] == "running"
    r = cli(ws, "program", "stop", "ladder")
    assert r.exit_code == 0, r.output
    assert db.execute("SELECT COUNT(*) FROM program_entries WHERE state = 'active'").fetchone()[0] == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 2


def test_a_cap_shared_with_a_campaign_is_never_exceeded(ws, db, tmp_path, monkeypatch):
    from console.campaigns import control, model

    assert cli(ws, "caps", "set", "any", "1/7d").exit_code == 0
    model.create(db, "blast", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, ws.config, "blast", real=True)
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    assert cli(ws, "program", "start", "ladder", "--real", "--yes").exit_code == 0
    rows = step_rows(db)
    assert rows == {("program:ladder/nudge/sms", "skipped"): 30}
    reasons = {r[0] for r in db.execute("SELECT s.reason FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                                        "WHERE c.program_id IS NOT NULL")}
    assert reasons == {"capped"}
    per_user = Counter(r[0] for r in db.execute(
        "SELECT user_id FROM sends WHERE status IN ('sent', 'delivered', 'claimed', 'unknown')"))
    assert max(per_user.values()) == 1
    data = json.loads(cli(ws, "program", "show", "ladder", "--json").stdout)
    assert data["steps"][0]["skipped"] == {"capped": 30} and data["steps"][0]["reached"] == 0
    # a week later the cap has room again: step 2 reaches them
    at_day(monkeypatch, 7)
    assert cli(ws, "program", "run-due").exit_code == 0
    assert step_rows(db)[("program:ladder/offer/sms", "sent")] == 30


def test_quiet_hours_defer_a_step_and_the_morning_run_sends_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T23:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "quiet_hours": True},
                                                    "push": {"transport": "csv"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 10, consent=("sms",))
    add_template(db, ws.config, SMS_TEMPLATE)
    add_template(db, ws.config, PUSH)
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    assert cli(ws, "program", "start", "ladder", "--real", "--yes").exit_code == 0
    assert step_rows(db) == {("program:ladder/nudge/sms", "deferred"): 10}
    assert cli(ws, "program", "run-due").exit_code == 0      # still night
    assert step_rows(db) == {("program:ladder/nudge/sms", "deferred"): 10}
    # user 3 orders in the night: their deferred message is not sent in the morning
    db.execute("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (3, 'order', ?, 1)",
               [int(datetime.fromisoformat("2026-11-26T02:00:00+08:00").timestamp())])
    db.conn.commit()
    monkeypatch.setenv("WINBACK_NOW", "2026-11-26T08:30:00+08:00")
    assert cli(ws, "campaign", "run-due").exit_code == 0
    assert step_rows(db) == {("program:ladder/nudge/sms", "sent"): 9, ("program:ladder/nudge/sms", "skipped"): 1}
    assert db.execute("SELECT status, reason FROM sends WHERE user_id = 3").fetchone() == ("skipped", "returned")
    assert db.execute("SELECT COUNT(*) FROM program_moves").fetchone()[0] == 10


def test_why_tells_where_a_person_is_and_why(ws, db, tmp_path, monkeypatch):
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    r = cli(ws, "program", "why", "ladder", "u2", "--json")
    assert r.exit_code == 0, r.output
    [entry] = json.loads(r.stdout)["entries"]
    assert entry["state"] == "active" and entry["next_step"] == "offer"
    assert [(m["step_name"], m["outcome"], m["ledger_status"]) for m in entry["moves"]] == [
        ("nudge", "queued", "sent")]
    ts = at_day(monkeypatch, 2)
    db.execute("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (2, 'order', ?, 1)", [ts])
    db.conn.commit()
    assert cli(ws, "program", "run-due").exit_code == 0
    r = cli(ws, "program", "why", "ladder", "u2")
    assert r.exit_code == 0 and "returned" in r.output and "left" in r.output and "order" in r.output
    assert cli(ws, "program", "why", "ladder", "nobody").exit_code == 2


def test_a_real_start_on_a_channel_that_cannot_send_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {}, "push": {}})   # the dry-run transport
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    add_template(db, ws.config, PUSH)
    assert add_program(ws, tmp_path).exit_code == 0
    r = cli(ws, "program", "start", "ladder", "--real", "--yes")
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert db.execute("SELECT status FROM programs").fetchone()[0] == "draft"
    assert db.execute("SELECT COUNT(*) FROM program_entries").fetchone()[0] == 0


def test_a_program_another_live_process_is_running_is_skipped_not_run_twice(ws, db, tmp_path, monkeypatch):
    import socket
    import subprocess
    import sys

    assert add_program(ws, tmp_path).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    now = at_day(monkeypatch, 7)
    pid = db.execute("SELECT id FROM programs").fetchone()[0]
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                   [f"program.runner.{pid}", f"{socket.gethostname()}:{other.pid}@{now}"])
        db.conn.commit()
        r = cli(ws, "program", "run-due", "--json")
        assert r.exit_code == 0, r.output
        [result] = json.loads(r.stdout)
        assert result["outcome"] == "skipped" and str(other.pid) in result["reason"]
        assert not any(name.startswith("program:ladder/offer") for name, _ in step_rows(db))
    finally:
        other.communicate(b"")
    # that process is gone (a crash, kill -9): the next run takes the program over
    r = cli(ws, "program", "run-due")
    assert r.exit_code == 0, r.output
    assert any(name.startswith("program:ladder/offer") for name, _ in step_rows(db))
    assert db.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'program.runner.%'").fetchone()[0] == 0


def test_thirty_days_day_by_day_against_a_real_http_gateway(tmp_path, monkeypatch):
    """The issue's 'must show': run-due every day for 30 days; proved from the gateway's own log."""
    from console.campaigns import control, model
    from tests.servers import HttpGateway
    from tests.test_campaigns_crash import _log

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "t0ken")
    at_day(monkeypatch, 0)
    log = tmp_path / "gateway.jsonl"
    with HttpGateway(log) as gw:
        http = {"transport": "http", "url": gw.url, "token_env": "WB_TEST_SMS_TOKEN", "price": 0.04,
                "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}'}
        cfg = write_config(tmp_path / "winback.toml", {"sms": http, "push": {"transport": "csv"}})
        ws = load_workspace(cfg)
        db = ws.open()
        users = add_users(db, 40, consent=("sms",))
        db.execute("UPDATE users SET region = '华东' WHERE id % 3 = 0")
        db.conn.commit()
        add_template(db, ws.config, SMS_TEMPLATE)
        add_template(db, ws.config, PUSH)
        # a campaign reaches users 1-5 on day 0 under a shared cap of 1 message a week
        assert cli(ws, "caps", "set", "any", "1/7d").exit_code == 0
        db.execute("UPDATE users SET gender = 'f' WHERE id <= ?", [users[4]])
        db.conn.commit()
        from console import segments

        segments.create(db, "first5", "gender = f")
        model.create(db, "blast", segment="first5", channel="sms", template="miss-you", holdout=0)
        control.launch(db, ws.config, "blast", real=True)
        assert add_program(ws, tmp_path, control=15).exit_code == 0
        assert cli(ws, "program", "start", "ladder", "--real", "--yes").exit_code == 0
        entries = dict(db.execute("SELECT user_id, control FROM program_entries").fetchall())
        treated = {u for u, c in entries.items() if not c}
        held = set(entries) - treated
        assert held and len(treated) > 20
        buyer = sorted(treated - set(users[:5]))[0]
        for day in range(1, 31):
            ts = at_day(monkeypatch, day)
            if day == 3:   # orders after step 1, before step 2
                db.execute("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (?, 'order', ?, 1)",
                           [buyer, ts])
                db.conn.commit()
            r = cli(ws, "campaign", "run-due")
            assert r.exit_code == 0, r.output

    phones = dict(db.execute("SELECT id, phone FROM users").fetchall())
    rows = list(db.query("SELECT s.user_id, c.program_step AS step, s.status, s.reason, s.message_id, s.sent_at, "
                         "r.started_at FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                         "JOIN campaign_runs r ON r.campaign_id = s.campaign_id AND r.run = s.run "
                         "WHERE c.program_id IS NOT NULL"))
    arrived = _log(log)
    by_id = Counter(r["id"] for r in arrived)
    assert max(by_id.values()) == 1, "a message arrived twice"
    entered_at = dict(db.execute("SELECT user_id, entered_at FROM program_entries").fetchall())
    # every entrant outside control gets step 1 once (the capped ones: recorded skipped 'capped', not sent)
    step1 = {r["user_id"]: r for r in rows if r["step"] == 0}
    assert set(step1) == set(entries)
    for u in treated:
        assert step1[u]["status"] == ("skipped" if u in users[:5] else "sent"), u
        if u in users[:5]:
            assert step1[u]["reason"] == "capped"
    # the buyer never gets step 2 (nor 3)
    assert {r["step"] for r in rows if r["user_id"] == buyer} == {0}
    # step 2 only after its wait, step 3 only after its own (from step 2's due time), `only` obeyed
    for r in rows:
        if r["step"] == 1:
            assert r["started_at"] - entered_at[r["user_id"]] >= 7 * 86400
        if r["step"] == 2:
            assert r["started_at"] - entered_at[r["user_id"]] >= 21 * 86400
    east = {r[0] for r in db.execute("SELECT id FROM users WHERE region = '华东'")}
    assert {r["user_id"] for r in rows if r["step"] == 2} == east - {buyer}
    # control users get nothing (the gateway never saw their numbers) and are counted as holdout at every step
    step_ids = {r[0] for r in db.execute("SELECT id FROM campaigns WHERE program_id IS NOT NULL")}
    from_program = [r for r in arrived if int(r["id"].split(".")[1]) in step_ids]   # <wb.CAMPAIGN.RUN.USER…>
    assert not {phones[u] for u in held} & {r["to"] for r in from_program}
    assert {r["status"] for r in rows if r["user_id"] in held} == {"holdout"}
    # nobody exceeds the shared cap: at most one message per user in any 7 days
    sends = sorted((r["user_id"], r["sent_at"]) for r in db.query(
        "SELECT user_id, sent_at FROM sends WHERE status = 'sent' AND dry_run = 0"))
    for (u1, t1), (u2, t2) in zip(sends, sends[1:], strict=False):
        assert u1 != u2 or t2 - t1 >= 7 * 86400, (u1, t1, t2)
    # the funnel equals the ledger
    data = json.loads(cli(ws, "program", "show", "ladder", "--json").stdout)
    sent_per_step = Counter(r["step"] for r in rows if r["status"] == "sent")
    hold_per_step = Counter(r["step"] for r in rows if r["status"] == "holdout")
    assert [s["reached"] for s in data["steps"]] == [sent_per_step[k] for k in range(3)]
    assert [s["holdout"] for s in data["steps"]] == [hold_per_step[k] for k in range(3)]
    capped = len(set(users[:5]) & treated)   # control is drawn by hash of a random salt: any of them may be held
    assert data["steps"][0]["skipped"] == ({"capped": capped} if capped else {})
    assert (data["entered"], data["control"], data["returned"]) == (40, len(held), 1)
    assert sum(sent_per_step.values()) == len(from_program) == len(arrived) - 5   # the campaign sent 5


def test_a_dry_run_interrupted_then_started_for_real_never_sends_the_dry_rows(ws, db, tmp_path):
    from console.programs import runner, store

    assert add_program(ws, tmp_path, control=0).exit_code == 0
    # a dry start killed after its step was frozen, before the dispatch: the dry rows are left planned
    dispatch_open = runner._dispatch_open
    runner._dispatch_open = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
    try:
        store.start(db, "ladder", real=False)
        with pytest.raises(KeyboardInterrupt):
            runner.run(db, ws.config, "ladder")
    finally:
        runner._dispatch_open = dispatch_open
    assert step_rows(db) == {("program:ladder/nudge/sms", "planned"): 30}
    r = cli(ws, "program", "start", "ladder", "--real", "--yes")
    assert r.exit_code == 0, r.output
    real = Counter(r[0] for r in db.execute("SELECT status FROM sends WHERE dry_run = 0"))
    dry = Counter(r[0] for r in db.execute("SELECT status FROM sends WHERE dry_run = 1"))
    assert real == {"sent": 30} and dry == {"cancelled": 30}


def test_each_step_run_records_the_uplift_features_of_its_users(ws, db, tmp_path):
    assert add_program(ws, tmp_path).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    rows = db.execute("SELECT COUNT(*), SUM(treated) FROM uplift_features f JOIN campaigns c ON c.id = f.campaign_id "
                      "WHERE c.program_id IS NOT NULL").fetchone()
    held = db.execute("SELECT COUNT(*) FROM program_entries WHERE control = 1").fetchone()[0]
    assert rows == (30, 30 - held)
