"""Issue 19.7: a routine re-import does not bring consent back after an opt-out. Consent is a history: a "yes" in a
later file re-grants only with a stated consent time (--consent-at) newer than the withdrawal; an opt-out by reply
stops the person, not only the old number."""

from __future__ import annotations

from console.config import Config
from console.inbound.apply import Reply, apply_replies
from console.policy.consent import latest_consent
from console.policy.suppression import matching_entries


def users_file(tmp_path, name: str, phone: str, consent: str = "yes"):
    path = tmp_path / name
    path.write_text(f"external_id,phone,consent_sms\nu1,{phone},{consent}\nu2,13900000002,yes\n", encoding="utf-8")
    return path


def at(monkeypatch, iso: str) -> None:
    monkeypatch.setenv("WINBACK_NOW", iso)


def consent_of(db, external_id: str) -> str | None:
    uid = db.execute("SELECT id FROM users WHERE external_id = ?", [external_id]).fetchone()[0]
    row = latest_consent(db, uid, "sms")
    return row["status"] if row else None


def test_a_stop_reply_outlives_the_nightly_crm_file_with_a_new_number(tmp_path, monkeypatch, cli, db):
    at(monkeypatch, "2026-11-01T10:00:00+08:00")
    assert cli("import", "users", str(users_file(tmp_path, "day1.csv", "13800000001"))).exit_code == 0
    at(monkeypatch, "2026-11-02T10:00:00+08:00")
    apply_replies(db, Config(), "sms", [Reply(1, "+8613800000001", "退订")], source="test")
    at(monkeypatch, "2026-11-03T02:00:00+08:00")
    result = cli("import", "users", str(users_file(tmp_path, "day2.csv", "13800000099")))
    assert result.exit_code == 0, result.output
    assert "1 consent(s) kept withdrawn" in result.output
    assert consent_of(db, "u1") == "withdrawn"
    assert consent_of(db, "u2") == "granted"
    # The person is suppressed, so the new number is not messaged either (and the old number stays blocked).
    uid = db.execute("SELECT id FROM users WHERE external_id = 'u1'").fetchone()[0]
    assert [e["reason"] for e in matching_entries(db, user_id=uid, address="+8613800000099", channel="sms")] == [
        "opt_out"]


def test_a_re_import_re_grants_only_with_a_newer_consent_time(tmp_path, monkeypatch, cli, db):
    at(monkeypatch, "2026-11-01T10:00:00+08:00")
    assert cli("import", "users", str(users_file(tmp_path, "day1.csv", "13800000001"))).exit_code == 0
    at(monkeypatch, "2026-11-02T10:00:00+08:00")
    assert cli("consent", "withdraw", "u1", "--channel", "sms").exit_code == 0
    at(monkeypatch, "2026-11-03T02:00:00+08:00")
    again = users_file(tmp_path, "day2.csv", "13800000001")
    plain = cli("import", "users", str(again))
    assert plain.exit_code == 0 and "1 consent(s) kept withdrawn" in plain.output, plain.output
    assert consent_of(db, "u1") == "withdrawn"
    older = cli("import", "users", str(again), "--consent-at", "2026-11-02T09:00:00+08:00")
    assert older.exit_code == 0 and "1 consent(s) kept withdrawn" in older.output, older.output
    assert consent_of(db, "u1") == "withdrawn"
    newer = cli("import", "users", str(again), "--consent-at", "2026-11-02T20:00:00+08:00")
    assert newer.exit_code == 0 and "kept withdrawn" not in newer.output, newer.output
    assert consent_of(db, "u1") == "granted"
    bad = cli("import", "users", str(again), "--consent-at", "yesterday")
    assert bad.exit_code == 2 and "--consent-at" in bad.output
