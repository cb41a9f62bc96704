"""The send-ledger crash test (tests/test_campaigns_crash.py's pattern) against a new transport: a real Tencent
send in a subprocess is killed with SIGKILL while a request is with the server, then resumed, then reconciled
against the server's query API — nobody receives two messages (the server's own log), the request in flight is
`unknown` until reconcile settles it, and every recipient ends in one recorded state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.campaign_support import add_template, add_users, load_workspace, wait_until, write_config
from tests.provider_servers import TencentServer

pytestmark = pytest.mark.slow

WINBACK = [str(Path(sys.executable).parent / "winback")]
ROOT = Path(__file__).resolve().parent.parent
HANG = 600.0   # only stops a hung test; nothing asserts how long anything takes
PER_USER = '''
name = "care-tc"
channel = "sms"
provider = "tencent"
provider_template = "3002"
approved_text = "尊敬的会员{1}，会员日活动周五开始。拒收请回复R"
[params]
1 = "user.name"
'''




def test_sigkill_mid_send_on_tencent_then_resume_and_reconcile_sends_nobody_twice(tmp_path):
    from console.campaigns import model, tallies

    env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_") or k == "WINBACK_NOW"}
    env.update({"WB_TC_ID": "AKID-test", "WB_TC_KEY": "tc-s3cret", "WINBACK_OPERATOR": "cron",
                "PYTHONPATH": str(ROOT)})
    stall = threading.Event()
    server = TencentServer(key_id="AKID-test", secret="tc-s3cret", sign_name="品牌", app_id="1400123456",
                           templates={"3002": "尊敬的会员{1}，会员日活动周五开始。拒收请回复R"},
                           stall=stall, stall_after=25)
    with server as srv:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "tencent", "secret_id_env": "WB_TC_ID", "secret_key_env": "WB_TC_KEY",
            "sdk_app_id": "1400123456", "sign_name": "品牌", "endpoint": srv.url, "price": 0.05, "batch": 10,
            "timeout": HANG, "reconcile_after": 0}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 60)
        add_template(db, ws.config, PER_USER)
        model.create(db, "c", segment="all", channel="sms", template="care-tc", holdout=0)
        proc = subprocess.Popen([*WINBACK, "--config", str(cfg), "campaign", "launch", "c", "--real", "--yes"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: proc.poll() is not None or len(srv.state.taken) > 25,
                       "the server to take more than 25 numbers (or the send to end)", hang=HANG)
            assert proc.poll() is None, proc.communicate()
            os.kill(proc.pid, signal.SIGKILL)   # one request (one number: per-user parameters) is with the server
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
            stall.set()
        srv.state.stall = None
        taken_at_kill = len(srv.state.taken)
        assert taken_at_kill < 60, "the send was killed mid-way"

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*WINBACK, "--config", str(cfg), "campaign", *args, "--json"], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=HANG)

        resumed = run("resume", "c")
        assert resumed.returncode == 1, resumed.stderr   # the unknown left by the kill: `reconcile` next, it says
        assert "`winback campaign reconcile c` settles the unknown" in " ".join(resumed.stderr.split())
        after_resume = Counter(r[0] for r in db.execute("SELECT status FROM sends"))
        assert after_resume["unknown"] >= 1, "the request in flight at the kill is unknown, not resent"
        reconciled = run("reconcile", "c")
        assert reconciled.returncode == 0, reconciled.stderr
        settled = json.loads(reconciled.stdout)

    per_number = Counter(t.phone for t in srv.state.taken)
    assert len(per_number) == 60 and max(per_number.values()) == 1, "somebody received two messages"
    assert settled["asked"] == after_resume["unknown"] and settled["delivered"] == after_resume["unknown"]
    rows = list(db.query("SELECT address, status, provider_id FROM sends"))
    assert Counter(r["status"] for r in rows) == {"sent": 60 - after_resume["unknown"],
                                                  "delivered": after_resume["unknown"]}
    assert {r["provider_id"] for r in rows} == {t.provider_id for t in srv.state.taken}   # each SerialNo once
    tally = tallies.tally(db, "c")
    assert tally["recipients"] == 60 and tally.get("unknown", 0) == 0
