"""Review: a dispatcher's id is `host:pid:token` now (two dispatchers in one process are told apart); ids stored by
an earlier version are `host:pid`. Claims of a dispatcher that is gone are recovered whichever form its id has — a
dead process on this host, or a dispatcher of this very process that has left — and a live one's are left alone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

FAR = 4102444800   # a lease that has not lapsed: only the holder's death can free these rows


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_claims_of_gone_dispatchers_are_recovered_in_old_and_new_id_forms(tmp_path) -> None:
    from console.campaigns import holders, model
    from console.campaigns.freeze import freeze
    from console.campaigns.runs import active_dispatcher, recover_lost_claims
    from console.clock import now_ts

    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun"}})
    ws = load_workspace(cfg)
    db = ws.open()
    users = add_users(db, 6)
    add_template(db, ws.config, SMS_TEMPLATE)
    c = model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    freeze(db, c, dry_run=False)
    host, dead, live = socket.gethostname(), _dead_pid(), os.getppid()
    here = holders.new_holder()
    holders.hold(here)
    try:
        ids = {
            users[0]: f"{host}:{dead}",                 # an earlier version's id, its process gone: handed over
            users[1]: f"{host}:{dead}:d0a1b2c3",        # today's id, its process gone: handed over
            users[2]: f"{host}:{os.getpid()}:dfeed01",  # a dispatcher of this process that has left: not handed
            users[3]: f"{host}:{live}",                 # an earlier version's id, its process alive
            users[4]: f"{host}:{live}:d0c0ffee",        # today's id, its process alive
            users[5]: here,                             # a dispatcher of this process still sending
        }
        for user, holder in ids.items():
            db.execute("UPDATE sends SET status = 'claimed', claimed_by = ?, lease_until = ?, attempts = 1, "
                       "handed_at = CASE WHEN ? THEN 1 END WHERE user_id = ?",
                       [holder, FAR, user in (users[0], users[1]), user])
        assert recover_lost_claims(db, c.id) == 2
        states = dict(db.execute("SELECT user_id, status FROM sends").fetchall())
        assert [states[u] for u in users] == ["unknown", "unknown", "planned", "claimed", "claimed", "claimed"]

        for holder, alive in ((f"{host}:{dead}", False), (f"{host}:{dead}:d0a1b2c3", False),
                              (f"{host}:{os.getpid()}:dfeed01", False), (f"{host}:{live}", True),
                              (f"{host}:{live}:d0c0ffee", True), (here, True)):
            db.execute("UPDATE campaign_runs SET dispatcher = ?, heartbeat_at = ?", [holder, now_ts()])
            assert active_dispatcher(db, c.id) == (holder if alive else None), holder
    finally:
        holders.release(here)
