"""Issue 19.1: an opt-out is never lost while another process holds the write lock (an import, say).

The long writer is a separate process that takes the database's write lock (BEGIN IMMEDIATE, plus a row) and keeps
it until the test says so. That is exactly what `import events` does to every other writer — for 20-140 s on 2M
rows — but it holds for as long as the test needs, on any machine, with no clock involved: the test releases it
only after every opt-out has been answered. A real import would make the suite slow and the lock's length depend on
the machine's speed.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest
import uvicorn

from console.campaigns import control, model
from console.inbound import unsubscribe_token
from console.inbound.server import BackgroundServer, ThreadedServer
from console.workspace import Workspace
from storage.db import open_database
from tests.fake_gateway import Gateway, sms_config
from tests.outcomes_ledger import add_users

SECRET = "s3cret"
TEMPLATE = """
name = "hello"
channel = "sms"
body = "{{ user.name }}，好久不见！"
"""

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO settings (key, value) VALUES ('long-writer', 'x')")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
print("released", flush=True)
"""


class LongWriter:
    """Another process holding the write lock until release()."""

    def __init__(self, db_path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db_path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "released"
            self.proc.wait(timeout=30)


@pytest.fixture
def setup(tmp_path, monkeypatch, cli):
    gateway = Gateway()
    with ThreadedServer(uvicorn.Config(gateway.app, host="127.0.0.1", port=0, log_level="warning")) as gw_url:
        config = sms_config(gw_url, extra='unknown_consent = "allow"\n\n[inbound]\nsecret_env = "WINBACK_TEST_SECRET"')
        (tmp_path / "winback.toml").write_text(config, encoding="utf-8")
        monkeypatch.setenv("WINBACK_TEST_SECRET", SECRET)
        ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
        db = ws.open()
        add_users(db, 20)
        (tmp_path / "hello.toml").write_text(TEMPLATE, encoding="utf-8")
        result = cli("--config", str(tmp_path / "winback.toml"), "templates", "add", str(tmp_path / "hello.toml"))
        assert result.exit_code == 0, result.output
        model.create(db, "spring", segment="all", channel="sms", template="hello", holdout=0)
        cid = db.execute("SELECT id FROM campaigns WHERE name = 'spring'").fetchone()[0]
        with BackgroundServer(ws) as inbound_url:
            yield ws, db, gateway, inbound_url, cid
        db.close()


def test_opt_outs_during_a_long_write_are_answered_kept_and_honoured(setup, cli):
    ws, db, gateway, inbound, cid = setup
    phone = {uid: number for uid, number in db.execute("SELECT id, phone FROM users")}
    token = unsubscribe_token(db, 4, "sms", cid)
    writer = LongWriter(ws.db_path)
    launched: dict = {}
    try:
        stop = httpx.post(f"{inbound}/replies/sms", json=[{"from": phone[3], "text": "STOP"}],
                          headers={"X-Winback-Secret": SECRET}, timeout=60)
        assert stop.status_code == 200, stop.text
        assert stop.json()["opt_outs"] == 1
        click = httpx.post(f"{inbound}/u/{token}", data={"List-Unsubscribe": "One-Click"}, timeout=60)
        assert click.status_code == 200, click.text
        added = cli("--config", str(ws.db_path.parent / "winback.toml"), "suppress", "add", phone[5], "--channel", "sms",
                    "--reason", "opt_out")
        assert added.exit_code == 0, added.output
        assert "journal" in added.output

        # Already blocked for the per-message re-check, though nothing reached the main database yet.
        from console.policy.blocked import blocked_user_ids

        assert blocked_user_ids(db, ws.config, "sms", [(u, phone[u]) for u in (2, 3, 4, 5)]) == {3, 4, 5}

        # A real launch started while the lock is held waits for it instead of crashing.
        def launch() -> None:
            own = open_database(ws.db_path)
            try:
                launched["summary"] = control.launch(own, ws.config, "spring", real=True)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                launched["error"] = exc
            finally:
                own.close()

        sender = threading.Thread(target=launch)
        sender.start()
    finally:
        writer.release()
    sender.join(timeout=120)
    assert not sender.is_alive()
    assert "error" not in launched, launched.get("error")
    messaged = gateway.numbers()
    assert {phone[3], phone[4], phone[5]}.isdisjoint(messaged)
    assert sorted(messaged) == sorted(phone[u] for u in phone if u not in (3, 4, 5))
    # Folded into the suppression list and the consent history before the claim.
    rows = db.execute("SELECT address, user_id, reason FROM suppressions WHERE removed_at IS NULL").fetchall()
    assert (phone[3], None, "opt_out") in rows and (phone[5], None, "opt_out") in rows
    assert (None, 4, "opt_out") in rows
    assert db.execute("SELECT COUNT(*) FROM receipts WHERE kind = 'opt_out'").fetchone()[0] == 1
    assert db.execute("SELECT status FROM campaigns WHERE id = ?", [cid]).fetchone()[0] != "running"


def test_a_writer_that_finally_gives_up_says_so_without_a_traceback(workspace, cli, monkeypatch):
    db = workspace.open()
    db.execute("INSERT INTO users (external_id, phone, created_at, updated_at) VALUES ('u1', '+8613800000001', 0, 0)")
    db.close()
    import storage.db

    monkeypatch.setenv("WINBACK_WRITE_WAIT", "0")   # give up after SQLite's own busy timeout,
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 200)   # here 0.2 s, not 10 s: the CLI runs in-process
    writer = LongWriter(workspace.db_path)
    try:
        result = cli("consent", "withdraw", "u1", "--channel", "sms")
    finally:
        writer.release()
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "is busy" in said and "Nothing was changed" in said, said
    assert "Traceback" not in result.output
    assert cli("consent", "withdraw", "u1", "--channel", "sms").exit_code == 0
