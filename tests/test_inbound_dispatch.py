"""An opt-out reply mid-campaign stops every later send to that user — with the real dispatcher, a fake SMS
gateway and the inbound server, all over HTTP on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest
import uvicorn

from console.campaigns import control, model
from console.inbound.server import BackgroundServer, ThreadedServer
from console.workspace import Workspace
from tests.fake_gateway import Gateway, sms_config
from tests.outcomes_ledger import add_users

SECRET = "s3cret"

TEMPLATE = """
name = "hello"
channel = "sms"
body = "{{ user.name }}，好久不见！"
"""


@pytest.fixture
def setup(tmp_path, monkeypatch, cli):
    gateway = Gateway()
    with ThreadedServer(uvicorn.Config(gateway.app, host="127.0.0.1", port=0, log_level="warning")) as gw_url:
        config = sms_config(gw_url, extra='unknown_consent = "allow"\n\n[inbound]\nsecret_env = "WINBACK_TEST_SECRET"')
        (tmp_path / "winback.toml").write_text(config, encoding="utf-8")
        monkeypatch.setenv("WINBACK_TEST_SECRET", SECRET)
        ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
        db = ws.open()
        add_users(db, 40)
        (tmp_path / "hello.toml").write_text(TEMPLATE, encoding="utf-8")
        result = cli("--config", str(tmp_path / "winback.toml"), "templates", "add", str(tmp_path / "hello.toml"))
        assert result.exit_code == 0, result.output
        model.create(db, "spring", segment="all", channel="sms", template="hello", holdout=10)
        model.create(db, "autumn", segment="all", channel="sms", template="hello", holdout=0)
        with BackgroundServer(ws) as inbound_url:
            yield ws, db, gateway, inbound_url
        db.close()


def test_opt_out_reply_mid_campaign_stops_every_later_send(setup):
    ws, db, gateway, inbound = setup
    calls = []

    def after_first_batch() -> bool:
        calls.append(1)
        return len(calls) > 1

    summary = control.launch(db, ws.config, "spring", real=True, batch_size=5, should_stop=after_first_batch)
    assert summary.sent == 5 and summary.outcome == "interrupted"
    first_sent = gateway.numbers()
    planned = [r[0] for r in db.execute(
        "SELECT address FROM sends WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'spring') "
        "AND status = 'planned' ORDER BY id DESC LIMIT 1")]
    # One recipient already messaged and one still waiting reply STOP / 退订.
    stoppers = [first_sent[0], planned[0]]
    response = httpx.post(f"{inbound}/replies/sms", json=[
        {"from": stoppers[0], "text": "STOP"}, {"from": stoppers[1], "text": "退订"}],
        headers={"X-Winback-Secret": SECRET})
    assert response.status_code == 200 and response.json()["opt_outs"] == 2

    control.resume(db, ws.config, "spring")
    control.launch(db, ws.config, "autumn", real=True)

    messaged = gateway.numbers()
    assert messaged.count(stoppers[0]) == 1          # the message before the reply, and nothing after
    assert stoppers[1] not in messaged
    skipped = db.execute(
        "SELECT c.name, s.reason FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
        "WHERE s.address IN (?, ?) AND s.status = 'skipped' ORDER BY c.name, s.address", stoppers).fetchall()
    # The opt-out withdrew the consent and suppressed the number: the policy names the first rule that stops it.
    assert [name for name, _ in skipped] == ["autumn", "autumn", "spring"]
    assert {reason for _, reason in skipped} <= {"no_consent", "suppressed"}
    # Everyone else in the treated arm of spring was messaged once.
    treated = db.execute("SELECT COUNT(*) FROM sends WHERE campaign_id = (SELECT id FROM campaigns WHERE "
                         "name = 'spring') AND arm != 'holdout'").fetchone()[0]
    assert len([n for n in messaged if n]) == (treated - 1) + (40 - 2)
