"""`winback outcomes` and `winback receipts import` as a script would run them; the brakes on their own."""

from __future__ import annotations

import json

from console.campaigns import brakes
from console.config import config_from_dict
from tests.outcomes_ledger import DAY, add_campaign, add_events, add_sends, add_users

LAUNCH = 1_780_000_000


def _ledger(db, *, treated=(1, 1_000), holdout=(1_001, 1_200)):
    add_users(db, holdout[1])
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, *treated, "A", sent_at=LAUNCH + 60)
    add_sends(db, cid, *holdout, "holdout", sent_at=LAUNCH)
    return cid


def test_outcomes_json_and_table(db, cli, monkeypatch):
    _ledger(db)
    add_events(db, 1, 60, at=LAUNCH + DAY)          # 6.0% of the treated
    add_events(db, 1_001, 1_006, at=LAUNCH + DAY)   # 3.0% of the holdout
    monkeypatch.setenv("WINBACK_NOW", "2026-06-30T00:00:00Z")
    result = cli("outcomes", "spring", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [a["arm"] for a in data["arms"]] == ["A", "holdout"]
    assert data["comparisons"][0]["absolute_lift"] == 0.03
    assert data["window_open"] is False
    table = cli("outcomes", "spring")
    assert table.exit_code == 0
    assert "+3.00 pp" in table.stdout and "verdict:" in table.stderr


def test_outcomes_of_unknown_campaign_exits_2(cli):
    result = cli("outcomes", "nope")
    assert result.exit_code == 2 and "no campaign named 'nope'" in result.stderr


def test_outcomes_of_a_run_that_never_happened_exits_2(db, cli):
    _ledger(db)
    result = cli("outcomes", "spring", "--run", "99")
    assert result.exit_code == 2 and "no run 99 (its runs: 1)" in result.stderr and result.stdout == ""
    assert cli("outcomes", "spring", "--run", "1", "--json").exit_code == 0


def test_receipts_import_csv_all_or_nothing(db, cli, tmp_path):
    _ledger(db)
    good = tmp_path / "report.csv"
    good.write_text("message_id,status,error\nm1,delivered,\nm2,failed,MK:0001\nm3,bounced,\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("message_id,status\nm4,delivered\nm5,teleported\n", encoding="utf-8")

    result = cli("receipts", "import", str(bad), "--json")
    assert result.exit_code == 2
    assert "bad.csv line 3" in result.stderr and "teleported" in result.stderr
    assert db.execute("SELECT COUNT(*) FROM receipts").fetchone()[0] == 0
    assert db.execute("SELECT status FROM sends WHERE user_id = 4").fetchone()[0] == "sent"

    result = cli("receipts", "import", str(good), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matched"] == 3
    statuses = dict(db.execute("SELECT user_id, status FROM sends WHERE user_id <= 3"))
    assert statuses == {1: "delivered", 2: "failed", 3: "bounced"}


def test_replies_import_opts_out(db, cli, tmp_path):
    _ledger(db)
    replies = tmp_path / "replies.jsonl"
    replies.write_text('{"from": "13800000009", "text": "R"}\n{"from": "13800000010", "text": "thanks"}\n',
                       encoding="utf-8")
    result = cli("receipts", "import", str(replies), "--replies", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["opt_outs"] == 1
    assert db.execute("SELECT COUNT(*) FROM suppressions WHERE address = '+8613800000009'").fetchone()[0] == 1


def test_brakes_need_a_sample_and_a_running_campaign(db):
    cid = _ledger(db, treated=(1, 100), holdout=(101, 110))
    config = config_from_dict({"brakes": {"window": 50, "min_sends": 40, "failure_rate": 0.1}})
    # The 50 most recent sends are users 51..100 (same claim time, later ids first); 6 of them failed: 12%.
    db.execute("UPDATE sends SET status = 'failed' WHERE user_id BETWEEN 95 AND 100")
    assert brakes.rates(db, config, cid).failures == 6
    strict = config_from_dict({"brakes": {"window": 50, "min_sends": 60, "failure_rate": 0.1}})
    assert brakes.check(db, strict, cid) is None  # fewer sends in the window than min_sends
    db.execute("UPDATE campaigns SET status = 'paused' WHERE id = ?", [cid])
    assert brakes.check(db, config, cid) is None  # only a running campaign is paused by a brake
    db.execute("UPDATE campaigns SET status = 'running' WHERE id = ?", [cid])
    brake = brakes.check(db, config, cid)
    assert brake is not None and brake.rule == "failure_rate"
    assert db.execute("SELECT pause_reason FROM campaigns").fetchone()[0] == (
        "brake: 6 of the last 50 sends failed or bounced (12.00%, limit 10.00%)")
    # Failures outside the window do not count.
    db.execute("UPDATE campaigns SET status = 'running' WHERE id = ?", [cid])
    db.execute("UPDATE sends SET status = 'sent' WHERE user_id BETWEEN 95 AND 100")
    db.execute("UPDATE sends SET status = 'failed' WHERE user_id BETWEEN 1 AND 20")
    assert brakes.check(db, config, cid) is None


def test_serve_help_names_the_inbound_section(cli):
    result = cli("serve", "--help")
    assert "[inbound]" in result.stdout and "WINBACK_INBOUND_SECRET" in result.stdout


def test_receipts_import_table_shows_paused_campaigns_in_words(db, cli, tmp_path):
    _ledger(db)
    good = tmp_path / "report.csv"
    good.write_text("message_id,status\nm1,delivered\n", encoding="utf-8")
    result = cli("receipts", "import", str(good))
    assert result.exit_code == 0 and "[]" not in result.stdout and "—" in result.stdout
    assert "match no message" not in result.stderr
    stray = tmp_path / "stray.csv"
    stray.write_text("message_id,status\nnot-ours,delivered\nm2,delivered\n", encoding="utf-8")
    result = cli("receipts", "import", str(stray))
    assert result.exit_code == 0 and "1 of 2 receipts match no message" in " ".join(result.stderr.split())
