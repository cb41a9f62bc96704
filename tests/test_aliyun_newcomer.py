"""A newcomer's Aliyun SMS setup against the local server of tests/provider_servers.py (which checks the signature,
the sign name and the template the way Aliyun does).

A request Aliyun refuses for the account or a setting — the balance (isv.AMOUNT_NOT_ENOUGH), a sign_name or a
template code not approved (isv.SMS_SIGNATURE_ILLEGAL, isv.SMS_TEMPLATE_ILLEGAL) — would be refused for every
number: it sends nothing, every number goes back to `planned` (not `failed`, which is never resent), the run pauses
saying what to fix, and `resume` after the fix sends each once (as for Tencent and Twilio).
"""

from __future__ import annotations

from collections import Counter

import pytest

from console.campaigns import model
from tests import test_provider_aliyun as ali

NUMBERS = [f"1380000000{i}" for i in (1, 2, 3)]


def _break_balance(state) -> None:
    state.code_for.update({n: ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足") for n in NUMBERS})


def _break_sign(state) -> None:
    state.sign_name = "别的签名"   # the account's approved signature differs from winback.toml's


def _break_template(state) -> None:
    state.templates = {k: v for k, v in state.templates.items() if k != "SMS_100001"}   # (a copy: shared)


@pytest.mark.parametrize(("wrong", "said", "fix"), [
    (_break_balance, "the account balance is too low", "top up the Aliyun account"),
    (_break_sign, "the signature is not found under this account", "set [channels.sms] sign_name"),
    (_break_template, "the template code is not found under this account", "provider_template"),
])
def test_a_refusal_for_the_account_or_a_setting_pauses_the_run_and_resume_sends_each_once_after_the_fix(
        tmp_path, monkeypatch, wrong, said, fix):
    with ali._server() as srv:
        ws, db = ali._workspace(tmp_path, monkeypatch, srv.url, users=3)
        saved = (srv.state.templates, srv.state.sign_name)
        wrong(srv.state)
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        launched = ali._cli(ws, "campaign", "launch", "c", "--real", "--yes")
        assert launched.exit_code == 1, launched.output
        assert srv.state.taken == [] and len(srv.state.refused) == 1   # one request, then nothing more
        assert Counter(r[0] for r in db.execute("SELECT status FROM sends")) == {"planned": 3}
        assert db.execute("SELECT MAX(attempts) FROM sends").fetchone()[0] == 0
        paused = model.get(db, "c")
        reason = paused.pause_reason or ""
        assert paused.status == "paused" and reason.startswith(f"sms: Aliyun refused the request: {said}"), reason
        assert fix in reason and "then `winback campaign resume c`" in reason

        srv.state.code_for.clear()   # fixed: topped up, approved, written as approved
        srv.state.templates, srv.state.sign_name = saved
        resumed = ali._cli(ws, "campaign", "resume", "c")
        assert resumed.exit_code == 0, resumed.output
    assert Counter(t.phone for t in srv.state.taken) == {n: 1 for n in NUMBERS}
    assert Counter(r[0] for r in db.execute("SELECT status FROM sends")) == {"sent": 3}
    db.close()
