"""Review: a batch that stays with a slow provider past its lease and the heartbeat window must not look abandoned.

The heartbeat was refreshed only when a batch was claimed, and the lease never: a batch that outlasted both (rate
limits, a provider that takes its time) let `resume` or run-due in another process start a second dispatcher and
take the rows the first still held. The hand-off writer now extends the batch's leases and the run's heartbeat
while the batch is out (a few times per lease, not per message). The clock is moved with WINBACK_NOW (the lease's and
heartbeat's clock), never waited for; the other process is a real `winback campaign resume`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.campaign_support import (
    SMS_TEMPLATE,
    add_template,
    add_users,
    launch_in_background,
    load_workspace,
    wait_until,
    write_config,
)
from tests.servers import HttpGateway

HANG = 300.0   # only stops a hung test; nothing asserts how long anything takes
WINBACK = [str(Path(sys.executable).parent / "winback")]
ROOT = Path(__file__).resolve().parent.parent
LEASE = 60




def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def test_a_batch_held_by_a_slow_provider_keeps_its_rows_and_its_run(tmp_path: Path, monkeypatch) -> None:
    from console.campaigns import handoff, model
    from console.campaigns.runs import HEARTBEAT_STALE
    from console.clock import now_ts

    monkeypatch.setattr(handoff, "RENEW_POLL", 0.02, raising=False)   # the writer looks at the clock often (it is moved below)
    monkeypatch.setenv("WB_ID_TOKEN", "t")
    log = tmp_path / "gateway.jsonl"
    with HttpGateway(log, hold_after=1) as gw:   # the 2nd message stays on the wire until released
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_ID_TOKEN", "price": 0.04, "concurrency": 1,
            "batch": 5, "timeout": HANG, "lease_seconds": LEASE}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 5)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        sender, outcome = launch_in_background(ws, "c")
        try:
            wait_until(lambda: len(gw.state.accepted) >= 2 or not sender.is_alive(), "the 2nd message on the wire")
            holder = db.execute("SELECT dispatcher FROM campaign_runs").fetchone()[0]
            # the provider keeps the batch past its lease and the heartbeat window
            later = now_ts() + LEASE + HEARTBEAT_STALE + 1
            monkeypatch.setenv("WINBACK_NOW", _iso(later))
            wait_until(lambda: db.execute(
                "SELECT MIN(lease_until) >= ? FROM sends WHERE status = 'claimed'", [later]).fetchone()[0] == 1
                and db.execute("SELECT heartbeat_at FROM campaign_runs").fetchone()[0] >= later,
                "the batch's leases and heartbeat renewed")
            env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_")}
            env.update({"WB_ID_TOKEN": "t", "WINBACK_NOW": _iso(later + LEASE // 2), "PYTHONPATH": str(ROOT)})
            resumed = subprocess.run([*WINBACK, "--config", str(cfg), "campaign", "resume", "c"], cwd=tmp_path,
                                     env=env, capture_output=True, text=True, timeout=HANG)
            rows = db.execute("SELECT status, claimed_by, COUNT(*) FROM sends GROUP BY 1, 2 ORDER BY 1").fetchall()
        finally:
            gw.state.release.set()
            sender.join(HANG)

    assert "error" not in outcome, outcome.get("error")
    assert resumed.returncode == 2 and "being sent right now" in resumed.stderr, (resumed.returncode, resumed.stderr)
    assert rows == [("claimed", holder, 4), ("sent", holder, 1)], "another process took rows still in hand"
    numbers = [json.loads(line)["to"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(numbers) == 5 and len(set(numbers)) == 5, f"someone got two messages: {sorted(numbers)}"
    assert outcome["summary"].sent == 5
