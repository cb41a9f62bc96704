"""Real transports against real servers on 127.0.0.1: SMTP (aiosmtpd) and an HTTP gateway.

Every message arrives once, with the right headers and body; throttling (HTTP 429/503, SMTP 451) is retried,
not failed; a permanent refusal (HTTP 400) is recorded failed with the provider's words.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter

import pytest

from tests.campaign_support import (
    EMAIL_TEMPLATE,
    SMS_TEMPLATE,
    add_template,
    add_users,
    load_workspace,
    write_config,
)
from tests.servers import HttpGateway, SmtpSink


def _ledger(db, campaign="c"):
    return {r["user_id"]: r for r in db.query(
        "SELECT s.* FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = ?", [campaign])}


def test_smtp_delivers_each_message_once_with_unsubscribe_headers_and_retries_451(tmp_path, monkeypatch):
    from console.campaigns import control, model, tallies

    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    with SmtpSink(temp_fail_first={"user3@example.com", "user7@example.com"},
                  refuse_rcpt={"user9@example.com"}) as smtp:
        cfg = write_config(tmp_path / "winback.toml", {"email": {
            "transport": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "from": "品牌 <hello@brand.example>", "unsubscribe_url": "https://brand.example/u/{token}",
            "concurrency": 3, "backoff": 0.01, "price": 0.001}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 20)
        add_template(db, ws.config, EMAIL_TEMPLATE)
        model.create(db, "c", segment="all", channel="email", template="miss-you-mail", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True)

    assert summary.outcome == "completed"
    received = Counter(m["to"][0] for m in smtp.messages)
    assert len(received) == 19 and set(received.values()) == {1}, received
    assert smtp.failed_once == {"user3@example.com", "user7@example.com"}   # 451 first, then delivered
    ledger = _ledger(db)
    assert Counter(r["status"] for r in ledger.values()) == {"sent": 19, "failed": 1}
    assert ledger[9]["status"] == "failed" and "550" in ledger[9]["error"]   # a 5xx is permanent
    assert ledger[3]["attempts"] == 1  # retried inside the channel, one claim

    mail = next(m for m in smtp.messages if m["to"] == ["user5@example.com"])
    msg = email.message_from_string(mail["data"], policy=email.policy.default)
    assert msg["Subject"] == "We miss you, 用户5"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(msg["List-Unsubscribe"]).strip()  # may be folded onto its own line
    assert unsubscribe.startswith("<https://brand.example/u/5.email.") and unsubscribe.endswith(">")
    from console.unsubscribe import verify_unsubscribe_token

    token = unsubscribe.strip("<>").rsplit("/", 1)[1]
    assert verify_unsubscribe_token(db, token) == (5, "email", model.get(db, "c").id)
    assert msg["Message-ID"] == ledger[5]["message_id"] and ".5." in msg["Message-ID"]
    assert msg.is_multipart()
    assert msg.get_body(("plain",)).get_content().startswith("Hello 用户5")
    assert "<p>Hello 用户5</p>" in msg.get_body(("html",)).get_content()
    tally = tallies.tally(db, "c")
    assert tally["sent"] == 19 and tally["failed"] == 1 and tally["cost"] == pytest.approx(0.019)


def _http_workspace(tmp_path, url, *, toml: str = "", **extra):
    """A workspace sending SMS through the HTTP gateway at `url`; `toml`: raw lines for [channels.sms] (lists)."""
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_TEST_SMS_TOKEN",
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}", "parts": "{{ parts }}"}',
        "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id",
        "signature": "【品牌】", "opt_out_text": "拒收请回复R", "price": 0.04, "concurrency": 4,
        "backoff": 0.01, **extra}})
    if toml:
        cfg.write_text(cfg.read_text(encoding="utf-8").replace("[channels.sms]\n", f"[channels.sms]\n{toml}\n"),
                       encoding="utf-8")
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 30)
    add_template(db, ws.config, SMS_TEMPLATE)
    return ws, db


def test_http_gateway_gets_each_message_once_429_and_503_retried_400_failed(tmp_path, monkeypatch):
    """429 is always retried; this gateway's 503 means "busy, not processed" (it logs nothing), which the channel
    is told with retry_statuses — without it a 503 after the request left is `unknown` (see test_channels_send_safety)."""
    from console.campaigns import control, model, tallies

    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "s3cret")
    refused = "+8613800000011"
    log = tmp_path / "requests.jsonl"
    with HttpGateway(log, throttle_every=4, server_error_every=9, refuse={refused}) as gw:
        ws, db = _http_workspace(tmp_path, gw.url, toml="retry_statuses = [503]")
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True)

    assert summary.outcome == "completed"
    assert gw.state.throttled, "the gateway throttled some first attempts"
    arrived = [json.loads(line) for line in log.read_text().splitlines()]
    by_to = Counter(r["to"] for r in arrived)
    assert len(arrived) == 29 and set(by_to.values()) == {1} and refused not in by_to
    assert all(h["Authorization"] == "Bearer s3cret" for h in gw.state.headers)
    first = next(r for r in arrived if r["to"] == "+8613800000001")
    assert first["text"] == "【品牌】用户1，好久不见！拒收请回复R"
    assert first["parts"] == 1   # a whole-string placeholder keeps its type
    ledger = _ledger(db)
    assert Counter(r["status"] for r in ledger.values()) == {"sent": 29, "failed": 1}
    assert ledger[11]["status"] == "failed" and "400" in ledger[11]["error"]
    # provider ids extracted from the reply match what the gateway logged
    assert {r["provider_id"] for r in arrived} == {r["provider_id"] for r in ledger.values() if r["status"] == "sent"}
    throttled_ids = set(gw.state.throttled)
    assert all(ledger[u]["status"] == "sent" for u, r in ledger.items() if r["message_id"] in throttled_ids and u != 11)
    tally = tallies.tally(db, "c")
    assert (tally["sent"], tally["failed"], tally["deferred"]) == (29, 1, 0)
    assert tally["cost"] == pytest.approx(29 * 0.04)   # a refused message is not spent


def test_missing_secret_stops_before_anything_is_written(tmp_path, monkeypatch):
    from console.campaigns import control, model
    from console.channels import ChannelError

    monkeypatch.delenv("WB_TEST_SMS_TOKEN", raising=False)
    ws, db = _http_workspace(tmp_path, "http://127.0.0.1:9/send")
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    with pytest.raises(ChannelError, match="WB_TEST_SMS_TOKEN"):
        control.launch(db, ws.config, "c", real=True)
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0
    assert model.get(db, "c").status == "draft"


def test_throttled_beyond_retries_is_deferred_not_failed(tmp_path, monkeypatch):
    """A gateway that keeps answering 429: the message is deferred for later, never marked failed at once."""
    from console.campaigns import control, model, tallies

    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "x")
    with HttpGateway(None, throttle_every=1) as gw:  # every first attempt throttled
        ws, db = _http_workspace(tmp_path, gw.url, retries=0, concurrency=1)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
        assert summary.outcome == "waiting"
        tally = tallies.tally(db, "c")
        assert tally["deferred"] == 30 and tally["failed"] == 0
        assert tally["deferred_by_reason"] == {"throttled": 30}
        # Later (cron): the deferred messages are due again and go through on their second attempt.
        db.execute("UPDATE sends SET not_before = 0")
        control.resume(db, ws.config, "c")
    assert tallies.tally(db, "c")["sent"] == 30
    assert len(gw.state.accepted) == 30


def test_csv_call_list_is_written_atomically_with_every_sent_row(tmp_path):
    from console.campaigns import control, model

    cfg = write_config(tmp_path / "winback.toml", {"call": {"transport": "csv",
                                                            "path": "exports/call-list-{campaign}.csv"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 12, consent=("call",))
    add_template(db, ws.config, 'name = "vip-call"\nchannel = "call"\nbody = "call {{ user.name }}"\n'
                                'fields = ["user.name", "user.region"]\n')
    model.create(db, "vip", segment="all", channel="call", template="vip-call", holdout=0)
    control.launch(db, ws.config, "vip", real=True, batch_size=5)
    import csv

    path = tmp_path / "exports" / "call-list-vip.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    assert len(rows) == 12 and len({r["user_id"] for r in rows}) == 12
    assert rows[0]["to"] == "+8613800000001" and rows[0]["text"] == "call 用户1"
    assert rows[0]["user.name"] == "用户1" and rows[0]["external_id"] == "u1"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]   # no temp file left behind


def test_a_request_without_reply_is_unknown_and_never_resent(tmp_path, monkeypatch):
    """The gateway took the message but its reply never came: it may have gone out, so it is not retried."""
    from console.campaigns import control, model, tallies

    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "x")
    log = tmp_path / "requests.jsonl"
    with HttpGateway(log, silent={"+8613800000004"}) as gw:
        ws, db = _http_workspace(tmp_path, gw.url, timeout=0.5)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True)
    assert summary.outcome == "completed" and summary.unknown == 1
    arrived = Counter(json.loads(line)["to"] for line in log.read_text().splitlines())
    assert arrived["+8613800000004"] == 1 and len(arrived) == 30
    row = db.execute("SELECT status, reason FROM sends WHERE user_id = 4").fetchone()
    assert tuple(row) == ("unknown", "no_reply")
    assert tallies.tally(db, "c")["unknown"] == 1


@pytest.fixture
def certificate(tmp_path):
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_smtp_starttls_with_credentials_from_the_environment(tmp_path, monkeypatch, certificate):
    from console.campaigns import control, model
    from console.channels import ChannelError

    monkeypatch.setenv("WB_SMTP_USER", "winback")
    monkeypatch.setenv("WB_SMTP_PASSWORD", "right")
    with SmtpSink(starttls_cert=certificate, logins={"winback": "right"}) as smtp:
        cfg = write_config(tmp_path / "winback.toml", {"email": {
            "transport": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "starttls",
            "verify_tls": False, "username_env": "WB_SMTP_USER", "password_env": "WB_SMTP_PASSWORD",
            "from": "B <hello@brand.example>", "concurrency": 2, "timeout": 3}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 6)
        add_template(db, ws.config, EMAIL_TEMPLATE)
        model.create(db, "c", segment="all", channel="email", template="miss-you-mail", holdout=0)
        model.create(db, "d", segment="all", channel="email", template="miss-you-mail", holdout=0)
        assert control.launch(db, ws.config, "c", real=True).sent == 6
        assert len(smtp.messages) == 6 and smtp.logged_in and smtp.tls_sessions == len(smtp.logged_in)
        monkeypatch.setenv("WB_SMTP_PASSWORD", "wrong")
        with pytest.raises(ChannelError, match="127.0.0.1"):
            control.launch(db, ws.config, "d", real=True)
    assert db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                      "WHERE c.name = 'd'").fetchone()[0] == 0   # refused before anything was written


def test_smtp_over_implicit_tls(tmp_path, certificate):
    from console.campaigns import control, model

    with SmtpSink(implicit_tls_cert=certificate) as smtp:
        cfg = write_config(tmp_path / "winback.toml", {"email": {
            "transport": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "tls", "verify_tls": False,
            "from": "B <hello@brand.example>", "timeout": 5}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 3)
        add_template(db, ws.config, EMAIL_TEMPLATE)
        model.create(db, "c", segment="all", channel="email", template="miss-you-mail", holdout=0)
        assert control.launch(db, ws.config, "c", real=True).sent == 3
    assert sorted(m["to"][0] for m in smtp.messages) == [f"user{i}@example.com" for i in (1, 2, 3)]


def test_a_gateway_failing_most_sends_trips_the_brake_and_the_campaign_pauses_itself_mid_run(tmp_path, monkeypatch):
    from console.campaigns import control, model, tallies

    monkeypatch.setenv("WB_TEST_SMS_TOKEN", "s3cret")
    # every number but each fifth is refused (HTTP 400): 80% of the sends fail
    refused = {f"+86138{i:08d}" for i in range(1, 201) if i % 5}
    with HttpGateway(tmp_path / "requests.jsonl", refuse=refused) as gw:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_TEST_SMS_TOKEN", "price": 0.04, "batch": 10,
            "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}', "concurrency": 2}})
        with cfg.open("a", encoding="utf-8") as f:
            f.write("\n[brakes]\nwindow = 50\nmin_sends = 20\nfailure_rate = 0.5\n")
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 200)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True)

    campaign = model.get(db, "c")
    assert summary.outcome == "paused" and campaign.status == "paused"
    assert campaign.pause_reason.startswith("brake: ") and "failed or bounced" in campaign.pause_reason
    assert summary.pause_reason == campaign.pause_reason
    tally = tallies.tally(db, "c")
    # paused mid-run: it stopped after the first batches that reached 20 sends, the rest is still waiting
    assert 20 <= tally["sent"] + tally["failed"] <= 40 and tally["waiting"] >= 160
    brake = next(db.query("SELECT details FROM audit WHERE action = 'campaign.brake'"))
    assert "failure_rate" in brake["details"]
