"""Every reason a user is excluded, decided by the set-based engine and explained by `winback why USER --campaign C`."""

from __future__ import annotations

import json

import pytest

from console.policy.engine import evaluate
from console.policy.explain import explain
from tests.policy_support import add_campaign, add_send, add_user, book, ts

# 10:00 in Shanghai: inside the default 08:00–20:00 sending window for mainland users.
MORNING = "2026-11-25T10:00:00+08:00"
NIGHT = "2026-11-25T22:30:00+08:00"


def why(cli, user: str, campaign: str, now: str = MORNING) -> dict:
    result = cli("why", user, "--campaign", campaign, "--json", env={"WINBACK_NOW": now})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def why_text(cli, user: str, campaign: str, now: str = MORNING) -> str:
    result = cli("why", user, "--campaign", campaign, env={"WINBACK_NOW": now})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def shop(db):
    """A campaign on SMS and a few users; each test adds what makes its user excluded."""
    add_campaign(db, "老客回流", "sms", budget=100.0)
    add_user(db, "ok-user", phone="+8613800000001")
    return db


def test_a_user_with_consent_and_nothing_against_them_would_be_sent(shop, cli):
    d = why(cli, "ok-user", "老客回流")
    assert d["decision"] == "ok"
    assert d["consent"]["status"] == "granted"
    assert d["suppression"]["entries"] == []
    assert d["quiet_hours"]["allowed_now"] is True
    assert d["quiet_hours"]["zones"] == ["Asia/Shanghai"]
    assert d["address"]["value"] == "138****0001"  # masked unless --unmask
    assert "would be sent now" in why_text(cli, "ok-user", "老客回流")


def test_withdrawn_consent_excludes_and_why_shows_the_row_in_force(shop, cli):
    uid = add_user(shop, "withdrew", phone="+8613800000002")
    shop.execute("INSERT INTO consents (user_id, channel, status, at, source) VALUES (?, 'sms', 'withdrawn', ?, 'inbound')",
                 [uid, ts("2026-11-01 00:00")])
    d = why(cli, "withdrew", "老客回流")
    assert d["decision"] == "no_consent"
    assert d["consent"]["row"]["status"] == "withdrawn"
    assert d["consent"]["row"]["source"] == "inbound"
    assert "withdrawn" in why_text(cli, "withdrew", "老客回流")


def test_unknown_consent_is_denied_by_default_and_allowed_by_the_channel_setting(shop, cli, workspace, tmp_path):
    add_user(shop, "silent", phone="+8613800000003", consent={})
    d = why(cli, "silent", "老客回流")
    assert (d["decision"], d["consent"]["status"], d["consent"]["unknown_consent"]) == ("no_consent", "unknown", "deny")
    (tmp_path / "winback.toml").write_text('[channels.sms]\nunknown_consent = "allow"\n', encoding="utf-8")
    assert why(cli, "silent", "老客回流")["decision"] == "ok"


def test_consent_changed_from_the_cli_takes_effect(shop, cli):
    assert cli("consent", "withdraw", "ok-user", "--channel", "sms").exit_code == 0
    assert why(cli, "ok-user", "老客回流")["decision"] == "no_consent"
    assert cli("consent", "grant", "ok-user", "--channel", "sms", "--source", "call-centre").exit_code == 0
    d = why(cli, "ok-user", "老客回流")
    assert d["decision"] == "ok" and d["consent"]["row"]["source"] == "call-centre"
    shown = json.loads(cli("consent", "show", "ok-user", "--json").stdout)
    assert {r["channel"]: r["status"] for r in shown}["sms"] == "granted"
    assert {r["channel"]: r["status"] for r in shown}["email"] == "unknown"


def test_suppressed_by_address_names_the_entry(shop, cli):
    add_user(shop, "stopper", phone="+8613800000004")
    # Entered as the operator would type it: national format, normalised to E.164 before matching.
    assert cli("suppress", "add", "138 0000 0004", "--channel", "sms", "--reason", "opt_out").exit_code == 0
    d = why(cli, "stopper", "老客回流")
    assert d["decision"] == "suppressed"
    [entry] = d["suppression"]["entries"]
    assert (entry["reason"], entry["channel"], entry["address"]) == ("opt_out", "sms", "138****0004")
    assert f"#{entry['id']} opt_out on sms" in why_text(cli, "stopper", "老客回流")


def test_suppressed_by_user_on_all_channels_and_lifting_it_is_audited(shop, cli):
    add_user(shop, "blocked", phone="+8613800000005")
    assert cli("suppress", "add", "--user", "blocked", "--reason", "complaint").exit_code == 0
    assert why(cli, "blocked", "老客回流")["decision"] == "suppressed"
    assert cli("suppress", "remove", "blocked", "--yes").exit_code == 2  # a reason is required
    assert cli("suppress", "remove", "blocked", "--reason", "complaint withdrawn", "--yes").exit_code == 0
    assert why(cli, "blocked", "老客回流")["decision"] == "ok"
    # The entry stays, stamped; the audit log says who lifted it and why.
    listed = json.loads(cli("suppress", "list", "--all", "--json").stdout)
    assert listed[0]["removed_reason"] == "complaint withdrawn" and listed[0]["removed_by"] == "tester"
    assert json.loads(cli("suppress", "list", "--json").stdout) == []
    audit = shop.execute("SELECT details FROM audit WHERE action = 'suppress.remove'").fetchone()
    assert "complaint withdrawn" in audit[0]


def test_a_suppression_on_another_channel_does_not_block(shop, cli):
    add_user(shop, "emailer", phone="+8613800000006", email="Li@Example.cn")
    assert cli("suppress", "add", "li@example.cn", "--channel", "email", "--reason", "bounce").exit_code == 0
    assert why(cli, "emailer", "老客回流")["decision"] == "ok"


def test_no_phone_is_an_invalid_address(shop, cli):
    add_user(shop, "no-phone", phone=None)
    d = why(cli, "no-phone", "老客回流")
    assert d["decision"] == "invalid_address"
    assert "NO  address      (none)" in why_text(cli, "no-phone", "老客回流")


def test_capped_lists_the_dispatches_that_count_and_ignores_those_that_do_not(shop, cli):
    uid = add_user(shop, "busy", phone="+8613800000007")
    other = add_campaign(shop, "双十一", "sms")
    add_send(shop, other, uid, at=ts("2026-11-24T09:00:00+08:00"))               # counts
    add_send(shop, other, uid, at=ts("2026-11-24T11:00:00+08:00"), status="failed")  # never went out
    add_send(shop, other, uid, at=ts("2026-11-24T12:00:00+08:00"), counts=False)     # dry-run / exempt
    add_send(shop, other, uid, at=ts("2026-11-17T09:00:00+08:00"))               # outside the window
    assert cli("caps", "set", "sms", "1/2d").exit_code == 0
    d = why(cli, "busy", "老客回流")
    assert d["decision"] == "capped"
    [rule] = d["caps"]["rules"]
    assert (rule["rule"], rule["count"], rule["ok"]) == ("sms 1/2d", 1, False)
    assert [x["campaign"] for x in rule["dispatches"]] == ["双十一"]
    assert "NO  cap          sms 1/2d: 1 of 1 used" in why_text(cli, "busy", "老客回流")
    # Relaxing the rule admits them again.
    assert cli("caps", "set", "sms", "2/2d").exit_code == 0
    assert why(cli, "busy", "老客回流")["decision"] == "ok"


def test_any_channel_cap_counts_other_channels_and_exempt_campaigns_skip_caps(shop, cli):
    uid = add_user(shop, "multi", phone="+8613800000008")
    mail = add_campaign(shop, "newsletter", "email")
    add_send(shop, mail, uid, at=ts("2026-11-25T08:30:00+08:00"), channel="email")
    cli("caps", "set", "any", "1/1d")
    assert why(cli, "multi", "老客回流")["decision"] == "capped"
    add_campaign(shop, "service-notice", "sms", exempt=True)
    d = why(cli, "multi", "service-notice")
    assert d["decision"] == "ok" and d["caps"]["exempt"] is True


def test_quiet_hours_defer_to_the_next_morning_in_the_users_zone(shop, cli):
    d = why(cli, "ok-user", "老客回流", now=NIGHT)
    assert d["decision"] == "quiet_hours"
    assert d["defer_until"] == ts("2026-11-26T08:00:00+08:00")
    assert d["quiet_hours"]["zone_source"] == "phone"
    # A user whose own zone is New York is in their afternoon at that moment: sent now.
    add_user(shop, "nyc", phone="+8613800000009", timezone="America/New_York")
    assert why(cli, "nyc", "老客回流", now=NIGHT)["decision"] == "ok"
    # Turning quiet hours off lets the night send go out.
    assert cli("quiet-hours", "set", "off").exit_code == 0
    assert why(cli, "ok-user", "老客回流", now=NIGHT)["decision"] == "ok"


def test_over_budget_once_the_campaign_has_spent_its_ceiling(shop, cli, tmp_path):
    (tmp_path / "winback.toml").write_text("[channels.sms]\nprice = 0.04\n", encoding="utf-8")
    add_user(shop, "late", phone="+8613800000010")
    cid = add_campaign(shop, "small", "sms", budget=0.12)
    # recurring: its next run takes 'late' in, so the budget decides (a one-off run already running froze its
    # audience without them: `why` then says they are not in it, whatever the budget)
    shop.execute("UPDATE campaigns SET every_days = 7 WHERE id = ?", [cid])
    book(shop, cid, 0.08)
    book(shop, cid, 5.00, dry_run=True)  # a rehearsal never eats the real budget
    assert why(cli, "late", "small")["decision"] == "ok"  # 0.08 spent of 0.12: one more 0.04 just fits
    book(shop, cid, 0.01)
    d = why(cli, "late", "small")  # 0.09 spent: the next 0.04 does not fit
    assert d["decision"] == "over_budget"
    assert d["budget"]["spent"] == pytest.approx(0.09) and d["budget"]["messages_that_fit"] == 0
    assert "spent 0.09 of 0.12" in why_text(cli, "late", "small")


def test_set_based_verdict_matches_explain_for_every_user(shop, workspace):
    """The batch the dispatcher sees and the single-user explanation never disagree."""
    add_user(shop, "w", consent={"sms": "withdrawn"})
    add_user(shop, "np", phone=None)
    cid = shop.execute("SELECT id FROM campaigns WHERE name = '老客回流'").fetchone()[0]
    at = ts("2026-11-25T10:00:00+08:00")
    batch = evaluate(shop, workspace.config, channel="sms", audience="SELECT id AS user_id FROM users",
                     at=at, campaign_id=cid)
    for user_id, (reason, _) in batch.by_user().items():
        ext = shop.execute("SELECT external_id FROM users WHERE id = ?", [user_id]).fetchone()[0]
        assert explain(shop, workspace.config, ext, "老客回流", at=at)["decision"] == (reason or "ok")
    assert batch.counts == {"ok": 1, "no_consent": 1, "invalid_address": 1}


def test_a_holdout_user_is_never_messaged_whatever_the_policies_say(shop, cli):
    cid = shop.execute("SELECT id FROM campaigns WHERE name = '老客回流'").fetchone()[0]
    uid = shop.execute("SELECT id FROM users WHERE external_id = 'ok-user'").fetchone()[0]
    shop.execute("INSERT INTO sends (campaign_id, user_id, arm, channel, status, dry_run, counts_for_caps, updated_at) "
                 "VALUES (?, ?, 'holdout', 'sms', 'holdout', 0, 0, 0)", [cid, uid])
    d = why(cli, "ok-user", "老客回流")
    assert d["decision"] == "holdout" and d["consent"]["ok"] is True
    assert "arm holdout" in why_text(cli, "ok-user", "老客回流")


def test_a_user_the_run_already_messaged_is_not_reported_as_would_be_sent(shop, cli):
    # `why` said "would be sent now" beside a ledger row showing the message already delivered.
    cid = shop.execute("SELECT id FROM campaigns WHERE name = '老客回流'").fetchone()[0]
    uid = shop.execute("SELECT id FROM users WHERE external_id = 'ok-user'").fetchone()[0]
    add_send(shop, cid, uid, at=ts("2026-11-20T10:00:00+08:00"), status="delivered", dry_run=True, counts=False)
    d = why(cli, "ok-user", "老客回流")
    assert d["decision"] == "ok"                          # the policies themselves still allow it
    # … and a dry run's row was never sent: "would send", not "delivered" (tests/test_why_simulated_words.py)
    assert "would be sent now" not in d["summary"]
    assert "already has this user (would send — dry run, nothing was sent)" in d["summary"]
    assert "not taken again" in " ".join(why_text(cli, "ok-user", "老客回流").split())


def test_a_user_outside_the_campaigns_segment_is_told_so_before_any_policy(shop, cli):
    from console import segments

    segments.create(shop, "big-spenders", "orders >= 3")
    shop.execute("UPDATE campaigns SET segment = 'big-spenders' WHERE name = '老客回流'")
    d = why(cli, "ok-user", "老客回流")
    assert d["decision"] == "not_in_segment"
    assert d["segment"]["member"] is False and d["segment"]["excluded_by"] == "orders >= 3"
    text = why_text(cli, "ok-user", "老客回流")
    assert "NO  segment      big-spenders: excluded by orders >= 3 (theirs: 0)" in text


def test_campaign_why_wraps_long_facts_under_their_column(shop, cli):
    result = cli("why", "ok-user", "--campaign", "老客回流", env={"WINBACK_NOW": MORNING, "COLUMNS": "80"})
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and max(len(line) for line in lines) <= 80
    quiet = next(i for i, line in enumerate(lines) if "quiet hours" in line)
    assert lines[quiet + 1].startswith(" " * 19) and "Asia/Shanghai" in "".join(lines[quiet:quiet + 3])


def test_unmasking_an_address_in_why_is_audited(shop, cli):
    def unmasked() -> int:
        return shop.execute("SELECT COUNT(*) FROM audit WHERE action = 'policy.why.unmask'").fetchone()[0]

    why(cli, "ok-user", "老客回流")
    assert unmasked() == 0
    result = cli("why", "ok-user", "--campaign", "老客回流", "--unmask", "--json", env={"WINBACK_NOW": MORNING})
    assert json.loads(result.stdout)["address"]["value"] == "+8613800000001"
    assert unmasked() == 1
    [details] = [json.loads(r[0]) for r in shop.execute(
        "SELECT details FROM audit WHERE action = 'policy.why.unmask'")]
    assert details == {"user": "ok-user", "campaign": "老客回流"}
