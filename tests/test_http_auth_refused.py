"""The generic HTTP channel answered 401 (the gateway did not accept `token_env`'s token: wrong, expired, revoked):
the request was refused before anything was sent, and every recipient would get the same answer. As for Twilio's
401 and Aliyun's or Tencent's refused keys: nothing recorded failed — the recipients back to `planned` (not an
attempt), the run paused naming the setting, and `resume` after the fix sends each once.

Before, each recipient was recorded `failed` (never resent) until the brakes paused the campaign: a wrong token
burnt the first part of the audience.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from console.campaigns import control, model
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway


def test_a_token_the_gateway_refuses_pauses_the_run_with_everyone_planned(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("WB_HTTP_TOKEN", "expired")
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T10:00:00+08:00")
    with HttpGateway(tmp_path / "gateway.jsonl") as gw:
        decide = gw.state.decide
        asked: list[str] = []

        def unauthorised(body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
            if (headers or {}).get("Authorization") != "Bearer fresh":
                asked.append(str(body.get("to")))
                return 401, {"code": "UNAUTHORIZED", "message": "invalid token"}
            return decide(body, headers)

        gw.state.decide = unauthorised
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_HTTP_TOKEN", "price": 0.04, "concurrency": 1,
            "body": '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}',
            "success_field": "code", "success_value": "OK", "provider_id_field": "data.message_id"}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 3)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        control.launch(db, ws.config, "c", real=True, max_wait=0)
        assert Counter(r[0] for r in db.execute("SELECT status FROM sends")) == {"planned": 3}
        assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] == 0
        paused = model.get(db, "c")
        assert paused.status == "paused" and "token_env" in (paused.pause_reason or ""), paused.pause_reason
        assert len(asked) == 1   # nothing more asked once refused

        monkeypatch.setenv("WB_HTTP_TOKEN", "fresh")   # fixed
        control.resume(db, ws.config, "c", max_wait=0)
    assert sorted(b["to"] for b in gw.state.accepted) == sorted(r[0] for r in db.execute("SELECT phone FROM users"))
    assert Counter(r[0] for r in db.execute("SELECT status FROM sends")) == {"sent": 3}
    db.close()
