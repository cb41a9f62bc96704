"""Review: two dispatchers of one campaign in one process (the console sends from thread workers) must not both send.

The dispatcher's id was `host:pid`: two in one process had the same id, and `active_dispatcher` ignored its own
process, so a second one (a resume from the console while a worker sends) was not refused. Once the first one's
lease had lapsed (a slow provider), the second took back the rows the first still had in hand — and, holding the
same id, the first's "still ours?" check passed too: both sent them. Now each dispatcher has its own id and a
second one of the same run is refused in this process as in another. Proven from the gateway's own log;
conditions are waited for, never time.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from tests.campaign_support import (
    SMS_TEMPLATE,
    add_template,
    add_users,
    load_workspace,
    wait_until,
    write_config,
)
from tests.servers import HttpGateway

HANG = 300.0   # only stops a hung test; nothing asserts how long anything takes




def test_a_second_dispatcher_in_the_same_process_is_refused_and_nobody_gets_two_messages(tmp_path: Path,
                                                                                          monkeypatch) -> None:
    from console.campaigns import control, model
    from console.campaigns.dispatch import dispatch
    from console.errors import BadInput

    monkeypatch.setenv("WB_ID_TOKEN", "t")
    log = tmp_path / "gateway.jsonl"
    with HttpGateway(log, hold_after=1) as gw:   # the 2nd message stays on the wire until released
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_ID_TOKEN", "price": 0.04, "concurrency": 1,
            "batch": 5, "timeout": HANG}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 5)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        outcome: dict = {}

        def first() -> None:   # the console's launch worker
            conn = ws.open()
            try:
                outcome["first"] = control.launch(conn, ws.config, "c", real=True)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["first"] = exc
            finally:
                conn.close()

        def second() -> None:   # the operator resumes it from the console meanwhile; a bare dispatcher too
            conn = ws.open()
            try:
                for name, attempt in (("resume", lambda: control.resume(conn, ws.config, "c")),
                                      ("dispatch", lambda: dispatch(conn, ws.config, "c"))):
                    try:
                        outcome[name] = attempt()
                    except BadInput as exc:
                        outcome[name] = exc
            finally:
                conn.close()

        sender = threading.Thread(target=first)
        sender.start()
        other = threading.Thread(target=second)
        try:
            wait_until(lambda: len(gw.state.accepted) >= 2 or not sender.is_alive(), "the 2nd message on the wire")
            lease = db.execute("SELECT MAX(lease_until) FROM sends WHERE status = 'claimed'").fetchone()[0]
            # the provider is slow: the first dispatcher's lease lapses while its batch is out
            monkeypatch.setenv("WINBACK_NOW", datetime.fromtimestamp(lease + 1, UTC).isoformat())
            other.start()
            wait_until(lambda: not other.is_alive() or len(gw.state.accepted) >= 3, "the second dispatcher")
        finally:
            gw.state.release.set()
            sender.join(HANG)
            if other.is_alive() or other.ident is not None:
                other.join(HANG)

    assert not isinstance(outcome["first"], BaseException), outcome["first"]
    for name in ("resume", "dispatch"):
        assert isinstance(outcome[name], BadInput), f"a second dispatcher ({name}) in the same process ran"
        assert "being sent right now" in str(outcome[name])
    numbers = [json.loads(line)["to"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(numbers) == 5 and len(set(numbers)) == 5, f"someone got two messages: {sorted(numbers)}"
    assert db.execute("SELECT status, COUNT(*) FROM sends GROUP BY status").fetchall() == [("sent", 5)]


def test_a_dispatcher_of_this_process_that_left_is_not_in_the_way(tmp_path: Path, monkeypatch) -> None:
    """Guard: one send after another in the same process (launch, pause, resume) is not refused."""
    from console.campaigns import control, model

    monkeypatch.setenv("WB_ID_TOKEN", "t")
    with HttpGateway(tmp_path / "gateway.jsonl") as gw:
        cfg = write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "http", "url": gw.url, "token_env": "WB_ID_TOKEN", "price": 0.04, "batch": 2}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 4)
        add_template(db, ws.config, SMS_TEMPLATE)
        model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
        stops = iter([False, True])
        first = control.launch(db, ws.config, "c", real=True, should_stop=lambda: next(stops, True))
        assert first.outcome == "interrupted" and first.sent == 2
        assert control.resume(db, ws.config, "c").outcome == "completed"
    assert len(gw.state.accepted) == 4
    assert db.execute("SELECT dispatcher FROM campaign_runs").fetchone()[0] is None
