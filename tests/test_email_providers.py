"""transport = "sendgrid" and "mailgun" against fakes on 127.0.0.1 that check auth, the JSON / multipart shape and
the required fields (tests/email_fakes.py); a real CLI launch on an email channel through each."""

from __future__ import annotations

import pytest

from console.channels import open_channel
from console.channels.base import DEFERRED, FAILED, SENT, UNKNOWN, ChannelError, Message
from console.workspace import Workspace
from tests.email_fakes import CUT, MAILGUN_DOMAIN, MAILGUN_KEY, SENDGRID_KEY, FakeMailgun, FakeSendGrid
from tests.outcomes_ledger import add_users


def _address(i: int) -> str:
    return f"user{i}@example.com"


def _message(i: int) -> Message:
    return Message(send_id=i, user_id=i, to=_address(i), text=f"Hello {i}, come back", campaign="春季 spring",
                   message_id=f"<wb.1.1.{i}.abcdef@winback.invalid>", subject=f"We miss you {i}",
                   html=f"<p>Hello {i}</p>", unsubscribe_url=f"https://winback.example.com/u/tok{i}",
                   fields={"name": f"User {i}"})


def _sendgrid(url: str, monkeypatch, **extra):
    monkeypatch.setenv("WB_SENDGRID_KEY", extra.pop("key", SENDGRID_KEY))
    settings = {"transport": "sendgrid", "api_key_env": "WB_SENDGRID_KEY", "from": "Shop <news@shop.example>",
                "reply_to": "help@shop.example", "endpoint": url, "concurrency": 1, "retries": 1, "backoff": 0.01,
                "max_backoff": 0.05, "unsubscribe_mailto": "unsub@shop.example", **extra}
    return open_channel("email", {"email": settings}, dry_run=False)


def _mailgun(url: str, monkeypatch, **extra):
    monkeypatch.setenv("WB_MAILGUN_KEY", extra.pop("key", MAILGUN_KEY))
    settings = {"transport": "mailgun", "api_key_env": "WB_MAILGUN_KEY", "domain": MAILGUN_DOMAIN,
                "from": "Shop <news@mg.example.com>", "reply_to": "help@shop.example", "endpoint": url,
                "concurrency": 1, "retries": 1, "backoff": 0.01, "max_backoff": 0.05,
                "unsubscribe_url": "https://winback.example.com/u/{token}", **extra}
    return open_channel("email", {"email": settings}, dry_run=False)


# -- SendGrid ------------------------------------------------------------------------------------------------------
def test_sendgrid_posts_one_personalization_per_message_with_winbacks_id_and_unsubscribe_headers(monkeypatch):
    with FakeSendGrid() as sendgrid:
        channel = _sendgrid(sendgrid.url, monkeypatch)
        results = channel.send([_message(1), _message(2)])
        channel.close()
    assert sendgrid.refused == []
    assert [(r.status, r.provider_id) for r in results] == [(SENT, "sg000001xyz"), (SENT, "sg000002xyz")]
    body = sendgrid.accepted[0]
    [person] = body["personalizations"]
    assert person["to"] == [{"email": _address(1), "name": "User 1"}]
    assert person["custom_args"] == {"winback_id": "wb.1.1.1.abcdef@winback.invalid", "winback_campaign": "春季 spring"}
    assert body["from"] == {"email": "news@shop.example", "name": "Shop"}
    assert body["reply_to"] == {"email": "help@shop.example"}
    assert body["subject"] == "We miss you 1"
    assert body["content"] == [{"type": "text/plain", "value": "Hello 1, come back"},
                               {"type": "text/html", "value": "<p>Hello 1</p>"}]
    assert body["headers"]["List-Unsubscribe"] == ("<https://winback.example.com/u/tok1>, "
                                                   "<mailto:unsub@shop.example?subject=unsubscribe>")
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body["headers"]["X-Winback-Campaign"].startswith("=?utf-8?")   # RFC 2047: a header is ASCII
    assert sendgrid.headers_seen[0]["Content-Type"] == "application/json"


def test_sendgrid_refusals_are_permanent_with_its_words_429_waits_and_5xx_or_a_cut_is_unknown(monkeypatch):
    bad = (400, {"errors": [{"message": "Does not contain a valid address.", "field": "personalizations.0.to",
                             "help": None}]})
    answers = {_address(2): bad, _address(3): 429, _address(4): 500, _address(5): CUT}
    with FakeSendGrid(answers=answers) as sendgrid:
        channel = _sendgrid(sendgrid.url, monkeypatch)
        results = {r.send_id: r for r in channel.send([_message(i) for i in range(1, 6)])}
        channel.close()
    assert results[1].status == SENT
    assert results[2].status == FAILED
    assert results[2].error == "SendGrid refused (HTTP 400): personalizations.0.to: Does not contain a valid address."
    assert results[3].status == DEFERRED and "429" in (results[3].error or "")
    assert sendgrid.recipients().count(_address(3)) == 2        # retries = 1
    assert results[4].status == UNKNOWN and "HTTP 500" in (results[4].error or "")
    assert results[5].status == UNKNOWN and "no reply" in (results[5].error or "")
    assert sendgrid.recipients().count(_address(4)) == 1 and sendgrid.recipients().count(_address(5)) == 1


def test_sendgrid_a_wrong_key_is_a_permanent_failure_whose_text_holds_no_key(monkeypatch):
    with FakeSendGrid(key="the-right-key-1234") as sendgrid:
        channel = _sendgrid(sendgrid.url, monkeypatch, key="the-wrong-key-5678")
        [result] = channel.send([_message(1)])
        channel.close()
    assert result.status == FAILED
    assert "authorization grant is invalid" in (result.error or "")
    assert "the-wrong-key-5678" not in (result.error or "")


def test_sendgrid_without_subject_is_refused_by_the_server_as_sendgrid_would(monkeypatch):
    message = _message(1)
    message.subject = None
    with FakeSendGrid() as sendgrid:
        channel = _sendgrid(sendgrid.url, monkeypatch)
        [result] = channel.send([message])
        channel.close()
    assert result.status == FAILED and "subject: The subject is required." in (result.error or "")


@pytest.mark.parametrize(("settings", "words"), [
    ({"api_key_env": ""}, "needs api_key_env"),
    ({"from": ""}, "needs from ="),
    ({"from": "not an address"}, "is not an email address"),
    ({"endpoint": "ftp://x"}, "is not an http(s) URL"),
])
def test_sendgrid_settings_are_checked_when_the_channel_opens(monkeypatch, settings, words):
    with pytest.raises(ChannelError, match=words.replace("(", r"\(").replace(")", r"\)")):
        _sendgrid("http://127.0.0.1:9", monkeypatch, **settings)


def test_a_key_with_a_stray_carriage_return_is_refused_naming_the_variable_not_the_value(monkeypatch):
    with pytest.raises(ChannelError) as caught:
        _sendgrid("http://127.0.0.1:9", monkeypatch, key="SG.secret-value\r")
    assert "WB_SENDGRID_KEY" in str(caught.value) and "secret-value" not in str(caught.value)
    with pytest.raises(ChannelError) as caught:
        _mailgun("http://127.0.0.1:9", monkeypatch, key=" key-secret-value")
    assert "WB_MAILGUN_KEY" in str(caught.value) and "secret-value" not in str(caught.value)


def test_an_unreachable_provider_defers_the_batch_without_attempting_the_rest(monkeypatch):
    from tests.servers import free_port

    channel = _sendgrid(f"http://127.0.0.1:{free_port()}", monkeypatch)
    results = channel.send([_message(1), _message(2)])
    channel.close()
    assert [r.status for r in results] == [DEFERRED, DEFERRED]
    assert all(r.unreachable for r in results) and [r.attempted for r in results] == [True, False]


# -- Mailgun -------------------------------------------------------------------------------------------------------
def test_mailgun_posts_a_multipart_form_with_basic_auth_and_stores_the_id_without_brackets(monkeypatch):
    with FakeMailgun() as mailgun:
        channel = _mailgun(mailgun.url, monkeypatch, unsubscribe_mailto="unsub@shop.example")
        results = channel.send([_message(1), _message(2)])
        channel.close()
    assert mailgun.refused == []
    assert [(r.status, r.provider_id) for r in results] == [
        (SENT, f"20261125020000.1.1234@{MAILGUN_DOMAIN}"), (SENT, f"20261125020000.2.1234@{MAILGUN_DOMAIN}")]
    form = mailgun.accepted[0]
    assert form["from"] == "Shop <news@mg.example.com>"
    assert form["to"] == "User 1 <user1@example.com>"
    assert form["subject"] == "We miss you 1" and form["text"] == "Hello 1, come back"
    assert form["html"] == "<p>Hello 1</p>"
    assert form["h:Reply-To"] == "help@shop.example"
    assert form["h:List-Unsubscribe"] == ("<https://winback.example.com/u/tok1>, "
                                          "<mailto:unsub@shop.example?subject=unsubscribe>")
    assert form["h:List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert form["v:winback_id"] == "wb.1.1.1.abcdef@winback.invalid"


def test_mailgun_refusals_are_permanent_429_waits_and_5xx_a_cut_or_no_id_is_unknown(monkeypatch):
    bad = (400, {"message": "'to' parameter is not a valid address. please check documentation"})
    answers = {_address(2): bad, _address(3): 429, _address(4): 502, _address(5): CUT,
               _address(6): (200, {"message": "Queued. Thank you."})}
    with FakeMailgun(answers=answers) as mailgun:
        channel = _mailgun(mailgun.url, monkeypatch)
        results = {r.send_id: r for r in channel.send([_message(i) for i in range(1, 7)])}
        channel.close()
    assert results[1].status == SENT
    assert results[2].status == FAILED
    assert results[2].error == ("Mailgun refused (HTTP 400): 'to' parameter is not a valid address. please check "
                                "documentation")
    assert results[3].status == DEFERRED and mailgun.recipients().count(_address(3)) == 2
    assert results[4].status == UNKNOWN and "HTTP 502" in (results[4].error or "")
    assert results[5].status == UNKNOWN and "no reply" in (results[5].error or "")
    assert results[6].status == UNKNOWN and "no message id" in (results[6].error or "")
    assert all(mailgun.recipients().count(_address(i)) == 1 for i in (4, 5, 6))


def test_mailgun_a_wrong_key_is_a_permanent_failure_whose_text_holds_no_key(monkeypatch):
    with FakeMailgun(key="key-right-1234") as mailgun:
        channel = _mailgun(mailgun.url, monkeypatch, key="key-wrong-5678")
        [result] = channel.send([_message(1)])
        channel.close()
    assert result.status == FAILED and result.error == "Mailgun refused (HTTP 401): Forbidden"


@pytest.mark.parametrize(("settings", "words"), [
    ({"domain": ""}, "needs domain"),
    ({"domain": "bad domain"}, "is not a domain name"),
    ({"from": ""}, "needs from ="),
])
def test_mailgun_settings_are_checked_when_the_channel_opens(monkeypatch, settings, words):
    with pytest.raises(ChannelError, match=words):
        _mailgun("http://127.0.0.1:9", monkeypatch, **settings)


# -- a real launch from the CLI ------------------------------------------------------------------------------------
EMAIL_TEMPLATE = """
name = "miss-you-mail"
channel = "email"
subject = "We miss you, {{ user.name }}"
body = "Hello {{ user.name }}, come back. Unsubscribe: {{ links.unsubscribe }}"
"""


def _launch(tmp_path, cli, channel_toml: str) -> tuple[Workspace, object]:
    (tmp_path / "winback.toml").write_text(f"""
[channels.email]
{channel_toml}
unknown_consent = "allow"
unsubscribe_url = "https://winback.example.com/u/{{token}}"
""", encoding="utf-8")
    (tmp_path / "mail.toml").write_text(EMAIL_TEMPLATE, encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = ws.open()
    add_users(db, 3)
    config = ("--config", str(tmp_path / "winback.toml"))
    result = cli(*config, "templates", "add", str(tmp_path / "mail.toml"))
    assert result.exit_code == 0, result.output
    result = cli(*config, "campaign", "create", "spring", "--segment", "all", "--channel", "email",
                 "--template", "miss-you-mail", "--holdout", "0")
    assert result.exit_code == 0, result.output
    result = cli(*config, "campaign", "launch", "spring", "--real", "--yes")
    assert result.exit_code == 0, result.output
    return ws, db


def test_a_real_cli_launch_through_sendgrid_sends_each_user_once_and_stores_the_message_ids(tmp_path, monkeypatch,
                                                                                          cli):
    monkeypatch.setenv("WB_SENDGRID_KEY", SENDGRID_KEY)
    with FakeSendGrid() as sendgrid:
        _ws, db = _launch(tmp_path, cli, f'transport = "sendgrid"\napi_key_env = "WB_SENDGRID_KEY"\n'
                                         f'from = "Shop <news@shop.example>"\nendpoint = "{sendgrid.url}"')
    assert sendgrid.refused == []
    assert sorted(sendgrid.recipients()) == [_address(i) for i in (1, 2, 3)]
    rows = db.execute("SELECT address, status, provider_id, message_id FROM sends ORDER BY address").fetchall()
    assert [r[1] for r in rows] == ["sent"] * 3 and all(r[2].startswith("sg") for r in rows)
    by_address = {b["personalizations"][0]["to"][0]["email"]: b for b in sendgrid.accepted}
    for address, _status, _pid, message_id in rows:
        body = by_address[address]
        assert f"<{body['personalizations'][0]['custom_args']['winback_id']}>" == message_id
        link = body["headers"]["List-Unsubscribe"]
        assert link.startswith("<https://winback.example.com/u/") and "{" not in link and link.endswith(">")
    db.close()


def test_a_real_cli_launch_through_mailgun_sends_each_user_once_and_stores_the_message_ids(tmp_path, monkeypatch,
                                                                                         cli):
    monkeypatch.setenv("WB_MAILGUN_KEY", MAILGUN_KEY)
    with FakeMailgun() as mailgun:
        _ws, db = _launch(tmp_path, cli, f'transport = "mailgun"\napi_key_env = "WB_MAILGUN_KEY"\n'
                                         f'domain = "{MAILGUN_DOMAIN}"\nfrom = "Shop <news@{MAILGUN_DOMAIN}>"\n'
                                         f'endpoint = "{mailgun.url}"')
    assert mailgun.refused == []
    assert sorted(mailgun.recipients()) == [_address(i) for i in (1, 2, 3)]
    rows = db.execute("SELECT address, status, provider_id, message_id FROM sends ORDER BY address").fetchall()
    assert [r[1] for r in rows] == ["sent"] * 3 and all(r[2].endswith(f"@{MAILGUN_DOMAIN}") for r in rows)
    by_address = {f["to"].split("<")[-1].rstrip(">"): f for f in mailgun.accepted}
    for address, _status, _pid, message_id in rows:
        assert f"<{by_address[address]['v:winback_id']}>" == message_id
    db.close()


@pytest.mark.parametrize("provider", ["sendgrid", "mailgun"])
def test_a_real_launch_whose_requests_got_500_or_were_cut_leaves_them_unknown_and_mails_nobody_twice(
        tmp_path, monkeypatch, provider):
    from console.campaigns import control, model
    from tests.campaign_support import EMAIL_TEMPLATE, add_template, load_workspace, write_config
    from tests.campaign_support import add_users as add_consenting_users

    monkeypatch.setenv("WB_KEY", SENDGRID_KEY if provider == "sendgrid" else MAILGUN_KEY)
    fake = (FakeSendGrid if provider == "sendgrid" else FakeMailgun)(answers={_address(2): 500, _address(4): CUT})
    settings = {"transport": provider, "api_key_env": "WB_KEY", "from": f"Shop <news@{MAILGUN_DOMAIN}>",
                "domain": MAILGUN_DOMAIN, "unsubscribe_url": "https://winback.example.com/u/{token}",
                "concurrency": 1, "backoff": 0.01, "max_backoff": 0.05}
    with fake:
        cfg = write_config(tmp_path / "winback.toml", {"email": {**settings, "endpoint": fake.url}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_consenting_users(db, 5)
        add_template(db, ws.config, EMAIL_TEMPLATE)
        model.create(db, "c", segment="all", channel="email", template="miss-you-mail", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
        assert summary.sent == 3 and summary.unknown == 2
    rows = dict(db.execute("SELECT address, status FROM sends").fetchall())
    assert rows == {_address(1): "sent", _address(2): "unknown", _address(3): "sent", _address(4): "unknown",
                    _address(5): "sent"}
    assert sorted(fake.recipients()) == [_address(i) for i in range(1, 6)]   # each address reached it once
    db.close()
