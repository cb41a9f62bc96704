"""Frequency caps: the engine never admits more than N dispatches in any window of any rule, counting the ledger
across campaigns and processes; exempt campaigns, dry-runs and failures do not count."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.config import Config
from console.policy.caps import COUNTED_STATUSES, CapRule, parse_rule
from console.policy.engine import evaluate
from storage.db import open_database
from storage.tx import immediate
from tests.policy_support import add_campaign, add_send, add_user

HOUR = 3600
START = 1_790_000_000
USERS = 4
CONFIG = Config()


@dataclass
class Dispatch:
    user: int
    channel: str
    at: int
    counted: bool


rules_st = st.lists(
    st.builds(lambda ch, n, hours: CapRule(channel=ch, max_count=n, window_seconds=hours * HOUR),
              st.sampled_from(["sms", "email", "any"]), st.integers(0, 3), st.sampled_from([1, 5, 24, 72, 168])),
    min_size=1, max_size=3, unique_by=lambda r: (r.channel, r.window_seconds),
)
history_st = st.lists(
    st.tuples(st.integers(0, USERS - 1), st.sampled_from(["sms", "email"]), st.integers(-200, 0),
              st.sampled_from([*COUNTED_STATUSES, "failed", "skipped", "holdout", "planned"]), st.booleans()),
    max_size=12,
)
batches_st = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["sms", "email"]),
              st.sets(st.integers(0, USERS - 1), min_size=1), st.booleans(), st.sampled_from(["sent", "claimed"])),
    min_size=1, max_size=12,
)


def fresh_db(path):
    db = open_database(path)
    db.execute("INSERT INTO settings (key, value) VALUES ('quiet_hours', '{\"off\": true}')")
    users = [add_user(db, f"u{i}", phone=f"+861380000000{i}", consent={"sms": "granted", "email": "granted"},
                      email=f"u{i}@example.cn") for i in range(USERS)]
    return db, users


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=rules_st, history=history_st, batches=batches_st, strategy=st.sampled_from(["per_user", "scan"]))
def test_caps_never_admit_more_than_n_in_any_window(tmp_path_factory, rules, history, batches, strategy):
    db, users = fresh_db(tmp_path_factory.mktemp("caps") / "w.db")
    for rule in rules:
        db.execute("INSERT INTO caps (channel, max_count, window_seconds, created_at, created_by) "
                   "VALUES (?, ?, ?, 0, 't')", [rule.channel, rule.max_count, rule.window_seconds])
    past = add_campaign(db, "past", "sms")
    ledger: list[Dispatch] = []
    for user, channel, hours, status, counts in history:
        add_send(db, past, users[user], at=START + hours * HOUR, channel=channel, status=status, counts=counts)
        ledger.append(Dispatch(user, channel, START + hours * HOUR, counts and status in COUNTED_STATUSES))

    at = START
    admitted: list[Dispatch] = []
    for i, (step, channel, members, exempt, status) in enumerate(batches):
        at += step * HOUR
        campaign = add_campaign(db, f"c{i}", channel, exempt=exempt)
        audience = " UNION ALL ".join(f"SELECT {users[m]} AS user_id" for m in sorted(members))
        db.execute("BEGIN IMMEDIATE")
        verdict = evaluate(db, CONFIG, channel=channel, audience=audience, at=at, campaign_id=campaign, exempt=exempt,
                           caps_strategy=strategy)
        for user_id, (reason, _) in verdict.by_user().items():
            m = users.index(user_id)
            if reason is None:
                add_send(db, campaign, user_id, at=at, channel=channel, status=status, counts=not exempt)
                ledger.append(Dispatch(m, channel, at, not exempt))
                if not exempt:
                    admitted.append(ledger[-1])
            else:
                assert reason == "capped" and not exempt
                # Refused only when some rule is really full at that moment.
                assert any(
                    sum(1 for d in ledger if d.user == m and d.counted and r.applies_to(d.channel)
                        and r.channel in ("any", d.channel) and at - r.window_seconds < d.at) >= r.max_count
                    for r in rules if r.applies_to(channel)
                ), (m, channel, at)
        db.execute("COMMIT")

    # Every admitted dispatch, together with what counted before it, fits every rule that applies to it.
    for d in admitted:
        for r in rules:
            if not r.applies_to(d.channel):
                continue
            in_window = [x for x in ledger if x.user == d.user and x.counted and r.channel in ("any", x.channel)
                         and d.at - r.window_seconds < x.at <= d.at]
            assert len(in_window) <= r.max_count, (r.label, d)
    db.close()


def test_two_processes_claiming_at_once_cannot_both_pass_the_same_cap(workspace):
    """Each worker evaluates and claims inside BEGIN IMMEDIATE on its own connection; the cap holds."""
    db = workspace.open()
    user = add_user(db, "u", phone="+8613800000001")
    db.execute("INSERT INTO settings (key, value) VALUES ('quiet_hours', '{\"off\": true}')")
    campaigns = [add_campaign(db, f"c{i}", "sms") for i in range(8)]
    db.execute("INSERT INTO caps (channel, max_count, window_seconds, created_at, created_by) "
               "VALUES ('sms', 2, 86400, 0, 't')")
    db.close()
    barrier = threading.Barrier(len(campaigns))
    admitted: list[int] = []

    def worker(campaign_id: int) -> None:
        conn = workspace.open()
        barrier.wait()
        with immediate(conn):
            verdict = evaluate(conn, CONFIG, channel="sms", audience=f"SELECT {user} AS user_id", at=START,
                               campaign_id=campaign_id)
            if verdict.admitted:
                add_send(conn, campaign_id, user, at=START, status="claimed")
                admitted.append(campaign_id)
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in campaigns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 2


def test_cap_rules_parse_and_the_cli_lists_them(cli):
    assert parse_rule("SMS", "2/7d") == CapRule("sms", 2, 7 * 86400)
    assert parse_rule("any", "1/12h") == CapRule("any", 1, 12 * 3600)
    for args in (["sms", "2/7"], ["sms", "x/7d"], ["fax", "1/1d"], ["sms", "1/0h"], ["sms", "2/7w"]):
        assert cli("caps", "set", *args).exit_code == 2, args
    assert cli("caps", "set", "sms", "2/7d").exit_code == 0
    assert cli("caps", "set", "any", "1/1d").exit_code == 0
    assert cli("caps", "set", "sms", "3/7d").exit_code == 0  # same channel and window: N changes
    listed = json.loads(cli("caps", "list", "--json").stdout)
    assert [(r["channel"], r["max"], r["window"]) for r in listed] == [("sms", 3, "7d"), ("any", 1, "1d")]
    assert cli("caps", "remove", "sms", "1d").exit_code == 2  # no such rule
    assert cli("caps", "remove", "sms").exit_code == 0
    assert [r["rule"] for r in json.loads(cli("caps", "list", "--json").stdout)] == ["any 1/1d"]
