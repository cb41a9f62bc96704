"""The campaign pipeline on real SQLite files: plan, freeze, dispatch, control, tallies, recurring runs, CLI."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from console.errors import BadInput, NotFound
from tests.campaign_support import (
    EMAIL_TEMPLATE,
    SMS_TEMPLATE,
    add_template,
    add_users,
    load_workspace,
    write_config,
)

SHANGHAI_2300 = "2026-11-25T23:00:00+08:00"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    # csv: a real transport with nothing to stand up (a real run on "dryrun" is refused); dry runs never use it
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04},
                                                    "email": {"transport": "csv", "price": 0.001,
                                                              "from": "B <a@brand.example>"}})
    return load_workspace(cfg)


@pytest.fixture
def db(ws):
    conn = ws.open()
    add_users(conn, 40)
    add_template(conn, ws.config, SMS_TEMPLATE)
    add_template(conn, ws.config, SMS_TEMPLATE.replace('"miss-you"', '"miss-you-b"').replace("好久不见", "想你了"))
    yield conn
    conn.close()


def _states(db, name="c"):
    return Counter((r["status"], r["reason"]) for r in db.query(
        "SELECT s.status, s.reason FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = ?", [name]))


def test_create_checks_what_the_operator_typed(db):
    from console.campaigns import model

    with pytest.raises(BadInput, match="--channel 'fax'"):
        model.create(db, "c", segment="all", channel="fax", template="miss-you")
    with pytest.raises(NotFound, match="no template named 'nope'"):
        model.create(db, "c", segment="all", channel="sms", template="nope")
    with pytest.raises(NotFound, match="segment"):
        model.create(db, "c", segment="no-such-segment", channel="sms", template="miss-you")
    with pytest.raises(BadInput, match="weight"):
        model.create(db, "c", segment="all", channel="sms", template="miss-you", variants=["miss-you-b=half"])
    with pytest.raises(BadInput, match="--every"):
        model.create(db, "c", segment="all", channel="sms", template="miss-you", every="weekly")
    c = model.create(db, "c", segment="all", channel="sms", template="miss-you", variants=["miss-you-b=30"],
                     every="1w")
    assert [(v.label, v.template, v.weight) for v in c.variants] == [("A", "miss-you", 70), ("B", "miss-you-b", 30)]
    assert (c.every_days, c.reentry_days, c.status) == (7, 7, "draft")
    with pytest.raises(BadInput, match="already exists"):
        model.create(db, "c", segment="all", channel="sms", template="miss-you")


def test_arms_are_fixed_by_hash_and_follow_the_holdout_and_weights():
    from console.campaigns.audience import arm_assigner
    from console.campaigns.model import Variant

    variants = [Variant("A", "t1", 50), Variant("B", "t2", 50)]
    assign = arm_assigner("salt-1", 10, variants)
    arms = Counter(assign(u) for u in range(1, 20_001))
    assert abs(arms["holdout"] - 2000) < 200
    assert abs(arms["A"] - arms["B"]) < 600
    assert [assign(u) for u in range(100)] == [arm_assigner("salt-1", 10, variants)(u) for u in range(100)]
    assert [assign(u) for u in range(100)] != [arm_assigner("salt-2", 10, variants)(u) for u in range(100)]
    assert set(Counter(arm_assigner("s", 0, variants)(u) for u in range(1000))) == {"A", "B"}


def test_plan_funnel_matches_what_the_dry_run_records(ws, db):
    from console.campaigns import control, model, plan, tallies
    from console.policy.suppression import add_suppression

    # 4 without consent, 3 suppressed, 2 without a phone; budget for 20 messages.
    db.execute("INSERT INTO consents (user_id, channel, status, at, source) "
               "SELECT id, 'sms', 'withdrawn', 1700000001, 'test' FROM users WHERE id IN (1, 2, 3, 4)")
    for ext in ("u5", "u6"):
        add_suppression(db, ws.config, user=ext, channel="sms", reason="opt_out")
    add_suppression(db, ws.config, address="+8613800000007", channel="all", reason="complaint")
    db.execute("UPDATE users SET phone = NULL WHERE id IN (8, 9)")
    model.create(db, "c", segment="all", channel="sms", template="miss-you", variants=["miss-you-b=50"],
                 holdout=10, budget=0.8)
    p = plan.plan(db, ws.config, "c")
    funnel = {f["step"]: f["count"] for f in p["funnel"]}
    assert funnel["segment"] == 40
    holdout = funnel["holdout"]
    summary = control.launch(db, ws.config, "c")
    assert summary.outcome == "completed"
    states = _states(db)
    assert states[("holdout", None)] == holdout
    treated_ids = [r[0] for r in db.execute("SELECT user_id FROM sends WHERE arm != 'holdout'")]
    expect = lambda ids: sum(1 for u in ids if u in treated_ids)  # noqa: E731
    assert funnel["no consent"] == states[("skipped", "no_consent")] == expect([1, 2, 3, 4])
    assert funnel["suppressed"] == states[("skipped", "suppressed")] == expect([5, 6, 7])
    assert funnel["invalid address"] == states[("skipped", "invalid_address")] == expect([8, 9])
    assert funnel["to send"] == states[("sent", None)] == 20
    assert funnel["over budget"] == states[("skipped", "over_budget")]
    assert sum(v["to_send"] for v in p["variants"]) == 20 and p["est_cost"] == pytest.approx(0.8)
    assert p["min_detectable_lift"] is None or 0 < p["min_detectable_lift"] < 1
    t = tallies.tally(db, "c")
    assert t["sent"] == 20 and t["cost"] == pytest.approx(0.8) and t["status"] == "completed"
    assert sum(t[s] for s in ("sent", "skipped", "holdout")) == 40
    assert t["variants"]["A"]["sent"] + t["variants"]["B"]["sent"] == 20
    # the dry run is not a send: a real launch afterwards is allowed and measured on its own
    assert model.get(db, "c").dry_run


def test_opt_out_committed_after_freeze_stops_the_send(ws, db):
    from console.campaigns import model
    from console.campaigns.dispatch import dispatch
    from console.campaigns.freeze import freeze
    from console.policy.suppression import add_suppression

    c = model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    freeze(db, c, dry_run=True)
    add_suppression(db, ws.config, user="u10", channel="sms", reason="opt_out", source="inbound:sms")
    dispatch(db, ws.config, "c")
    row = db.execute("SELECT status, reason FROM sends WHERE user_id = 10").fetchone()
    assert tuple(row) == ("skipped", "suppressed")


def test_pause_from_another_connection_takes_effect_within_one_batch_then_resume_and_cancel(ws, db):
    from console.campaigns import control, model, tallies

    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    other = ws.open()   # another "process": its own connection
    batches = []

    def progress(done, total):
        batches.append(done)
        if len(batches) == 1:
            control.pause(other, "c", "checking copy")

    summary = control.launch(db, ws.config, "c", progress=progress, batch_size=7)
    assert summary.outcome == "paused"
    assert _states(db)[("sent", None)] == 7   # the batch in hand finished; no further claim
    assert model.get(db, "c").pause_reason == "checking copy"
    summary = control.resume(db, ws.config, "c", batch_size=7, progress=lambda d, t: (
        control.cancel(other, "c", "wrong segment") if d >= 7 else None))
    assert summary.outcome == "cancelled"
    states = _states(db)
    assert states[("sent", None)] == 14 and states[("cancelled", "cancelled")] == 26
    t = tallies.tally(db, "c")
    assert (t["sent"], t["cancelled"], t["waiting"], t["status"]) == (14, 26, 0, "cancelled")
    with pytest.raises(BadInput, match="cancelled"):
        control.resume(db, ws.config, "c")
    audit = [(r["action"], r["actor"], bool(r["host"])) for r in db.query(
        "SELECT action, actor, host FROM audit WHERE action LIKE 'campaign.%' ORDER BY id")]
    assert [a for a, _, _ in audit] == ["campaign.create", "campaign.launch", "campaign.pause", "campaign.resume",
                                        "campaign.cancel"]
    assert all(actor == "tester" and host for _, actor, host in audit)


def test_quiet_hours_defer_then_run_due_sends_in_the_morning(tmp_path, monkeypatch):
    from console.campaigns import control, model, tallies

    monkeypatch.chdir(tmp_path)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "quiet_hours": True}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 10)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    monkeypatch.setenv("WINBACK_NOW", SHANGHAI_2300)
    # a real run (on the CSV transport) waits for its deferrals; a dry run would end at once
    summary = control.launch(db, ws.config, "c", real=True)
    assert summary.outcome == "waiting" and summary.deferred == 10
    from console.clock import parse_iso

    assert summary.next_at == int(parse_iso("2026-11-26T08:00:00+08:00").timestamp())
    assert tallies.tally(db, "c")["deferred"] == 10
    assert control.run_due(db, ws.config) == []          # still night
    monkeypatch.setenv("WINBACK_NOW", "2026-11-26T08:30:00+08:00")
    [result] = control.run_due(db, ws.config)
    assert result["outcome"] == "completed" and result["sent"] == 10


def test_recurring_campaign_reaches_only_newcomers_and_respects_reentry(ws, db, monkeypatch):
    from console.campaigns import control, model

    monkeypatch.setenv("WINBACK_NOW", "2026-11-02T10:00:00+08:00")
    model.create(db, "weekly", segment="all", channel="sms", template="miss-you", holdout=0, every="7d",
                 reentry="30d")
    control.launch(db, ws.config, "weekly", real=True)   # a real run (CSV transport): counts towards re-entry
    c = model.get(db, "weekly")
    assert c.status == "scheduled" and c.next_run_at == c.launched_at + 7 * 86400
    add_users(db, 5, start=41)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-05T10:00:00+08:00")
    assert control.run_due(db, ws.config) == []               # not due yet
    monkeypatch.setenv("WINBACK_NOW", "2026-11-09T10:00:00+08:00")
    [run2] = control.run_due(db, ws.config)
    assert run2["run"] == 2 and run2["sent"] == 5
    assert {r[0] for r in db.execute("SELECT user_id FROM sends WHERE run = 2")} == set(range(41, 46))
    monkeypatch.setenv("WINBACK_NOW", "2026-12-03T10:00:00+08:00")   # > 30 days after run 1
    control.run_due(db, ws.config)   # run 3 (Nov 16) had nobody new
    runs = {r[0]: r[1] for r in db.execute("SELECT run, COUNT(*) FROM sends GROUP BY run")}
    assert runs[1] == 40 and runs[2] == 5
    assert max(runs) >= 3 and sum(runs.values()) <= 90


def test_dry_run_does_not_count_towards_caps_but_real_does(ws, db):
    from console.campaigns import control, model
    from console.policy import caps

    caps.set_rule(db, caps.parse_rule("any", "1/7d"))
    for name in ("first", "rehearsal", "second"):
        model.create(db, name, segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, ws.config, "rehearsal")                 # dry run
    control.launch(db, ws.config, "first", real=True)
    assert _states(db, "first")[("sent", None)] == 40
    control.launch(db, ws.config, "second", real=True)
    assert _states(db, "second") == {("skipped", "capped"): 40}


def test_cli_real_launch_needs_the_typed_count(ws, db):
    from typer.testing import CliRunner

    from console.cli import app

    db.execute("UPDATE consents SET status = 'withdrawn' WHERE user_id > 30 AND channel = 'sms'")
    runner = CliRunner()
    base = ["--config", str(ws.config.path)]
    assert runner.invoke(app, [*base, "campaign", "create", "c", "--segment", "all", "--channel", "sms",
                               "--template", "miss-you", "--holdout", "0"]).exit_code == 0
    plan = json.loads(runner.invoke(app, [*base, "campaign", "plan", "c", "--json"]).stdout)
    assert plan["to_send"] == 30
    wrong = runner.invoke(app, [*base, "campaign", "launch", "c", "--real"], input="31\n")
    assert wrong.exit_code == 2 and "does not match" in wrong.output
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0
    ok = runner.invoke(app, [*base, "campaign", "launch", "c", "--real", "--json"], input="30\n")
    assert ok.exit_code == 0, ok.output
    tally = json.loads(runner.invoke(app, [*base, "campaign", "tally", "c", "--json"]).stdout)
    assert (tally["sent"], tally["skipped_by_reason"], tally["dry_run"]) == (30, {"no_consent": 10}, False)
    listed = json.loads(runner.invoke(app, [*base, "campaign", "list", "--json"]).stdout)
    assert listed[0]["name"] == "c" and listed[0]["sent"] == 30
    again = runner.invoke(app, [*base, "campaign", "launch", "c", "--real", "--yes"])
    assert again.exit_code == 2 and "already been sent" in again.output


def test_email_dry_run_renders_subject_and_records_message_ids(ws, db):
    from console.campaigns import control, model

    add_template(db, ws.config, EMAIL_TEMPLATE)
    model.create(db, "mail", segment="all", channel="email", template="miss-you-mail", holdout=0)
    control.launch(db, ws.config, "mail")
    rows = list(db.query("SELECT message_id, payload_hash, status FROM sends"))
    assert len({r["message_id"] for r in rows}) == 40 and all(r["payload_hash"] for r in rows)
    assert all(r["message_id"].endswith("@brand.example>") for r in rows)


def test_two_dispatcher_processes_share_a_dry_run_without_overlap(ws, db):
    from console.campaigns import control, model, tallies

    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    summary = control.launch(db, ws.config, "c", workers=2, batch_size=3)
    assert summary.outcome == "completed" and summary.sent == 40
    holders = {r[0] for r in db.execute("SELECT DISTINCT claimed_by FROM sends")}
    assert len(holders) == 2   # both processes claimed a share
    assert tallies.tally(db, "c")["sent"] == 40


def test_a_saved_segment_decides_the_audience_and_cannot_be_removed_while_used(ws, db):
    from console import segments
    from console.campaigns import control, model

    db.execute("UPDATE users SET region = '华东' WHERE id <= 12")
    segments.create(db, "east", "region = 华东")
    model.create(db, "c", segment="east", channel="sms", template="miss-you", holdout=0)
    control.launch(db, ws.config, "c")
    assert {r[0] for r in db.execute("SELECT user_id FROM sends")} == set(range(1, 13))
    with pytest.raises(BadInput, match="used by campaign 'c'"):
        segments.remove(db, "east")


def test_recipients_by_state_are_masked(ws, db):
    from console.campaigns import control, model, tallies

    db.execute("UPDATE consents SET status = 'withdrawn' WHERE user_id = 3")
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, ws.config, "c")
    [skipped] = tallies.recipients(db, "c", "skipped")
    assert (skipped["external_id"], skipped["reason"], skipped["address"]) == ("u3", "no_consent", "138****0003")
    assert len(tallies.recipients(db, "c", "sent", limit=5)) == 5


def test_resume_and_run_due_leave_a_campaign_alone_while_another_dispatcher_sends_it(ws, db):
    import os
    import socket

    from console.campaigns import control, model
    from console.campaigns.freeze import freeze
    from console.clock import now_ts

    c = model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    freeze(db, c, dry_run=True)
    other = f"{socket.gethostname()}:{os.getppid()}"   # a live process that is not us
    db.execute("UPDATE campaign_runs SET dispatcher = ?, heartbeat_at = ?", [other, now_ts()])
    with pytest.raises(BadInput, match="being sent right now"):
        control.resume(db, ws.config, "c")
    [skipped] = control.run_due(db, ws.config)   # said, not silent: cron's log shows why nothing was sent
    assert skipped["outcome"] == "skipped" and skipped["reason"] == f"being run by another process ({other})"
    db.execute("UPDATE campaign_runs SET heartbeat_at = ?", [now_ts() - 3600])   # gone quiet: presumed dead
    [result] = control.run_due(db, ws.config)
    assert result["outcome"] == "completed" and result["sent"] == 40


def test_run_due_reports_a_broken_campaign_and_still_runs_the_others(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from console.campaigns import model
    from console.campaigns.freeze import freeze
    from console.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WB_MISSING_TOKEN", raising=False)
    cfg = write_config(tmp_path / "winback.toml", {
        "sms": {"transport": "http", "url": "http://127.0.0.1:9/send", "token_env": "WB_MISSING_TOKEN"},
        "email": {"transport": "csv", "from": "B <a@brand.example>"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 5)
    add_template(db, ws.config, SMS_TEMPLATE)
    add_template(db, ws.config, EMAIL_TEMPLATE)
    for name, channel, template in (("texts", "sms", "miss-you"), ("mails", "email", "miss-you-mail")):
        freeze(db, model.create(db, name, segment="all", channel=channel, template=template, holdout=0),
               dry_run=False)   # launched, then the dispatcher died before sending anything
    result = CliRunner().invoke(app, ["--config", str(cfg), "campaign", "run-due", "--json"])
    assert result.exit_code == 1
    by_name = {r["campaign"]: r for r in json.loads(result.stdout)}
    assert by_name["texts"]["outcome"] == "error" and "WB_MISSING_TOKEN" in by_name["texts"]["error"]
    assert by_name["mails"]["outcome"] == "completed" and by_name["mails"]["sent"] == 5
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'planned'").fetchone()[0] == 5   # texts wait


def test_unsubscribe_links_carry_the_inbound_servers_own_token(tmp_path):
    """The link's token is the one console.inbound verifies: under a new workspace secret, a new link follows."""
    from console import secrets
    from console import unsubscribe as tokens
    from console.campaigns import integrations

    cfg = write_config(tmp_path / "winback.toml", {"email": {"transport": "dryrun", "from": "a@brand.example",
                                                              "unsubscribe_url": "https://brand.example/u/{token}"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    link = integrations.unsubscribe_links(db, ws.config, "email", 42)
    token = link(2).rsplit("/", 1)[1]
    assert link(2) == f"https://brand.example/u/{tokens.unsubscribe_token(db, 2, 'email', 42)}"
    assert tokens.verify_unsubscribe_token(db, token) == (2, "email", 42)
    db.execute("UPDATE settings SET value = ? WHERE key = ?", ["ab" * 32, secrets.SETTING_KEY])
    fresh = integrations.unsubscribe_links(db, ws.config, "email", 42)(2).rsplit("/", 1)[1]
    assert fresh != token and tokens.verify_unsubscribe_token(db, fresh) == (2, "email", 42)
    assert tokens.verify_unsubscribe_token(db, token) is None   # signed under the old secret


def test_a_question_mark_inside_a_segments_string_literal_is_not_a_parameter(ws, db, monkeypatch):
    """The segment's query runs with its own parameters as given: a literal '?' (or ':name') stays text."""
    from console.campaigns import control, integrations, model, plan

    db.execute("UPDATE users SET name = 'who? :me' WHERE id <= 5")
    query = ("SELECT id FROM users WHERE name != 'who? :me' AND id > ? AND id <= ?", [10, 30])
    monkeypatch.setattr(integrations, "segment_members_sql", lambda db, name: query)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    assert plan.plan(db, ws.config, "c")["funnel"][0]["count"] == 20
    control.launch(db, ws.config, "c")
    assert [r[0] for r in db.execute("SELECT user_id FROM sends ORDER BY user_id")] == list(range(11, 31))


def test_tally_shows_why_a_campaign_paused_and_the_brake_rates(ws, db):
    from typer.testing import CliRunner

    from console.campaigns import brakes, control, model
    from console.cli import app

    with open(ws.config.path, "a", encoding="utf-8") as f:
        f.write("\n[brakes]\nmin_sends = 10\n")
    ws = load_workspace(ws.config.path)
    c = model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, ws.config, "c", real=True)
    # receipts later say 12 of the 40 failed; the campaign is running again (a later run's view)
    db.execute("UPDATE sends SET status = 'failed' WHERE user_id <= 12")
    db.execute("UPDATE campaigns SET status = 'running' WHERE id = ?", [c.id])
    assert brakes.check(db, ws.config, c.id) is not None
    runner = CliRunner()
    base = ["--config", str(ws.config.path)]
    data = json.loads(runner.invoke(app, [*base, "campaign", "tally", "c", "--json"]).stdout)
    assert data["status"] == "paused" and data["pause_reason"].startswith("brake: 12 of the last 40 sends failed")
    assert (data["brakes"]["sends"], data["brakes"]["failures"], data["brakes"]["opt_outs"]) == (40, 12, 0)
    assert data["brakes"]["failure_rate"] == pytest.approx(0.3) and data["brakes"]["limits"]["failure_rate"] == 0.2
    human = runner.invoke(app, [*base, "campaign", "tally", "c"]).output
    assert "paused: brake: 12 of the last 40 sends failed" in human
    assert "failures 12 (30.0%, limit 20.0%)" in human


def test_convert_on_sets_what_counts_as_coming_back_and_show_says_it(ws, db):
    from typer.testing import CliRunner

    from console.cli import app
    from console.clock import now_ts
    from console.outcomes import campaign_outcomes

    runner = CliRunner()
    base = ["--config", str(ws.config.path)]
    bad = runner.invoke(app, [*base, "campaign", "create", "x", "--segment", "all", "--channel", "sms",
                              "--template", "miss-you", "--convert-on", "order,big spend"])
    assert bad.exit_code == 2 and "'big spend' is not an event kind" in bad.output
    for name, extra in (("visits", ["--convert-on", "orders, visit"]), ("orders", [])):
        assert runner.invoke(app, [*base, "campaign", "create", name, "--segment", "all", "--channel", "sms",
                                   "--template", "miss-you", "--holdout", "0", *extra]).exit_code == 0
        assert runner.invoke(app, [*base, "campaign", "launch", name]).exit_code == 0
    shown = json.loads(runner.invoke(app, [*base, "campaign", "show", "visits", "--json"]).stdout)
    assert shown["conversion_kinds"] == ["order", "visit"]
    assert "order, visit" in runner.invoke(app, [*base, "campaign", "show", "visits"]).output
    assert json.loads(runner.invoke(app, [*base, "campaign", "show", "orders", "--json"]).stdout)[
        "conversion_kinds"] == ["order"]
    at = now_ts() + 60
    db.conn.executemany("INSERT INTO events (user_id, kind, at, fingerprint) VALUES (?, 'visit', ?, ?)",
                        [(u, at, u) for u in range(1, 6)])
    as_of = at + 1
    assert campaign_outcomes(db, "visits", ws.config, as_of=as_of).arm("A").converters == 5
    assert campaign_outcomes(db, "orders", ws.config, as_of=as_of).arm("A").converters == 0


def _score(db, user_ids, value=lambda u: float(u)):
    db.conn.executemany(
        "INSERT INTO scores (user_id, p_alive, expected_orders_90d, expected_value, model, repeat_orders, fit_run, "
        "as_of, scored_at) VALUES (?, 0.5, 0.1, ?, 'bgnbd', 1, 1, 0, 0)", [(u, value(u)) for u in user_ids])


def test_plan_ranked_by_expected_value_within_a_budget_is_the_audience_the_launch_reaches(ws, db):
    """plan --rank-by --budget saves the targeting; launch freezes exactly the plan's top users, best first,
    and the holdout is cut at the same rank as the variants (ranked before the split), so it is not biased."""
    from typer.testing import CliRunner

    from console.cli import app

    add_users(db, 160, start=41)
    _score(db, range(6, 201))            # users 1-5 have no score: they come last
    runner = CliRunner()
    base = ["--config", str(ws.config.path)]
    assert runner.invoke(app, [*base, "campaign", "create", "c", "--segment", "all", "--channel", "sms",
                               "--template", "miss-you", "--holdout", "20"]).exit_code == 0
    everyone = json.loads(runner.invoke(app, [*base, "campaign", "plan", "c", "--json"]).stdout)
    planned = runner.invoke(app, [*base, "campaign", "plan", "c", "--rank-by", "expected_value", "--budget", "2",
                                  "--json"])
    assert planned.exit_code == 0, planned.output
    data = json.loads(planned.stdout)
    assert data["targeting_saved"] and data["rank_by"] == "expected_value" and data["budget"] == 2
    assert data["to_send"] == 50 == data["ranking"]["chosen"]["recipients"]       # 2.00 / 0.04 each
    assert data["ranking"]["everyone"]["recipients"] == everyone["to_send"] == everyone["treated"]
    assert data["ranking"]["share_of_expected_value"] > data["ranking"]["share_if_random"]
    funnel = {f["reason"]: f["count"] for f in data["funnel"] if f["reason"]}
    assert funnel["ranked_out"] == 200 - data["treated"] - data["holdout"] > 0
    human = runner.invoke(app, [*base, "campaign", "plan", "c"]).output
    assert "ranked by expected_value: 50 of" in human and "below the cut-off" in human

    launched = runner.invoke(app, [*base, "campaign", "launch", "c", "--json"])
    assert launched.exit_code == 0, launched.output
    rows = list(db.query("SELECT user_id, arm, status FROM sends ORDER BY id"))
    sent = [r["user_id"] for r in rows if r["status"] == "sent"]
    held = [r["user_id"] for r in rows if r["arm"] == "holdout"]
    assert len(sent) == 50 and len(held) == data["holdout"] > 0 and len(rows) == data["treated"] + data["holdout"]
    cut = min(sent)
    assert sent == sorted(sent, reverse=True), "the ledger goes in rank order: best first"
    # The cut-off applies to every arm: nobody below it is in the campaign, the holdout included ...
    assert min(r["user_id"] for r in rows) >= cut and min(held) >= cut
    # ... and everyone above it is, in whichever arm the hash put them.
    assert {r["user_id"] for r in rows} == set(range(cut, 201))


def test_ranking_needs_a_budget_and_cannot_change_after_a_real_send(ws, db):
    from console.campaigns import control, model, plan

    with pytest.raises(BadInput, match="--budget"):
        model.create(db, "c", segment="all", channel="sms", template="miss-you", rank_by="expected_value")
    with pytest.raises(BadInput, match="--rank-by 'spend'"):
        model.create(db, "c", segment="all", channel="sms", template="miss-you", rank_by="spend", budget=1)
    c = model.create(db, "c", segment="all", channel="sms", template="miss-you", rank_by="p_alive", budget=1,
                     holdout=0)
    assert (c.rank_by, c.budget) == ("p_alive", 1)
    control.launch(db, ws.config, "c", real=True)
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'sent'").fetchone()[0] == 25
    with pytest.raises(BadInput, match="can no longer change"):
        plan.plan(db, ws.config, "c", rank_by="expected_value", budget=5)


def test_a_freeze_keeps_the_callers_temp_tables(ws, db):
    """The freeze lets its sorter spill to disk, but switching temp_store drops every temp table of the connection
    (a program's run keeps its due users in one): it switches only when that drops nothing."""
    from console.campaigns import model
    from console.campaigns.freeze import freeze

    db.execute("CREATE TEMP TABLE callers (user_id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO temp.callers VALUES (1)")
    c = model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    freeze(db, c, dry_run=True)
    assert db.execute("SELECT count(*) FROM temp.callers").fetchone()[0] == 1


@pytest.mark.parametrize(("channel", "template", "parts"), [("sms", "miss-you", True),
                                                             ("email", "miss-you-mail", False)])
def test_the_cli_plan_says_parts_only_for_sms(ws, db, channel, template, parts):
    """'Parts' are the billed segments of an SMS: an email plan said '~40 parts' (as the console's plan pane
    already does not)."""
    from typer.testing import CliRunner

    from console.cli import app

    add_template(db, ws.config, EMAIL_TEMPLATE)
    base = ["--config", str(ws.config.path)]
    runner = CliRunner()
    assert runner.invoke(app, [*base, "campaign", "create", "c", "--segment", "all", "--channel", channel,
                               "--template", template, "--holdout", "0"]).exit_code == 0
    said = " ".join(runner.invoke(app, [*base, "campaign", "plan", "c"]).output.split())
    assert "to send: 40 messages" in said, said
    assert ("parts" in said) is parts, said
