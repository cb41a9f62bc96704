"""A newcomer's SMTP mistakes, each against a real aiosmtpd server on 127.0.0.1: the launch stops before anything is
written, with one line that names the real cause (never a traceback, never a misleading cause)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.campaign_support import EMAIL_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import SmtpSink


def _launch(tmp_path, email: dict[str, Any], *args: str):
    """`winback campaign launch c --real --yes` on 3 users, in-process as an operator types it; (result, db)."""
    from typer.testing import CliRunner

    from console.campaigns import model
    from console.cli import app

    settings = {"transport": "smtp", "host": "127.0.0.1", "timeout": 5,
                "unsubscribe_url": "http://127.0.0.1:8787/u/{token}", **email}
    cfg = write_config(tmp_path / "winback.toml", {"email": settings})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, EMAIL_TEMPLATE)
    model.create(db, "c", segment="all", channel="email", template="miss-you-mail", holdout=0)
    result = CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(cfg), *args],
                                catch_exceptions=False)
    return result, db


def _sends(db) -> int:
    return db.execute("SELECT COUNT(*) FROM sends").fetchone()[0]


def test_starttls_against_a_plain_server_says_starttls_not_auth(tmp_path):
    # security defaults to starttls; the local aiosmtpd of docs/channels.md offers no TLS and no credentials are set
    with SmtpSink() as smtp:
        result, db = _launch(tmp_path, {"port": smtp.port, "from": "B <hello@brand.example>"},
                             "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "AUTH" not in result.output and "username_env" not in result.output
    assert "does not offer STARTTLS" in result.output and 'security = "none"' in result.output
    assert _sends(db) == 0 and not smtp.messages


@pytest.mark.parametrize(("sender", "said"), [
    ("品牌", "'品牌' is not an email address"),                       # the display name alone: a traceback before
    ("hello", "'hello' is not an email address"),                     # no domain: sent as From: hello before
    ("品牌 <hé@brand.example>", "non-ASCII"),                          # a traceback before
])
def test_a_from_without_a_usable_address_is_refused_with_its_line(tmp_path, sender, said):
    with SmtpSink() as smtp:
        result, db = _launch(tmp_path, {"port": smtp.port, "security": "none", "from": sender},
                             "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "[channels.email] from" in result.output and said in result.output
    assert "winback.toml line" in result.output
    assert _sends(db) == 0 and not smtp.messages


def test_plan_real_names_a_from_without_an_address_too(tmp_path):
    result, _db = _launch(tmp_path, {"port": 1, "security": "none", "from": "品牌"}, "campaign", "plan", "c", "--real")
    assert "Traceback" not in result.output
    assert "[channels.email] from" in result.output and "is not an email address" in result.output


def test_a_sender_the_server_refuses_stops_the_launch_before_anything_is_written(tmp_path):
    # a relay that refuses MAIL FROM for this address refused every message one by one, each recorded failed
    with SmtpSink(refuse_sender={"hello@brand.example"}) as smtp:
        result, db = _launch(tmp_path, {"port": smtp.port, "security": "none", "from": "B <hello@brand.example>"},
                             "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "refuses the sender hello@brand.example" in result.output and "553" in result.output
    assert "[channels.email] from" in result.output
    assert _sends(db) == 0 and not smtp.messages


@pytest.mark.parametrize("unsubscribe", [{"unsubscribe_url": None},
                                         {"unsubscribe_url": "https://brand.example/u/unsubscribe"}])
def test_a_real_email_launch_without_a_working_unsubscribe_link_is_refused(tmp_path, unsubscribe):
    # marketing email went out with no List-Unsubscribe header and an empty link in its body (a preview warning
    # only); a URL without {token} gives everyone the same link, which unsubscribes nobody
    with SmtpSink() as smtp:
        result, db = _launch(tmp_path, {"port": smtp.port, "security": "none", "from": "B <hello@brand.example>",
                                        **unsubscribe}, "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "[channels.email] unsubscribe_url" in result.output and "{token}" in result.output
    assert _sends(db) == 0 and not smtp.messages


def test_an_unsubscribe_mailto_alone_is_a_way_to_unsubscribe(tmp_path):
    with SmtpSink() as smtp:
        result, _db = _launch(tmp_path, {"port": smtp.port, "security": "none", "from": "B <hello@brand.example>",
                                         "unsubscribe_url": None, "unsubscribe_mailto": "unsubscribe@brand.example"},
                              "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 3 and "List-Unsubscribe: <mailto:" in smtp.messages[0]["data"]


def test_tls_against_a_plain_server_says_which_security_to_set(tmp_path):
    # was: "cannot connect to 127.0.0.1:PORT: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"
    with SmtpSink() as smtp:
        result, db = _launch(tmp_path, {"port": smtp.port, "security": "tls", "from": "B <hello@brand.example>"},
                             "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "did not answer in TLS" in result.output and 'security = "none"' in result.output
    assert _sends(db) == 0 and not smtp.messages


def test_an_untrusted_certificate_says_so_and_names_verify_tls(tmp_path):
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    with SmtpSink(implicit_tls_cert=(cert, key)) as smtp:   # self-signed, as a test server's is
        result, db = _launch(tmp_path, {"port": smtp.port, "security": "tls", "from": "B <hello@brand.example>"},
                             "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is not trusted" in result.output and "verify_tls = false" in result.output
    assert _sends(db) == 0 and not smtp.messages


def test_a_wrong_port_names_the_settings_to_check_and_that_nothing_was_sent(tmp_path):
    from tests.servers import free_port

    result, db = _launch(tmp_path, {"port": free_port(), "security": "none", "from": "B <hello@brand.example>"},
                         "campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Connection refused" in result.output
    assert "check host and port in [channels.email]" in result.output and "nothing was sent" in result.output
    assert _sends(db) == 0
