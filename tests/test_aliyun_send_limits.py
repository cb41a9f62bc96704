"""Aliyun's isv.DAY_LIMIT_CONTROL / isv.MONTH_LIMIT_CONTROL: the daily or monthly send limit the operator set in the
SMS console (国内消息设置 → 发送量限额) is reached. Every number would get it until the limit is raised or the day
(month) turns, so it is a refusal for a setting, as isv.AMOUNT_NOT_ENOUGH: nothing sent, every number back to
`planned` with no attempt counted, the run paused naming the limit.

Before, it was read as throttling: retried within the batch, then `deferred` with an attempt counted, again at every
resume — after MAX_ATTEMPTS the numbers were recorded failed ('throttled') and never sent: the audience burnt for a
console setting. Against the local Aliyun server of tests/provider_servers.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from console.campaigns import model
from tests import test_provider_aliyun as ali

NUMBERS = [f"1380000000{i}" for i in (1, 2, 3)]


@pytest.mark.parametrize(("code", "said"), [("isv.DAY_LIMIT_CONTROL", "daily"),
                                            ("isv.MONTH_LIMIT_CONTROL", "monthly")])
def test_a_send_limit_set_in_the_console_pauses_the_run_with_every_number_planned(tmp_path, monkeypatch, code, said):
    with ali._server() as srv:
        ws, db = ali._workspace(tmp_path, monkeypatch, srv.url, users=3)
        srv.state.code_for.update({n: (code, "触发日发送限额") for n in NUMBERS})
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        launched = ali._cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 1, launched.output
        assert srv.state.taken == [] and len(srv.state.refused) == 1   # one request, not retried
        assert Counter(r[0] for r in db.execute("SELECT status FROM sends")) == {"planned": 3}
        assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] == 0
        paused = model.get(db, "c")
        assert paused.status == "paused" and f"the {said} send limit" in (paused.pause_reason or ""), paused

        srv.state.code_for.clear()   # the limit raised in the console
        resumed = ali._cli(ws, "campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
    assert Counter(t.phone for t in srv.state.taken) == {n: 1 for n in NUMBERS}
    db.close()
