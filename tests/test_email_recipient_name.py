"""Marketing email addresses the customer by name — `To: 张伟 <zw@example.com>` — through SMTP (a real aiosmtpd
server) and the email APIs (the local SendGrid and Mailgun fakes), each in its own shape. A name with quotes,
commas, angle brackets or a newline stays one display name: it never adds a recipient or a header."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.email_fakes import MAILGUN_DOMAIN, MAILGUN_KEY, SENDGRID_KEY, FakeMailgun, FakeSendGrid
from tests.servers import SmtpSink

NAMES = {1: "张伟", 2: 'Smith, "Bob" <evil@example.net>', 3: "Eve\r\nBcc: victim@example.net", 4: None}
# What a reader's mail program shows: a newline in the data is a space, nothing else changes.
SHOWN = {1: "张伟", 2: 'Smith, "Bob" <evil@example.net>', 3: "Eve Bcc: victim@example.net", 4: ""}

# A subject long enough to be folded over several lines as RFC 2047 encoded words.
TEMPLATE = '''
name = "named-mail"
channel = "email"
subject = "好久不见，{{ user.name }}！我们为你准备了回归礼包，七天内有效，快来看看吧"
body = "Hello {{ user.name }}. Unsubscribe: {{ links.unsubscribe }}"
'''


def _launch(tmp_path, monkeypatch, channel: dict) -> None:
    from console.campaigns import control, model

    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    cfg = write_config(tmp_path / "winback.toml", {"email": {"concurrency": 1, "backoff": 0.01, **channel}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, len(NAMES))
    for i, name in NAMES.items():
        db.execute("UPDATE users SET name = ? WHERE external_id = ?", [name, f"u{i}"])
    add_template(db, ws.config, TEMPLATE)
    model.create(db, "c", segment="all", channel="email", template="named-mail", holdout=0)
    assert control.launch(db, ws.config, "c", real=True).outcome == "completed"


def _one_address(value: str):
    [address] = email.policy.default.header_factory("To", value).addresses
    return address


def test_smtp_to_carries_the_name_encoded_and_a_hostile_name_adds_no_recipient_or_header(tmp_path, monkeypatch):
    with SmtpSink() as smtp:
        _launch(tmp_path, monkeypatch, {"transport": "smtp", "host": "127.0.0.1", "port": smtp.port,
                                        "security": "none", "from": "品牌 <hello@brand.example>"})
    assert sorted(m["to"][0] for m in smtp.messages) == [f"user{i}@example.com" for i in NAMES]
    for mail in smtp.messages:
        [rcpt] = mail["to"]                       # the envelope: only the customer's own address
        i = int(rcpt.removeprefix("user").split("@")[0])
        assert not re.search(r"(?<!\r)\n", mail["data"]), "a bare LF in the message"
        msg = email.message_from_string(mail["data"], policy=email.policy.default)
        assert msg["Bcc"] is None and msg["Cc"] is None
        assert len(msg.get_all("To")) == 1
        address = _one_address(str(msg["To"]))
        assert (address.addr_spec, address.display_name) == (rcpt, SHOWN[i])
        assert msg["Subject"].startswith("好久不见，") and msg["Subject"].endswith("快来看看吧")
    raw = next(m["data"] for m in smtp.messages if m["to"] == ["user1@example.com"])
    assert "To: =?utf-8?b?5byg5Lyf?= <user1@example.com>\r\n" in raw   # RFC 2047: a header is ASCII
    raw = next(m["data"] for m in smtp.messages if m["to"] == ["user4@example.com"])
    assert "To: user4@example.com\r\n" in raw


def test_sendgrid_gets_the_name_in_its_to_object_quoted_where_it_would_split_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_SENDGRID_KEY", SENDGRID_KEY)
    with FakeSendGrid() as sendgrid:
        _launch(tmp_path, monkeypatch, {"transport": "sendgrid", "api_key_env": "WB_SENDGRID_KEY",
                                        "from": "Shop <news@shop.example>", "endpoint": sendgrid.url})
    assert sendgrid.refused == []
    to = {b["personalizations"][0]["to"][0]["email"]: b["personalizations"][0]["to"] for b in sendgrid.accepted}
    assert to["user1@example.com"] == [{"email": "user1@example.com", "name": "张伟"}]
    # SendGrid splits an unquoted name at a comma (its documented limitation): specials go as a quoted string.
    assert to["user2@example.com"] == [{"email": "user2@example.com",
                                        "name": '"Smith, \\"Bob\\" <evil@example.net>"'}]
    assert to["user3@example.com"] == [{"email": "user3@example.com", "name": '"Eve Bcc: victim@example.net"'}]
    assert to["user4@example.com"] == [{"email": "user4@example.com"}]


def test_mailgun_to_is_one_address_with_the_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_MAILGUN_KEY", MAILGUN_KEY)
    with FakeMailgun() as mailgun:
        _launch(tmp_path, monkeypatch, {"transport": "mailgun", "api_key_env": "WB_MAILGUN_KEY",
                                        "domain": MAILGUN_DOMAIN, "from": "Shop <news@mg.example.com>",
                                        "endpoint": mailgun.url})
    assert mailgun.refused == []
    by_address = {_one_address(f["to"]).addr_spec: f["to"] for f in mailgun.arrived}
    assert by_address["user1@example.com"] == "张伟 <user1@example.com>"
    for i, shown in SHOWN.items():
        value = by_address[f"user{i}@example.com"]
        assert "\n" not in value and "\r" not in value
        assert _one_address(value).display_name == shown


@pytest.mark.parametrize("raw, shown", [("  张\t\t伟 ", "张 伟"), ("\u202eevil", "evil"), ("\x00\x07", None), ("", None)])
def test_a_name_is_cleaned_of_controls_and_runs_of_space(raw, shown):
    from console.channels.recipient import display_name

    assert display_name(raw) == shown
