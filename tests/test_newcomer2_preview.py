"""`winback preview` of a call or gift list template says what the list gets — a row of N fields (and a call's
script) — as the console's Messages preview does; it said '0 characters · cost 0 CNY' for a gift list row."""

from __future__ import annotations

from tests.conftest import Cli
from tests.tui_helpers import demo_workspace


def test_a_gift_and_a_call_preview_say_the_list_rows_fields(tmp_path, monkeypatch):
    workspace = demo_workspace(tmp_path, monkeypatch, users=120, now="2026-11-25T11:00:00+08:00")
    cli = Cli(workspace.db_path)
    gift = cli("preview", "seed-gift-zh", "--user", "U0000001")
    assert gift.exit_code == 0, gift.output
    assert "gift list row: 5 fields" in gift.output, gift.output
    assert "0 characters" not in gift.output and "cost 0 " not in gift.output, gift.output
    call = cli("preview", "vip-call-zh", "--user", "U0000001")
    assert call.exit_code == 0, call.output
    assert "call list row: 6 fields · script " in call.output, call.output
    sms = cli("preview", "nostalgic-sms-zh", "--user", "U0000001")
    assert " characters · 1 part (cn mode) · cost 0.04 CNY" in sms.output, sms.output   # SMS as before
