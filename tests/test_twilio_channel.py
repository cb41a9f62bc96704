"""transport = "twilio" against a fake Messages API on 127.0.0.1 that checks Basic auth, the path and the form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from console.channels import open_channel
from console.channels.base import DEFERRED, FAILED, SENT, UNKNOWN, ChannelError, Message
from tests.twilio_fake import ACCOUNT, AUTH_TOKEN, CUT, FakeTwilio


def _phone(i: int) -> str:
    return f"+86138{i:08d}"


def _message(i: int) -> Message:
    return Message(send_id=i, user_id=i, to=_phone(i), text=f"用户{i}，好久不见！", campaign="c",
                   message_id=f"<wb.1.1.{i}.abcdef@winback.invalid>")


def _channel(url: str, monkeypatch, **extra):
    monkeypatch.setenv("WB_TWILIO_SID", ACCOUNT)
    monkeypatch.setenv("WB_TWILIO_TOKEN", extra.pop("token", AUTH_TOKEN))
    settings = {"transport": "twilio", "account_sid_env": "WB_TWILIO_SID", "auth_token_env": "WB_TWILIO_TOKEN",
                "from": "+15005550006", "endpoint": url, "concurrency": 1, "retries": 1, "backoff": 0.01,
                "max_backoff": 0.05, **extra}
    return open_channel("sms", {"sms": settings}, dry_run=False)


def test_a_message_is_a_form_post_with_basic_auth_and_its_message_sid_is_the_provider_id(monkeypatch):
    with FakeTwilio() as twilio:
        channel = _channel(twilio.url, monkeypatch,
                           status_callback="https://winback.example.com/callbacks/twilio/status?x=1")
        results = channel.send([_message(1), _message(2)])
        channel.close()
    assert twilio.refused == []
    assert [r.status for r in results] == [SENT, SENT]
    assert [r.provider_id for r in results] == [f"SM{1:032x}", f"SM{2:032x}"]
    form = twilio.accepted[0]
    assert form["To"] == _phone(1) and form["Body"] == "用户1，好久不见！" and form["From"] == "+15005550006"
    callback = urlsplit(form["StatusCallback"])
    assert callback.path == "/callbacks/twilio/status"
    # winback's message id rides in the callback URL, so a receipt finds its row by either id
    assert parse_qs(callback.query) == {"x": ["1"], "wb": ["wb.1.1.1.abcdef@winback.invalid"]}


def test_a_messaging_service_sends_without_from(monkeypatch):
    with FakeTwilio() as twilio:
        channel = _channel(twilio.url, monkeypatch, **{"from": "", "messaging_service_sid": "MG123"})
        [result] = channel.send([_message(1)])
        channel.close()
    assert result.status == SENT
    assert twilio.accepted[0]["MessagingServiceSid"] == "MG123" and "From" not in twilio.accepted[0]


def test_refusals_are_permanent_with_twilios_words_429_waits_and_5xx_or_a_cut_is_unknown(monkeypatch):
    invalid = (400, {"code": 21211, "message": f"The 'To' number {_phone(2)} is not a valid phone number.",
                     "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
    answers = {_phone(2): invalid, _phone(3): 429, _phone(4): 500, _phone(5): CUT}
    with FakeTwilio(answers=answers) as twilio:
        channel = _channel(twilio.url, monkeypatch)
        results = {r.send_id: r for r in channel.send([_message(i) for i in range(1, 6)])}
        channel.close()
    assert results[1].status == SENT
    assert results[2].status == FAILED
    assert results[2].error == (f"Twilio refused (HTTP 400): code 21211: The 'To' number {_phone(2)} is not a "
                                "valid phone number.")
    # 429: tried again (retries = 1), then deferred for later — never failed, never unknown
    assert results[3].status == DEFERRED and "429" in (results[3].error or "")
    assert sum(f["To"] == _phone(3) for f in twilio.arrived) == 2
    # the request left and no clear answer came: it may be queued, so it is unknown and never resent
    assert results[4].status == UNKNOWN and "HTTP 500" in (results[4].error or "")
    assert results[5].status == UNKNOWN and "no reply" in (results[5].error or "")
    assert sum(f["To"] == _phone(4) for f in twilio.arrived) == 1
    assert sum(f["To"] == _phone(5) for f in twilio.arrived) == 1


def test_a_wrong_auth_token_sends_nothing_and_stops_the_run_with_no_secret_in_its_text(monkeypatch):
    """Not `failed` (that would burn the recipient for good): planned again and the run paused (test_twilio_newcomer)."""
    with FakeTwilio() as twilio:
        channel = _channel(twilio.url, monkeypatch, token="wrong-token-0000")
        [result] = channel.send([_message(1)])
        channel.close()
    assert result.status == DEFERRED and result.unreachable and result.stop_run
    assert (result.error or "").startswith("Twilio refused the request: the Account SID and auth token were not "
                                           "accepted (20003: Authenticate) — check that $WB_TWILIO_SID")
    assert "wrong-token-0000" not in (result.error or "")
    assert twilio.accepted == []


def test_an_unreachable_endpoint_leaves_the_message_not_sent(monkeypatch):
    from tests.servers import free_port

    channel = _channel(f"http://127.0.0.1:{free_port()}", monkeypatch)
    [result] = channel.send([_message(1)])
    channel.close()
    assert result.status == DEFERRED and result.unreachable


@pytest.mark.parametrize(("change", "named"), [
    ({"auth_token_env": ""}, "auth_token_env"),
    ({"from": ""}, "messaging_service_sid"),
    ({"status_callback": "winback.example.com/cb"}, "status_callback"),
    ({"auth_token_env": "WB_TWILIO_UNSET"}, "WB_TWILIO_UNSET is not set"),
])
def test_a_channel_configured_wrongly_is_refused_when_opened_naming_the_setting(monkeypatch, change, named):
    monkeypatch.delenv("WB_TWILIO_UNSET", raising=False)
    with pytest.raises(ChannelError) as refused:
        _channel("http://127.0.0.1:9", monkeypatch, **change)
    assert named in str(refused.value) and AUTH_TOKEN not in str(refused.value)


def test_a_real_launch_whose_requests_got_500_or_were_cut_leaves_them_unknown_and_messages_nobody_twice(
        tmp_path, monkeypatch):
    from console.campaigns import control, model
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

    monkeypatch.setenv("WB_TWILIO_SID", ACCOUNT)
    monkeypatch.setenv("WB_TWILIO_TOKEN", AUTH_TOKEN)
    with FakeTwilio(answers={_phone(2): 500, _phone(4): CUT}) as twilio:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "twilio", "account_sid_env": "WB_TWILIO_SID", "auth_token_env": "WB_TWILIO_TOKEN",
            "from": "+15005550006", "endpoint": twilio.url, "concurrency": 1, "backoff": 0.01, "max_backoff": 0.05}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 5)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
    assert summary.sent == 3 and summary.unknown == 2
    rows = dict(db.execute("SELECT address, status FROM sends").fetchall())
    assert rows == {_phone(1): "sent", _phone(2): "unknown", _phone(3): "sent", _phone(4): "unknown",
                    _phone(5): "sent"}
    arrived = [f["To"] for f in twilio.arrived]
    assert sorted(arrived) == sorted(_phone(i) for i in range(1, 6))   # each number reached Twilio once
    db.close()
