"""Issue 19's must-show, end to end: opt-outs and a running real send while a large import holds the write lock.

Every part is a real process or a real server on 127.0.0.1:
- `winback import events` of a generated file, held at its swap point (the test-only hook WINBACK_TEST_PAUSE_AT=swap,
  console/importing/staging.pause_point): it is then inside its one write transaction, rows copied, not committed —
  it holds the main database's write lock, exactly as a 2M-row import does for the length of its swap (and as the
  old unstaged import did for the whole file). The test checks that with BEGIN IMMEDIATE failing at once;
- `winback serve` takes a STOP reply for user A and a one-click unsubscribe for user B;
- `winback suppress add` stops user C;
- `winback campaign launch --real` was started before the lock was taken, against tests/servers.HttpGateway holding
  its second reply, so the send is in the middle of a claimed batch (A, B and C in it, not yet handed over) when
  the opt-outs arrive, and meets the held lock as soon as the gateway answers.
Then the import is let go: it completes with its full counts, the send finishes, and the gateway's own log shows
A, B and C got nothing and everyone else exactly once.

Nothing is timed: every wait is for a condition; the deadline only stops a hung test.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from console.campaigns import model
from console.inbound import unsubscribe_token
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.servers import HttpGateway, free_port

pytestmark = pytest.mark.slow

WINBACK = Path(sys.executable).parent / "winback"
HANG = 300.0   # only against a hang; nothing asserts how long anything takes
SECRET = "s3cret-during-import"
USERS = 20
# 300,000 events (~18 MB): past events.BULK_MIN_ROWS (200k: staged rows are sorted before the swap) and
# pipeline.PIPELINE_MIN_BYTES (16 MiB: the file is checked in a child process), so the import takes the very code
# path of a 2M-row file; only the length differs, and the lock under test is held by the pause, not by the size.
# Its phases take seconds here, where 2M rows would add a minute or more to the suite.
EVENTS = 300_000


def wait_for(condition: Callable[[], bool], what: str, *procs: subprocess.Popen) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"{proc.args[3:]} ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def write_lock_free(db_path: Path) -> bool:
    probe = sqlite3.connect(db_path, timeout=0.05, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return False
    finally:
        probe.close()


def events_file(path: Path, n: int) -> Path:
    """n distinct events over the workspace's users (u1..uUSERS), written in chunks."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("user_id,kind,at,amount\n")
        for start in range(0, n, 50_000):
            fh.write("".join(
                f"u{1 + i % USERS},{'order' if i % 5 == 0 else 'visit'},"
                f"2026-10-{1 + i // 86_400 % 28:02d} {i % 86_400 // 3600:02d}:{i % 3600 // 60:02d}:{i % 60:02d},"
                f"{'' if i % 5 else f'{i % 997}.5'}\n"
                for i in range(start, min(n, start + 50_000))))
    return path


class Processes:
    """The winback processes of one test, each with its stdout and stderr in files (no pipe to fill up)."""

    def __init__(self, ws_dir: Path, env: dict[str, str]) -> None:
        self.ws_dir, self.env = ws_dir, env
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        out = self.ws_dir / name
        with Path(f"{out}.stdout").open("wb") as stdout, Path(f"{out}.stderr").open("wb") as stderr:
            proc = subprocess.Popen(
                [str(WINBACK), "--config", str(self.ws_dir / "winback.toml"), "--db", str(self.ws_dir / "winback.db"),
                 *args], cwd=self.ws_dir, env={**self.env, **(env or {})}, stdout=stdout, stderr=stderr)
        self.started.append((proc, out))
        return proc

    def finish(self, proc: subprocess.Popen) -> tuple[str, str]:
        """Wait for *proc* to end; its stdout and stderr, which must show neither a traceback, nor SQLite's lock
        error, nor a writer giving up (the import's own "database locked 3.5s" and suppress add's "recorded in the
        opt-out journal (the database is busy)" are what they should say)."""
        proc.wait(HANG)
        out = next(out for p, out in self.started if p is proc)
        stdout, stderr = (Path(f"{out}.{kind}").read_text(encoding="utf-8") for kind in ("stdout", "stderr"))
        for text in (stdout, stderr):
            assert "Traceback" not in text and "database is locked" not in text, stdout + stderr
            assert "Nothing was changed" not in text, stdout + stderr
        return stdout, stderr

    def stop_all(self) -> None:
        for proc, _out in self.started:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture
def ws_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("WINBACK_DB", "WINBACK_CONFIG", "WINBACK_TEST_PAUSE_AT", "WINBACK_TEST_PAUSE_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    return tmp_path


def test_opt_outs_and_a_real_send_go_through_while_a_large_import_holds_the_write_lock(ws_dir, tmp_path):
    big = events_file(tmp_path / "events.csv", EVENTS)
    env = {**os.environ, "WB_IMPORT_SMS_TOKEN": "t", "WB_IMPORT_INBOUND_SECRET": SECRET}
    procs = Processes(ws_dir, env)
    # The gateway answers the first message and holds the second unanswered (taken and logged) until released:
    # with one worker and one batch of everyone, the other 18 stay claimed, not yet handed over, meanwhile.
    with HttpGateway(tmp_path / "gateway.jsonl", hold_after=1, hold_timeout=HANG) as gw:
        config = write_config(ws_dir / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_IMPORT_SMS_TOKEN", "price": 0.04,
            "concurrency": 1, "batch": USERS, "timeout": HANG}})
        port = free_port()
        config.write_text(config.read_text(encoding="utf-8")
                          + f'\n[inbound]\nsecret_env = "WB_IMPORT_INBOUND_SECRET"\nport = {port}\n', encoding="utf-8")
        ws = load_workspace(config)
        db = ws.open()
        try:
            add_users(db, USERS)
            add_template(db, ws.config, SMS_TEMPLATE)
            model.create(db, "spring", segment="all", channel="sms", template="miss-you", holdout=0)
            cid = db.execute("SELECT id FROM campaigns WHERE name = 'spring'").fetchone()[0]
            phone = dict(db.execute("SELECT id, phone FROM users"))
        finally:
            db.close()
        inbound = f"http://127.0.0.1:{port}"
        answered: list[bool] = []
        holding = gw.state.hold

        def hold() -> None:   # the handler calls it before it writes its reply
            holding()
            answered.append(True)

        gw.state.hold = hold  # type: ignore[method-assign]  # count the replies let go
        marker = tmp_path / "import-paused"
        try:
            serve = procs.start("serve", "serve", "--port", str(port))

            def serving() -> bool:
                try:
                    return httpx.get(f"{inbound}/health", timeout=5).status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(serving, "serve answering /health", serve)

            # 1. The real send, started before any lock: mid-batch once the gateway holds its second reply.
            send = procs.start("send", "campaign", "launch", "spring", "--real", "--yes")
            wait_for(lambda: len(gw.state.accepted) >= 2, "the gateway holding the second message", send)
            with sqlite3.connect(f"file:{ws.db_path}?mode=ro", uri=True) as ro:
                claimed = [uid for (uid,) in ro.execute("SELECT user_id FROM sends WHERE status = 'claimed' "
                                                        "ORDER BY id")]
            arrived = {m["to"] for m in gw.state.accepted}
            waiting = [uid for uid in claimed if phone[uid] not in arrived]
            assert len(waiting) == USERS - 2, "one batch of everyone, two handed over"
            a, b, c = waiting[-3:]   # the last of the batch: certainly not handed over before the opt-outs

            # 2. The import, held inside its swap transaction: the main database's write lock is taken.
            importer = procs.start("import", "import", "events", str(big), "--json",
                                   env={"WINBACK_TEST_PAUSE_AT": "swap", "WINBACK_TEST_PAUSE_FILE": str(marker)})
            wait_for(marker.exists, "the import holding its swap", importer)
            assert not write_lock_free(ws.db_path), "the import holds the write lock"

            # 3. The opt-outs, each answered while the lock is held.
            raw = json.dumps([{"from": phone[a], "text": "STOP"}]).encode()
            stop = httpx.post(f"{inbound}/replies/sms", content=raw, timeout=HANG,
                              headers={"X-Winback-Secret": SECRET, "Content-Type": "application/json"})
            assert stop.status_code == 200, stop.text
            assert stop.json()["opt_outs"] == 1 and stop.json()["pending"] is True, stop.json()
            db = ws.open()
            try:
                token = unsubscribe_token(db, b, "sms", cid)   # reads only (the workspace secret is a file)
            finally:
                db.close()
            click = httpx.post(f"{inbound}/u/{token}", data={"List-Unsubscribe": "One-Click"}, timeout=HANG)
            assert click.status_code == 200, click.text
            added = procs.start("suppress", "suppress", "add", phone[c], "--channel", "sms", "--reason", "opt_out")
            said = " ".join(procs.finish(added))
            assert added.returncode == 0 and "journal" in said, said
            assert not write_lock_free(ws.db_path), "still held: every opt-out above was answered under the lock"
            assert send.poll() is None and importer.poll() is None

            # 4. The gateway answers the second message: the send goes on and meets the held lock — recording that
            # answer and marking the next message handed over are writes — and must wait, not crash …
            gw.state.release.set()
            wait_for(lambda: len(answered) >= 2, "the gateway answering the second message", send)
            assert not write_lock_free(ws.db_path)
            assert send.poll() is None and len(gw.state.accepted) == 2, "nothing more leaves while the lock is held"
            # … and the import is let go.
            Path(f"{marker}.go").touch()
            imported, import_err = procs.finish(importer)
            assert importer.returncode == 0, import_err
            sent = procs.finish(send)
            assert send.returncode == 0, sent
            assert serve.poll() is None, "serve still running"
        finally:
            gw.state.release.set()
            if marker.exists():
                Path(f"{marker}.go").touch()
            procs.stop_all()
        procs.finish(serve)

    result = json.loads(imported)
    assert (result["rows"], result["valid"], result["inserted"]) == (EVENTS, EVENTS, EVENTS), result
    with sqlite3.connect(f"file:{ws.db_path}?mode=ro", uri=True) as ro:
        assert ro.execute("SELECT count(*) FROM events").fetchone()[0] == EVENTS
        states = dict(ro.execute("SELECT user_id, status || '/' || COALESCE(reason, '') FROM sends"))
        campaign = ro.execute("SELECT status FROM campaigns WHERE id = ?", [cid]).fetchone()[0]
    # The gateway's own log: A, B and C received nothing (they were still waiting in the batch when their opt-out
    # was acknowledged), everyone else exactly once.
    logged = Counter(json.loads(line)["to"] for line in (tmp_path / "gateway.jsonl").read_text().splitlines())
    assert not {phone[a], phone[b], phone[c]} & set(logged), logged
    assert logged == Counter({phone[u]: 1 for u in phone if u not in (a, b, c)}), logged
    assert {states[u] for u in (a, b, c)} <= {"skipped/suppressed", "skipped/no_consent"}, states
    assert campaign == "completed"
