"""A delivery receipt's failure (Tencent, Aliyun, Twilio status callback) carries the carrier's or Twilio's code:
`winback campaign failures` showed an empty code column for them (only send answers were read), and `winback why
USER --campaign C` of such a recipient did not say the provider's reason."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from console.campaigns.send_errors import error_groups, split_error
from console.inbound.apply import apply_receipts
from console.inbound.provider_records import aliyun_receipts, tencent_receipts, twilio_receipt
from console.workspace import Workspace
from tests.outcomes_ledger import add_campaign, add_sends, add_users

LAUNCH = 1_780_000_000


@pytest.mark.parametrize(("error", "code", "words"), [
    ("MK:0005: 运营商内部错误", "MK:0005", "运营商内部错误"),         # Tencent receipt: errmsg, description
    ("DB:0141", "DB:0141", ""),                                    # … without a description
    ("UNDELIV: 号码状态异常", "UNDELIV", "号码状态异常"),             # Aliyun receipt: err_code, err_msg
    ("error 30007: Carrier violation", "30007", "Carrier violation"),   # Twilio status callback
    ("Twilio refused (HTTP 400): code 21211: The 'To' number is not valid.", "21211",
     "The 'To' number is not valid."),                             # Twilio's send answer
])
def test_a_receipts_code_is_read_out_of_its_words(error, code, words):
    assert split_error(error) == (code, words)


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "winback.toml").write_text("", encoding="utf-8")
    workspace = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = workspace.open()
    add_users(db, 3)
    cid = add_campaign(db, "spring", launched_at=LAUNCH)
    add_sends(db, cid, 1, 3, "A", sent_at=LAUNCH + 60)   # provider_id p<i>, message_id m<i>
    db.close()
    return workspace


def test_failures_and_why_say_the_code_a_tencent_aliyun_or_twilio_receipt_gave(ws):
    db = ws.open()
    tencent = tencent_receipts([{"report_status": "FAIL", "errmsg": "MK:0005", "description": "运营商内部错误",
                                 "sid": "p1", "mobile": "13800000001", "nationcode": "86"}])
    aliyun = aliyun_receipts([{"success": "false", "err_code": "UNDELIV", "err_msg": "号码状态异常", "biz_id": "p2",
                               "phone_number": "13800000002"}], ws.config, "sms")
    twilio = twilio_receipt({"MessageSid": "p3", "MessageStatus": "undelivered", "ErrorCode": "30007",
                             "ErrorMessage": "Carrier violation"}, {})
    for read in (tencent, aliyun, twilio):
        apply_receipts(db, ws.config, "sms", read.receipts, source="test")
    groups = {(g["code"], g["text"]) for g in error_groups(db, "spring")}
    assert groups == {("MK:0005", "运营商内部错误"), ("UNDELIV", "号码状态异常"), ("30007", "Carrier violation")}
    db.close()

    from console.cli import app

    shown = CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path),
                                     "why", "u1", "--campaign", "spring"], terminal_width=200)
    text = " ".join(shown.output.split())
    assert "failed — the provider said: MK:0005: 运营商内部错误" in text, shown.output
