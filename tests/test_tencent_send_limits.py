"""Tencent's LimitExceeded.*DailyLimit: the daily send limit set in the SMS console (应用管理 → 基础配置, or the
frequency policy) is reached — Tencent's SendSms error codes say "exceeds the set upper limit; adjust it in the
console". Every number would get it until the limit is raised or the day turns: a refusal for a setting, as the
package used up is — nothing sent, the numbers back to `planned` (stop_run: the run pauses naming the limit).

Before, AppDailyLimit and DailyLimit were read as throttling (retried, then deferred with an attempt counted at each
resume, and after MAX_ATTEMPTS failed 'throttled' — never sent), and AppMainlandChinaDailyLimit, AppGlobalDailyLimit,
AppCountryOrRegionDailyLimit failed every number of the request at once (failed recipients are never resent).
"""

from __future__ import annotations

import pytest

from console.channels.base import DEFERRED
from tests import test_provider_tencent as tc
from tests.provider_servers import _tencent_error, _TencentHandler


@pytest.mark.parametrize("code", ["LimitExceeded.AppDailyLimit", "LimitExceeded.DailyLimit",
                                  "LimitExceeded.AppMainlandChinaDailyLimit", "LimitExceeded.AppGlobalDailyLimit",
                                  "LimitExceeded.AppCountryOrRegionDailyLimit"])
def test_a_daily_send_limit_set_in_the_console_sends_nothing_and_stops_the_run(tmp_path, monkeypatch, code):
    asked: list[bytes] = []

    def handle(self, body):
        asked.append(body)
        return _tencent_error(code, "业务短信日下发条数超过设定的上限")

    monkeypatch.setattr(_TencentHandler, "_handle", handle)
    with tc._server() as srv:
        ws, _db = tc._workspace(tmp_path, monkeypatch, srv.url, users=1)
        result = tc._send_one(ws)
    assert result.status == DEFERRED and result.unreachable and result.stop_run, result   # planned, run paused
    assert "daily send limit" in (result.error or "") and code in (result.error or ""), result.error
    assert len(asked) == 1   # not retried
