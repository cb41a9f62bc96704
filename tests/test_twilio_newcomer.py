"""A mainland operator setting up Twilio for overseas customers, from docs/channels.md, against the fake Messages API
of tests/twilio_fake.py (it checks Basic auth, the account path and the form the way Twilio does).

- A wrong Account SID or auth token (Twilio answers 401, code 20003) sends nothing: every recipient goes back to
  `planned`, not `failed`, the run pauses naming the environment variables to check, and `resume` after the fix
  sends each once. Before, every recipient of the batch was recorded `failed` — never sent again.
- A `from` Twilio says is not a usable sender (21212, 21659 …) stops the run the same way: a setting, not the
  recipients' fault. A `from` that is not E.164 (`"15017122661"`) is refused when the channel opens, with its line.
- In a zh_CN workspace a Twilio SMS no longer carries the mainland 【品牌】 signature and 拒收请回复R opt-out text
  by default (they reached US customers), and is counted in gsm mode: Twilio bills GSM-7 texts 160/153 per segment.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from console.campaigns import model
from tests.campaign_support import load_workspace
from tests.twilio_fake import ACCOUNT, AUTH_TOKEN, FakeTwilio

TEMPLATE = '''
name = "miss-en"
channel = "sms"
body = "Hi {{ user.name }}, we miss you."
'''


def _phone(i: int) -> str:
    return f"+1415555{i:04d}"


def _workspace(tmp_path: Path, monkeypatch, url: str, *, users: int = 3, extra: str = ""):
    monkeypatch.setenv("WB_TW_SID", ACCOUNT)
    monkeypatch.setenv("WB_TW_TOKEN", AUTH_TOKEN)
    cfg = tmp_path / "winback.toml"
    cfg.write_text(f'''[workspace]
name = "test"
brand = "品牌"
locale = "zh_CN"
database = "winback.db"

[channels.sms]
transport = "twilio"
account_sid_env = "WB_TW_SID"
auth_token_env = "WB_TW_TOKEN"
from = "+15017122661"
endpoint = "{url}"
quiet_hours = "off"
backoff = 0.01
max_backoff = 0.05
concurrency = 1
{extra}
''', encoding="utf-8")
    ws = load_workspace(cfg)
    db = ws.open()
    now = 1_700_000_000
    db.conn.executemany(
        "INSERT INTO users (external_id, name, phone, timezone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(f"u{i}", f"Ann{i}", _phone(i), "America/Los_Angeles", now, now) for i in range(1, users + 1)])
    db.conn.executemany("INSERT INTO consents (user_id, channel, status, at, source) VALUES (?, 'sms', 'granted', ?, "
                        "'test')", [(uid, now) for (uid,) in db.execute("SELECT id FROM users").fetchall()])
    db.conn.commit()
    (tmp_path / "miss-en.toml").write_text(TEMPLATE, encoding="utf-8")
    assert _cli(ws, "templates", "add", str(tmp_path / "miss-en.toml")).exit_code == 0
    assert _cli(ws, "segments", "create", "all", "--rule", "orders >= 0").exit_code == 0
    return ws, db


def _cli(ws, *args: str):
    from console.cli import app

    return CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args])


def _statuses(db) -> Counter:
    return Counter(r[0] for r in db.execute("SELECT status FROM sends"))


def test_a_wrong_auth_token_leaves_everyone_planned_pauses_and_resume_sends_each_once(tmp_path, monkeypatch):
    with FakeTwilio() as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url)
        monkeypatch.setenv("WB_TW_TOKEN", "not-the-token")
        model.create(db, "c", segment="all", channel="sms", template="miss-en", holdout=0)
        launched = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 1, launched.output
        assert twilio.accepted == [] and twilio.refused == ["401 20003 Authenticate"]   # one request, then stop
        assert _statuses(db) == {"planned": 3}
        assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] == 0
        paused = model.get(db, "c")
        reason = paused.pause_reason or ""
        assert paused.status == "paused" and reason.startswith(
            "sms: Twilio refused the request: the Account SID and auth token were not accepted (20003: Authenticate)")
        assert "$WB_TW_SID (account_sid_env)" in reason and "$WB_TW_TOKEN (auth_token_env)" in reason
        assert "then `winback campaign resume c`" in reason and "not-the-token" not in reason

        monkeypatch.setenv("WB_TW_TOKEN", AUTH_TOKEN)   # the fix
        resumed = _cli(ws, "campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
        assert Counter(f["To"] for f in twilio.accepted) == {_phone(i): 1 for i in (1, 2, 3)}
    assert _statuses(db) == {"sent": 3}
    db.close()


def test_a_from_twilio_refuses_as_a_sender_pauses_the_run_instead_of_failing_everyone(tmp_path, monkeypatch):
    not_ours = (400, {"code": 21659, "message": "'From' +15017122661 is not a Twilio phone number or Short Code "
                      "country mismatch", "status": 400})
    with FakeTwilio(answers={_phone(1): not_ours}) as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url)
        model.create(db, "c", segment="all", channel="sms", template="miss-en", holdout=0)
        launched = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
    assert launched.exit_code == 1, launched.output
    assert _statuses(db) == {"planned": 3}
    reason = model.get(db, "c").pause_reason or ""
    assert reason.startswith("sms: Twilio refused the request: the sender is not one this account may send from "
                             "(21659: ")
    assert "[channels.sms] from" in reason
    db.close()


def test_a_recipient_refused_alone_is_still_failed(tmp_path, monkeypatch):
    invalid = (400, {"code": 21211, "message": f"The 'To' number {_phone(2)} is not a valid phone number.",
                     "status": 400})
    with FakeTwilio(answers={_phone(2): invalid}) as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url)
        model.create(db, "c", segment="all", channel="sms", template="miss-en", holdout=0)
        _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert len(twilio.accepted) == 2
    assert _statuses(db) == {"sent": 2, "failed": 1} and model.get(db, "c").status != "paused"
    db.close()


def test_a_from_without_plus_is_refused_with_its_line_before_anything_is_sent(tmp_path, monkeypatch):
    with FakeTwilio() as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url)
        text = ws.config.path.read_text(encoding="utf-8").replace('from = "+15017122661"', 'from = "15017122661"')
        ws.config.path.write_text(text, encoding="utf-8")
        model.create(db, "c", segment="all", channel="sms", template="miss-en", holdout=0)
        launched = _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert twilio.arrived == []
    assert launched.exit_code == 2, launched.output
    line = text.splitlines().index('from = "15017122661"') + 1
    assert f"winback.toml line {line}: [channels.sms] from: '15017122661'" in launched.output
    assert '"+15017122661"' in launched.output and "Traceback" not in launched.output
    assert model.get(db, "c").status == "draft"
    db.close()


def test_a_twilio_sms_in_a_chinese_workspace_has_no_mainland_signature_or_opt_out_text(tmp_path, monkeypatch):
    with FakeTwilio() as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url, users=1)
        preview = _cli(ws, "preview", "miss-en", "--user", "u1")
        model.create(db, "c", segment="all", channel="sms", template="miss-en", holdout=0)
        _cli(ws, "campaign", "launch", "c", "--real", "--yes")
        [form] = twilio.accepted
    assert "【" not in form["Body"] and "拒收" not in form["Body"]
    assert form["Body"] == "品牌: Hi Ann1, we miss you. Reply STOP to opt out"
    assert "gsm mode" in preview.output and "拒收" not in preview.output
    db.close()


def test_the_mainland_lines_winback_init_wrote_are_pointed_out_on_a_twilio_channel(tmp_path, monkeypatch):
    """`winback init` writes mode = "cn", signature = "【品牌】" and opt_out_text = "拒收请回复R" into [channels.sms];
    an operator who switches that table to twilio keeps them, and they reach customers abroad: preview says so."""
    with FakeTwilio() as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url, users=1,
                            extra='mode = "cn"\nsignature = "【品牌】"\nopt_out_text = "拒收请回复R"')
        preview = _cli(ws, "preview", "miss-en", "--user", "u1")
    line = ws.config.path.read_text(encoding="utf-8").splitlines().index('mode = "cn"') + 1
    assert preview.exit_code == 0, preview.output
    said = " ".join(preview.output.split())
    assert (f"winback.toml line {line}: [channels.sms] mode = 'cn', signature = '【品牌】', opt_out_text = '拒收请回复R': "
            "mainland China's forms, which Twilio sends abroad as they are: remove these lines") in said
    db.close()


def test_a_short_code_refused_for_one_recipients_country_fails_that_recipient_alone(tmp_path, monkeypatch):
    """21659 for a short code is a country mismatch with that recipient, not an unusable sender: pausing would stop
    on that recipient again at every resume."""
    mismatch = (400, {"code": 21659, "message": "'From' 12345 is not a Twilio phone number or Short Code country "
                      "mismatch", "status": 400})
    with FakeTwilio(answers={_phone(1): mismatch}) as twilio:
        ws, db = _workspace(tmp_path, monkeypatch, twilio.url)
        text = ws.config.path.read_text(encoding="utf-8").replace('from = "+15017122661"', 'from = "12345"')
        ws.config.path.write_text(text, encoding="utf-8")
        model.create(db, "c", segment="all", channel="sms", template="miss-en", holdout=0)
        _cli(ws, "campaign", "launch", "c", "--real", "--yes")
    assert _statuses(db) == {"sent": 2, "failed": 1} and model.get(db, "c").status != "paused"
    db.close()
