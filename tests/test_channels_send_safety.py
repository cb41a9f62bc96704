"""Send safety (issue #19 points 3, 4, 5 and run-due; issue #12 point 4's provider reply), against real servers.

- A provider that took the message and then answered 5xx, or whose connection dropped, gets it once: `unknown`,
  never resent — unless it honours an idempotency key we send, or documents the status as "not processed".
- A real launch needs a transport that really sends: the dry-run transport is refused with the fix in one line.
- A secret with a stray `\\r` stops the launch before anything is written, naming the variable, never the value; no
  secret reaches the ledger; a request our side could not make is not `unknown`.
- A reply nested 100,000 deep, not JSON or huge is `unknown` (it may have been accepted), never a crash.
- The loser of two run-dues started together says the campaign is being run by another process and exits 0.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.campaign_support import (
    EMAIL_TEMPLATE,
    SMS_TEMPLATE,
    add_template,
    add_users,
    load_workspace,
    write_config,
)
from tests.servers import CUT, DropOnDataSmtp, HttpGateway, SmtpSink

TOKEN = "tok-3f9a-SECRET-7c21"
WINBACK = str(Path(sys.executable).parent / "winback")
ROOT = Path(__file__).resolve().parent.parent


def _cli(ws):
    from typer.testing import CliRunner

    from console.cli import app

    def run(*args: str, input: str | None = None):
        result = CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path), *args],
                                    input=input, catch_exceptions=False)
        result.flat = " ".join(result.output.split())   # the terminal wraps long lines
        return result

    return run


def _sms_workspace(tmp_path: Path, url: str, *, users: int = 10, toml: str = "", **extra):
    cfg = write_config(tmp_path / "winback.toml", {"sms": {
        "transport": "http", "url": url, "token_env": "WB_SAFETY_TOKEN",
        "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}',
        "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id",
        "price": 0.04, "concurrency": 2, "backoff": 0.01, "max_backoff": 0.05, **extra}})
    if toml:
        cfg.write_text(cfg.read_text(encoding="utf-8").replace("[channels.sms]\n", f"[channels.sms]\n{toml}\n"),
                       encoding="utf-8")
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, users)
    add_template(db, ws.config, SMS_TEMPLATE)
    return ws, db


def _phone(i: int) -> str:
    return f"+86138{i:08d}"


def _arrived(log: Path) -> Counter:
    return Counter(json.loads(line)["to"] for line in log.read_text().splitlines()) if log.exists() else Counter()


def _statuses(db) -> dict[int, tuple[str, str | None]]:
    return {r[0]: (r[1], r[2]) for r in db.execute("SELECT user_id, status, error FROM sends")}


# -- 3: a 5xx or a cut connection after the request left ---------------------------------------------------------

def test_a_provider_that_took_the_message_then_answered_5xx_or_dropped_gets_it_once_and_it_is_unknown(
        tmp_path, monkeypatch):
    from console.campaigns import control, model, tallies
    from console.policy import caps

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    log = tmp_path / "requests.jsonl"
    after = {_phone(2): 502, _phone(3): 504, _phone(5): 500, _phone(7): CUT}
    with HttpGateway(log, answer_after_accept=after) as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, retries=2)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
        # an unknown may have reached the person: it counts towards frequency caps like a sent message
        caps.set_rule(db, caps.parse_rule("any", "1/7d"))
        model.create(db, "d", segment="all", channel="sms", template="miss-you", holdout=0)
        control.launch(db, ws.config, "d", real=True, max_wait=0)
    capped = {r[0] for r in db.execute("SELECT s.user_id FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                                       "WHERE c.name = 'd' AND s.reason = 'capped'")}
    assert capped == set(range(1, 11))

    arrived = _arrived(log)
    assert set(arrived) == {_phone(i) for i in range(1, 11)} and set(arrived.values()) == {1}, arrived
    statuses = {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT user_id, s.status, error FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = 'c'")}
    assert {u for u, (s, _) in statuses.items() if s == "unknown"} == {2, 3, 5, 7}
    assert all(statuses[u][0] == "sent" for u in (1, 4, 6, 8, 9, 10))
    assert "HTTP 502" in statuses[2][1] and "may have been accepted" in statuses[2][1]
    assert summary.outcome == "completed" and summary.unknown == 4
    tally = tallies.tally(db, "c")
    assert (tally["sent"], tally["unknown"], tally["failed"], tally["deferred"]) == (6, 4, 0, 0)


def test_with_an_idempotency_key_a_5xx_or_a_dropped_reply_is_retried_and_delivered_once(tmp_path, monkeypatch):
    from console.campaigns import control, model

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    log = tmp_path / "requests.jsonl"
    after = {_phone(2): 502, _phone(4): CUT}
    with HttpGateway(log, answer_after_accept=after, idempotency_header="Idempotency-Key") as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, users=6, idempotency_header="Idempotency-Key")
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)

    arrived = _arrived(log)
    assert len(arrived) == 6 and set(arrived.values()) == {1}, arrived
    assert gw.state.deduplicated == 2            # the retries of 2 and 4, answered from the provider's records
    assert summary.sent == 6 and summary.unknown == 0
    ids = {r[0]: r[1] for r in db.execute("SELECT user_id, message_id FROM sends")}
    keys = {h["Idempotency-Key"] for h in gw.state.headers}
    assert keys == {m.strip("<>") for m in ids.values()}   # winback's message id, the same on every retry


def test_a_503_documented_as_not_processed_is_retried_and_delivered_once(tmp_path, monkeypatch):
    """retry_statuses names the codes the provider documents as "not processed": those are retried."""
    from console.campaigns import control, model

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    log = tmp_path / "requests.jsonl"
    with HttpGateway(log, server_error_every=3) as gw:   # 503 (logs nothing) to every third first attempt
        ws, db = _sms_workspace(tmp_path, gw.url, toml="retry_statuses = [503]")
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
    assert gw.state.throttled and summary.sent == 10 and summary.unknown == 0
    assert set(_arrived(log).values()) == {1}


def test_retry_statuses_must_be_5xx_codes(tmp_path, monkeypatch):
    from console.channels import open_channel
    from console.config import ConfigError

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    ws, _ = _sms_workspace(tmp_path, "http://127.0.0.1:9/send", toml="retry_statuses = [400]")
    with pytest.raises(ConfigError, match=r"line \d+: \[channels.sms\] retry_statuses: \[400\].*5xx"):
        open_channel("sms", ws.config, dry_run=False)


def test_a_retry_after_given_as_an_http_date_is_honoured(tmp_path, monkeypatch):
    """RFC 9110 lets Retry-After be a date: an hour ahead means no retry now — the message is deferred and the
    channel held for the hour (it was read as no Retry-After at all: retried at once, 5 requests)."""
    from console.channels import DEFERRED, Message, open_channel

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T11:00:00+08:00")
    with HttpGateway(None, throttle_every=1, retry_after="Wed, 25 Nov 2026 04:00:00 GMT") as gw:   # 12:00 +08
        ws, _ = _sms_workspace(tmp_path, gw.url, users=1, retries=4)
        channel = open_channel("sms", ws.config, dry_run=False)
        try:
            [result] = channel.send([Message(1, 1, _phone(1), "hi", "c", "<wb.1.1.1.x@winback.invalid>")])
        finally:
            channel.close()
    assert gw.state.requests == 1
    assert result.status == DEFERRED and result.provider_wait and result.retry_after == pytest.approx(3600)


def _smtp_workspace(tmp_path: Path, port: int, users: int = 5, **extra):
    cfg = write_config(tmp_path / "winback.toml", {"email": {
        "transport": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
        "from": "B <hello@brand.example>", "concurrency": 1, "backoff": 0.01, "timeout": 5, **extra}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, users)
    add_template(db, ws.config, EMAIL_TEMPLATE)
    return ws, db


def test_smtp_an_unreadable_or_lost_reply_after_the_message_is_unknown_and_never_resent(tmp_path):
    """After the message went, a reply smtplib cannot read (a line too long) or a dropped connection is `unknown`:
    one copy at the server, no retry, no crash."""
    from console.campaigns import control, model

    with SmtpSink(garble_after_data={"user2@example.com"}, drop_after_data={"user4@example.com"}) as smtp:
        ws, db = _smtp_workspace(tmp_path, smtp.port)
        model.create(db, "c", segment="all", channel="email", template="miss-you-mail", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
    received = Counter(m["to"][0] for m in smtp.messages)
    assert len(received) == 5 and set(received.values()) == {1}, received
    statuses = _statuses(db)
    assert statuses[2][0] == "unknown" and statuses[4][0] == "unknown"
    assert all(statuses[u][0] == "sent" for u in (1, 3, 5))
    assert summary.outcome == "completed" and summary.unknown == 2


def test_smtp_a_connection_lost_before_the_354_is_retried_and_delivered_once(tmp_path):
    """DATA was asked for but the server went away before its 354: nothing was handed over, so the message is
    retried on a new connection (it was `unknown` before, as if the message had gone)."""
    from console.campaigns import control, model

    with DropOnDataSmtp() as smtp:
        ws, db = _smtp_workspace(tmp_path, smtp.port, users=3)
        model.create(db, "c", segment="all", channel="email", template="miss-you-mail", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
    assert sorted(smtp.dropped) == [f"user{i}@example.com" for i in (1, 2, 3)]
    assert Counter(to for to, _ in smtp.messages) == Counter({f"user{i}@example.com": 1 for i in (1, 2, 3)})
    assert summary.sent == 3 and summary.unknown == 0
    assert {s for s, _ in _statuses(db).values()} == {"sent"}


# -- 4: a real launch on the dry-run transport ----------------------------------------------------------------

def test_a_real_launch_on_the_dry_run_transport_is_refused_with_the_fix_in_one_line(tmp_path):
    from console.campaigns import control, model
    from console.channels import ChannelError

    cfg = write_config(tmp_path / "winback.toml", {"sms": {"price": 0.04}})   # no transport: dryrun
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 5)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    fix = 'set transport = "aliyun" (or "tencent") in [channels.sms] of winback.toml'   # default_region CN
    cli = _cli(ws)

    result = cli("campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 1 and "uses transport dryrun, which sends nothing" in result.flat
    assert fix in result.flat and "docs/channels.md" in result.flat and "sent 0" not in result.flat
    result = cli("campaign", "launch", "c", "--real", input="5\n")   # refused before asking for the count
    assert result.exit_code == 1 and "Type the number" not in result.flat and fix in result.flat
    result = cli("campaign", "plan", "c", "--real")
    assert result.exit_code == 1 and "to send" in result.flat and fix in result.flat
    with pytest.raises(ChannelError, match="sends nothing"):
        control.launch(db, ws.config, "c", real=True)
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0 and model.get(db, "c").status == "draft"
    # a dry run is what the dry-run transport is for
    assert cli("campaign", "launch", "c").exit_code == 0
    assert db.execute("SELECT COUNT(*) FROM sends WHERE dry_run = 1").fetchone()[0] == 5


def test_resuming_a_real_run_on_the_dry_run_transport_is_refused_and_the_campaign_stays_paused(tmp_path):
    """The channel is opened before the status changes: a refusal leaves the campaign paused, nothing recorded."""
    from console.campaigns import control, model
    from console.channels import ChannelError

    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 6)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, ws.config, "c", real=True, batch_size=2, should_stop=lambda: db.execute(
        "SELECT COUNT(*) FROM sends WHERE status = 'sent'").fetchone()[0] >= 2)
    control.pause(db, "c")
    ledger = _statuses(db)
    assert "planned" in {s for s, _ in ledger.values()}     # work left for a resume
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('transport = "csv"', 'transport = "dryrun"')
                   .replace("transport = 'csv'", "transport = 'dryrun'"), encoding="utf-8")
    ws = load_workspace(cfg)
    with pytest.raises(ChannelError, match="sends nothing"):
        control.resume(db, ws.config, "c")
    assert model.get(db, "c").status == "paused" and _statuses(db) == ledger
    result = _cli(ws)("campaign", "resume", "c")
    assert result.exit_code == 1 and "uses transport dryrun" in result.flat
    assert model.get(db, "c").status == "paused" and _statuses(db) == ledger


async def test_the_console_refuses_a_real_launch_on_the_dry_run_transport_before_asking_for_the_count(
        tmp_path, monkeypatch):
    from console.campaigns import model
    from console.templates import parse_toml, save
    from screens.dialogs import ErrorDialog, TypedCountDialog
    from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for

    workspace = demo_workspace(tmp_path, monkeypatch, users=60, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    save(db, parse_toml('name = "miss-you"\nchannel = "sms"\nbody = "好久不见"\n'))
    model.create(db, "for-real", segment="all", channel="sms", template="miss-you", holdout=10)
    app = make_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog | TypedCountDialog),
                       what="the launch refused (error dialog) or the typed count asked")
        assert isinstance(app.screen, ErrorDialog), type(app.screen).__name__
        shown = " ".join(text_of(pilot, "#error-message").split())
        assert "uses transport dryrun, which sends nothing" in shown
        assert "of winback.toml (`winback init` writes one)" in shown   # the demo has no winback.toml yet
    assert model.get(db, "for-real").status == "draft"
    # nothing was written, and no real send exists anywhere: the demo's simulated past campaign (issue 15) keeps its
    # made-up rows as a dry run's, so they are never counted as real
    assert db.execute("SELECT COUNT(*) FROM sends WHERE dry_run = 0 OR counts_for_caps = 1").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                      "WHERE NOT c.simulated").fetchone()[0] == 0


# -- 5: secrets ---------------------------------------------------------------------------------------------------

def test_a_token_with_a_stray_carriage_return_stops_the_launch_naming_the_variable_never_the_value(
        tmp_path, monkeypatch):
    from console.campaigns import control, model
    from console.channels import ChannelError

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN + "\r")   # an env file saved with CRLF
    log = tmp_path / "requests.jsonl"
    with HttpGateway(log) as gw:
        ws, db = _sms_workspace(tmp_path, gw.url)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        with pytest.raises(ChannelError, match="WB_SAFETY_TOKEN ends with a carriage return") as caught:
            control.launch(db, ws.config, "c", real=True)
        assert TOKEN not in str(caught.value)
        result = _cli(ws)("campaign", "launch", "c", "--real", "--yes")
        assert result.exit_code == 1 and "WB_SAFETY_TOKEN" in result.flat and TOKEN not in result.flat
        assert "sent 0" not in result.flat
        result = _cli(ws)("campaign", "plan", "c", "--real")
        assert result.exit_code == 1 and "carriage return" in result.flat and TOKEN not in result.flat
    assert gw.state.requests == 0 and not _arrived(log)
    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0 and model.get(db, "c").status == "draft"


@pytest.mark.parametrize("value", [" " + TOKEN, TOKEN + "\n", "", "a\x1bb-long-enough"])
def test_other_unusable_secrets_are_refused_when_the_channel_opens(tmp_path, monkeypatch, value):
    from console.channels import ChannelError, open_channel

    monkeypatch.setenv("WB_SAFETY_TOKEN", value)
    ws, _ = _sms_workspace(tmp_path, "http://127.0.0.1:9/send", users=1)
    with pytest.raises(ChannelError, match="WB_SAFETY_TOKEN") as caught:
        open_channel("sms", ws.config, dry_run=False)
    if value.strip():
        assert value.strip() not in str(caught.value)


def test_smtp_credentials_are_checked_too(tmp_path, monkeypatch):
    from console.channels import ChannelError, open_channel

    monkeypatch.setenv("WB_SAFETY_USER", "winback")
    monkeypatch.setenv("WB_SAFETY_PASSWORD", "pa55word-long\r")
    ws, _ = _smtp_workspace(tmp_path, 9, users=1, username_env="WB_SAFETY_USER", password_env="WB_SAFETY_PASSWORD")
    with pytest.raises(ChannelError, match="WB_SAFETY_PASSWORD ends with a carriage return") as caught:
        open_channel("email", ws.config, dry_run=False)
    assert "pa55word" not in str(caught.value)


def test_a_provider_echoing_the_token_in_its_refusal_leaves_no_secret_in_the_ledger(tmp_path, monkeypatch):
    from console.campaigns import control, model

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    with HttpGateway(None, refuse={_phone(1)}, answer_after_accept={_phone(2): 502}, echo_headers=True) as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, users=2)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        control.launch(db, ws.config, "c", real=True, max_wait=0)
    statuses = _statuses(db)
    assert statuses[1][0] == "failed" and statuses[2][0] == "unknown"
    assert "Bearer [secret]" in statuses[1][1] and "Bearer [secret]" in statuses[2][1]
    dump = "\n".join(db.conn.iterdump())
    assert TOKEN not in dump


def test_a_request_our_side_cannot_make_is_not_unknown_and_its_error_holds_no_secret(tmp_path, monkeypatch):
    """The HTTP library refuses a header value before a byte leaves: the message is certainly not sent (planned
    again, not an attempt), not `unknown` — and the library's error, which quotes the header, is scrubbed."""
    from console.channels import DEFERRED, Message, open_channel

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    with HttpGateway(None) as gw:
        ws, _ = _sms_workspace(tmp_path, gw.url, users=1)
        channel = open_channel("sms", ws.config, dry_run=False)
        # a header value httpx accepts here but its HTTP/1.1 layer refuses at send time (as a CR-bearing token did)
        channel.client.headers["Authorization"] = f"Bearer {TOKEN}\r"
        try:
            [result] = channel.send([Message(1, 1, _phone(1), "hi", "c", "<wb.1.1.1.x@winback.invalid>")])
        finally:
            channel.close()
    assert gw.state.requests == 0
    assert result.status == DEFERRED and result.unreachable and "request not sent" in result.error
    assert TOKEN not in result.error


def test_a_run_whose_requests_cannot_be_made_stops_at_once_with_nothing_attempted(tmp_path, monkeypatch):
    """Not "provider unreachable, trying again" five times: our side cannot make the request, so the run is paused
    at the first batch with the reason, every recipient still planned and nothing counted as an attempt."""
    from console.campaigns import model
    from console.campaigns.dispatch import dispatch
    from console.campaigns.freeze import freeze
    from console.channels import open_channel

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    notices: list[str] = []
    with HttpGateway(None) as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, users=4)
        campaign = model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        freeze(db, campaign, dry_run=False, config=ws.config)
        channel = open_channel("sms", ws.config, dry_run=False)
        channel.client.headers["Authorization"] = f"Bearer {TOKEN}\r"   # as a CR-bearing token would
        try:
            summary = dispatch(db, ws.config, "c", channel=channel, notice=notices.append)
        finally:
            channel.close()
    assert gw.state.requests == 0
    assert summary.outcome == "paused" and summary.stopped_by == "channel_error" and summary.sent == summary.unknown == 0
    paused = model.get(db, "c")
    assert paused.status == "paused" and "request not sent" in paused.pause_reason and TOKEN not in paused.pause_reason
    assert not any("trying again" in n for n in notices), notices
    assert {r[0] for r in db.execute("SELECT DISTINCT status FROM sends")} == {"planned"}
    assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] == 0


# -- 12.4: an unreadable reply ---------------------------------------------------------------------------------

def test_a_deeply_nested_huge_or_non_json_reply_is_unknown_never_a_crash(tmp_path, monkeypatch):
    from console.campaigns import control, model

    monkeypatch.setenv("WB_SAFETY_TOKEN", TOKEN)
    log = tmp_path / "requests.jsonl"
    raw = {
        _phone(2): b"[" * 100_000,
        _phone(3): b"<html>\x1b[31m502 Bad Gateway</html>",
        _phone(4): b'{"code": "OK", "data": {"message_id": ' + b"7" * 5000 + b"}}",
        _phone(5): b'{"code": "OK", "pad": "' + b"x" * 300_000 + b'"}',   # larger than max_reply_bytes
        _phone(6): b'{"code": ' + b"[" * 500 + b"]" * 500 + b"}",
    }
    with HttpGateway(log, raw_reply=raw) as gw:
        ws, db = _sms_workspace(tmp_path, gw.url, max_reply_bytes=200_000)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        summary = control.launch(db, ws.config, "c", real=True, max_wait=0)
    assert summary.outcome == "completed"
    assert set(_arrived(log).values()) == {1} and len(_arrived(log)) == 10
    statuses = _statuses(db)
    assert {u for u, (s, _) in statuses.items() if s == "unknown"} == {2, 3, 4, 5}
    assert "nested too deep" in statuses[2][1] and "\x1b" not in statuses[3][1]
    assert statuses[6][0] == "failed"          # the success rule read it: `code` is not "OK"
    assert all(statuses[u][0] == "sent" for u in (1, 7, 8, 9, 10))


# -- 8: two run-dues at once ------------------------------------------------------------------------------------

@pytest.fixture
def certificate(tmp_path):
    import shutil

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_the_loser_of_two_run_dues_started_together_skips_politely(tmp_path, monkeypatch, certificate):
    """Both run-dues list the recurring campaign as due; the database is held so that both get as far as logging
    in to the SMTP server before either can start the run. One runs it; the other says so and exits 0."""
    from console.campaigns import control, model

    monkeypatch.setenv("WB_SMTP_USER", "winback")
    monkeypatch.setenv("WB_SMTP_PASSWORD", "right-password")
    monkeypatch.setenv("WINBACK_NOW", "2026-11-02T10:00:00+08:00")
    with SmtpSink(starttls_cert=certificate, logins={"winback": "right-password"}) as smtp:
        cfg = write_config(tmp_path / "winback.toml", {"email": {
            "transport": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "starttls",
            "verify_tls": False, "username_env": "WB_SMTP_USER", "password_env": "WB_SMTP_PASSWORD",
            "from": "B <hello@brand.example>", "timeout": 10}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 3)
        add_template(db, ws.config, EMAIL_TEMPLATE)
        model.create(db, "weekly", segment="all", channel="email", template="miss-you-mail", holdout=0, every="7d",
                     reentry="30d")
        control.launch(db, ws.config, "weekly", real=True)
        assert model.get(db, "weekly").status == "scheduled"
        add_users(db, 2, start=4)                                   # newcomers for the next run
        db.close()
        logins = len(smtp.logged_in)
        env = {**os.environ, "WINBACK_NOW": "2026-11-10T10:00:00+08:00", "PYTHONPATH": str(ROOT)}
        holder = sqlite3.connect(ws.db_path, timeout=30)
        holder.execute("BEGIN IMMEDIATE")                          # nobody can start the run yet
        procs = [subprocess.Popen([WINBACK, "--db", str(ws.db_path), "--config",
                                   str(cfg), "campaign", "run-due"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
        try:
            deadline = time.monotonic() + 60
            while len(smtp.logged_in) < logins + 2:                 # both listed it as due and checked the channel
                assert time.monotonic() < deadline, "the run-dues never got to the channel check"
                assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
                time.sleep(0.02)
        finally:
            holder.rollback()
            holder.close()
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        codes = [p.returncode for p in procs]

    assert codes == [0, 0], outputs
    ran = [o for o in outputs if "weekly run 2" in o]
    # the loser is skipped whether the winner is still sending ("being run by …") or done ("run by … meanwhile")
    skipped = [o for o in outputs if "skipped" in o and "by another process" in o]
    assert len(ran) == 1 and len(skipped) == 1, outputs
    received = Counter(m["to"][0] for m in smtp.messages)
    assert received == Counter({f"user{i}@example.com": 1 for i in range(1, 6)})


def test_a_run_due_that_listed_a_campaign_another_one_has_run_since_skips_it(tmp_path, monkeypatch):
    """The race above when the winner finishes before the loser gets the lock: the loser listed the campaign as due,
    but its run is done and next_run_at moved on — the loser must not start another run (it started run 3)."""
    from console.campaigns import control, model
    from tests.campaign_support import SMS_TEMPLATE

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-02T10:00:00+08:00")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3, consent=("sms",))
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "weekly", segment="all", channel="sms", template="miss-you", holdout=0, every="7d",
                 reentry="30d")
    control.launch(db, ws.config, "weekly", real=True)
    monkeypatch.setenv("WINBACK_NOW", "2026-11-10T10:00:00+08:00")
    listed = control.due_campaigns(db)                      # what the loser read before the winner ran it
    assert [r["name"] for r in listed] == ["weekly"]
    assert [r["outcome"] for r in control.run_due(db, ws.config)] == ["completed"]
    monkeypatch.setattr(control, "due_campaigns", lambda db, now=None: listed)
    results = control.run_due(db, ws.config)
    assert [(r["outcome"], "by another process" in r.get("reason", "")) for r in results] == [("skipped", True)]
    assert db.execute("SELECT MAX(run) FROM campaign_runs").fetchone()[0] == 2
    db.close()


def test_the_fix_names_the_sms_platforms_of_the_workspace_region():
    """A mainland-China workspace is pointed to Aliyun/Tencent, not to a generic gateway it does not have."""
    from console.channels import dry_run_transport_refusal
    from console.config import Config

    assert 'transport = "aliyun" (or "tencent")' in dry_run_transport_refusal("sms", Config())
    assert 'transport = "twilio" (or "http")' in dry_run_transport_refusal("sms", Config(default_region="US"))
    assert 'transport = "smtp"' in dry_run_transport_refusal("email", Config())
    assert 'transport = "csv"' in dry_run_transport_refusal("call", Config())
