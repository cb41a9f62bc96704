"""Opt-out replies, the suppression list (add, import, list, remove with a reason) and consent changes."""

from __future__ import annotations

import json

import pytest

from console.policy.consent import latest_consent
from console.policy.engine import evaluate
from console.policy.optout import is_opt_out
from console.policy.suppression import normalise_address, record_opt_out
from tests.cli_terminal import terminal_of
from tests.policy_support import add_user, ts


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop\n", "UNSUBSCRIBE", "cancel", "End", "QUIT", "revoke",
                                  "OPT OUT", "opt  out", "退订", " 退订 ", "TD", "td", "T", "n", "R", "ＳＴＯＰ"])
def test_opt_out_keywords(text):
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["HELP", "help", "stop please", "R2", "STOPP", "optout", "不要退订吗", "", None, "Y",
                                  "yes", "退订 谢谢"])
def test_not_opt_outs(text):
    assert not is_opt_out(text)


def test_addresses_are_normalised_before_matching():
    assert normalise_address("138 0013 8000", "sms", "CN") == "+8613800138000"
    assert normalise_address("+86-138-0013-8000", "all", "CN") == "+8613800138000"
    assert normalise_address(" Li.Lei@Example.CN ", "email") == "li.lei@example.cn"
    assert normalise_address("ExponentPushToken[abc]", "push") == "ExponentPushToken[abc]"


def test_an_opt_out_reply_suppresses_and_withdraws_consent_at_once(db, workspace):
    uid = add_user(db, "u1", phone="+8613800138000")
    add_user(db, "u2", phone="+8613800138001")
    at = ts("2026-11-25 10:00", "Asia/Shanghai")
    before = evaluate(db, workspace.config, channel="sms", audience="SELECT id AS user_id FROM users", at=at)
    assert before.admitted == 2
    record_opt_out(db, workspace.config, "sms", "13800138000", source="inbound:sms", at=at - 60)
    after = evaluate(db, workspace.config, channel="sms", audience="SELECT id AS user_id FROM users", at=at)
    assert after.by_user()[uid] == ("no_consent", None)  # consent withdrawn comes first; also suppressed
    assert after.admitted == 1
    assert latest_consent(db, uid, "sms")["source"] == "inbound:sms"
    entry = db.execute("SELECT channel, reason, address FROM suppressions").fetchone()
    assert entry == ("sms", "opt_out", "+8613800138000")


def test_suppression_matches_by_address_even_without_a_user_and_by_user_on_any_address(db, workspace, cli):
    a = add_user(db, "a", phone="+8613800138000")
    b = add_user(db, "b", phone="+8613800138001")
    c = add_user(db, "c", phone="+8613800138002")
    # A consent granted later does not lift a suppression: the list is checked on its own.
    assert cli("suppress", "add", "13800138000", "--channel", "sms", "--reason", "bounce").exit_code == 0
    assert cli("suppress", "add", "--user", "b", "--channel", "all", "--reason", "manual").exit_code == 0
    db.execute("UPDATE users SET phone = '+8613800138099' WHERE id = ?", [b])  # b changed number: still blocked
    at = ts("2026-11-25 10:00", "Asia/Shanghai")
    got = evaluate(db, workspace.config, channel="sms", audience="SELECT id AS user_id FROM users", at=at).by_user()
    assert got[a][0] == got[b][0] == "suppressed" and got[c] == (None, None)


def test_import_is_all_or_nothing_and_names_the_bad_line(db, workspace, cli, tmp_path):
    add_user(db, "vip", phone="+8613800138005")
    bad = tmp_path / "bad.csv"
    bad.write_text("address,channel,reason\n13800138000,sms,opt_out\n1381234,sms,bounce\nx@y.cn,email,complaint\n",
                   encoding="utf-8")
    result = cli("suppress", "import", str(bad))
    assert result.exit_code == 2
    assert "bad.csv line 3" in result.output and "1381234" in result.output
    assert db.execute("SELECT count(*) FROM suppressions").fetchone()[0] == 0
    good = tmp_path / "good.csv"
    good.write_text("address,channel,reason,user\n13800138000,sms,opt_out,\nx@y.cn,email,complaint,\n,all,manual,vip\n",
                    encoding="utf-8")
    assert json.loads(cli("suppress", "import", str(good), "--json").stdout) == {
        "rows": 3, "created": 3, "already_suppressed": 0}
    # Importing the same file again adds nothing; a plain list of addresses works too.
    assert json.loads(cli("suppress", "import", str(good), "--json").stdout)["created"] == 0
    plain = tmp_path / "plain.txt"
    plain.write_text("13800138001\n\n13800138002\n", encoding="utf-8")
    assert json.loads(cli("suppress", "import", str(plain), "--reason", "bounce", "--channel", "sms",
                          "--json").stdout)["created"] == 2
    listed = json.loads(cli("suppress", "list", "--json", "--channel", "sms").stdout)
    assert {r["address"] for r in listed} == {"138****8000", "138****8001", "138****8002"}
    assert json.loads(cli("suppress", "list", "--json", "--reason", "complaint", "--unmask").stdout)[0][
        "address"] == "x@y.cn"


def test_remove_needs_a_known_target_and_a_reason(db, cli):
    assert cli("suppress", "add", "13800138000", "--channel", "sms").exit_code == 0
    assert cli("suppress", "remove", "13900000000", "--reason", "x", "--yes").exit_code == 2
    assert cli("suppress", "remove", "13800138000", "--reason", "  ", "--yes").exit_code == 2
    # Without --yes the operator is asked; answering no changes nothing.
    assert cli("suppress", "remove", "13800138000", "--reason", "mistake", input="n\n").exit_code == 1
    assert db.execute("SELECT count(*) FROM suppressions WHERE removed_at IS NULL").fetchone()[0] == 1
    # No answer at all (a script without --yes): nothing lifted, and the message says what to do.
    silent = cli("suppress", "remove", "13800138000", "--reason", "mistake", input="")
    assert silent.exit_code == 1 and "pass --yes" in silent.stderr
    assert cli("suppress", "remove", "13800138000", "--reason", "mistake", input="y\n").exit_code == 0
    assert db.execute("SELECT removed_reason FROM suppressions").fetchone()[0] == "mistake"


def test_list_fits_80_columns_with_lifted_entries_and_long_addresses(db, cli, monkeypatch):
    terminal_of(monkeypatch, 80)   # a pipe gets every row whole, however wide
    add_user(db, "vip", phone="+8613800138005")
    assert cli("suppress", "add", "a.very.long.mailbox.name@example.com", "--channel", "email").exit_code == 0
    assert cli("suppress", "add", "13800138000", "--channel", "sms", "--source", "import:opt-outs-2026-11.csv",
               ).exit_code == 0
    assert cli("suppress", "remove", "13800138000", "--reason", "asked to hear from us", "--yes").exit_code == 0
    for args in ((), ("--all",), ("--all", "--unmask")):
        table = cli("suppress", "list", *args)
        assert table.exit_code == 0 and "…" not in table.stdout, args
        assert max(len(line) for line in table.stdout.splitlines()) <= 80, table.stdout
    shown = cli("suppress", "list", "--all", "--unmask").stdout
    assert "a.very.long.mailbox.name@example.com" in shown and "+8613800138000" in shown
    assert "lifted" in shown and "asked to hear from us" in shown


def test_bad_suppression_input_is_refused(cli):
    assert cli("suppress", "add").exit_code == 2
    assert cli("suppress", "add", "1381234", "--channel", "sms").exit_code == 2
    assert cli("suppress", "add", "a@b.cn", "--reason", "spite").exit_code == 2
    assert cli("suppress", "add", "--user", "nobody").exit_code == 2
    assert cli("consent", "grant", "nobody", "--channel", "sms").exit_code == 2


def test_import_errors_name_the_column_and_read_as_words(db, cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("address,channel,reason\n13800138000,sms,opt_out\nbadphone,sms,opt_out\nx@y.cn,fax,bounce\n",
                   encoding="utf-8")
    result = cli("suppress", "import", str(bad))
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert "bad.csv line 3, column address: 'badphone' is not a phone number" in said
    assert "bad.csv line 4, column channel" in said and "The string supplied" not in said
    assert db.execute("SELECT count(*) FROM suppressions").fetchone()[0] == 0


def test_blocked_user_ids_is_the_last_look_before_hand_off(db, workspace, cli):
    """console.policy.blocked.blocked_user_ids: suppression by address or user (channel or all), consent not
    granted, a lifted entry no longer blocks, and a journaled opt-out counts before it is folded."""
    from console.policy import journal
    from console.policy.blocked import blocked_user_ids

    ids = {name: add_user(db, name, phone=f"+86138001380{n:02d}", consent={"sms": "granted"})
           for n, name in enumerate(["ok", "by_address", "by_user", "everywhere", "withdrawn", "lifted", "journal"])}
    phone = {uid: p for uid, p in db.execute("SELECT id, phone FROM users")}
    assert cli("suppress", "add", phone[ids["by_address"]], "--channel", "sms").exit_code == 0
    assert cli("suppress", "add", "--user", "by_user", "--channel", "sms").exit_code == 0
    assert cli("suppress", "add", "--user", "everywhere", "--channel", "all").exit_code == 0
    assert cli("suppress", "add", "--user", "lifted", "--channel", "sms").exit_code == 0
    assert cli("suppress", "remove", "lifted", "--reason", "asked again", "--yes").exit_code == 0
    assert cli("consent", "withdraw", "withdrawn", "--channel", "sms").exit_code == 0
    # Journaled only (as while an import holds the database): never folded here.
    journal.record(journal.journal_for(db), [journal.new_entry("reply", "sms", address=phone[ids["journal"]],
                                                               text="STOP", source="test")])
    recipients = [(uid, phone[uid]) for uid in ids.values()]
    expected = {ids[n] for n in ("by_address", "by_user", "everywhere", "withdrawn", "journal")}
    assert blocked_user_ids(db, workspace.config, "sms", recipients) == expected
    # On email only the 'all' entry applies (and nobody has email consent: unknown is denied by default).
    assert blocked_user_ids(db, workspace.config, "email", [(ids["ok"], None)]) == {ids["ok"]}
    assert blocked_user_ids(db, workspace.config, "sms", []) == set()


def test_unmasking_the_suppression_list_is_audited(db, cli):
    assert cli("suppress", "add", "13800138000", "--channel", "sms").exit_code == 0

    def unmasked() -> list[dict]:
        return [json.loads(r[0]) for r in db.execute(
            "SELECT details FROM audit WHERE action = 'suppression.list.unmask'")]

    assert "138****8000" in cli("suppress", "list").stdout
    assert unmasked() == []
    assert "+8613800138000" in cli("suppress", "list", "--unmask").stdout
    assert json.loads(cli("suppress", "list", "--unmask", "--json", "--channel", "sms").stdout)[0][
        "address"] == "+8613800138000"
    assert unmasked() == [{"entries": 1, "channel": None, "reason": None},
                          {"entries": 1, "channel": "sms", "reason": None}]
