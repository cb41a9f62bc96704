"""[channels.sms] signature = "品牌" in cn mode: mainland carriers require the signature inside 【】 (DOMAIN.md:
length = signature with 【】 + content + opt-out), and preview showed '品牌刘*，…' with no word. The 【】 are added
in cn mode and said once, as a warning naming winback.toml's line, in preview and lint; gsm mode is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import config_from_dict
from console.sms_length import sms_settings
from tests.conftest import Cli
from tests.tui_helpers import demo_workspace


@pytest.mark.parametrize(("written", "sent"), [("品牌", "【品牌】"), ("【品牌", "【品牌】"), ("[品牌]", "【品牌】"),
                                               (" 品牌 ", "【品牌】")])
def test_a_cn_signature_without_brackets_gets_them_and_a_note(written, sent):
    s = sms_settings(config_from_dict({"channels": {"sms": {"mode": "cn", "signature": written}}}))
    assert s.signature == sent
    assert "has no 【】" in s.signature_note and f"signature = \"{sent}\"" in s.signature_note


@pytest.mark.parametrize(("mode", "written"), [("cn", "【品牌】"), ("cn", ""), ("gsm", "Shop: ")])
def test_a_signature_that_is_right_or_not_cn_is_kept_as_written(mode, written):
    s = sms_settings(config_from_dict({"channels": {"sms": {"mode": mode, "signature": written}}}))
    assert (s.signature, s.signature_note) == (written, "")


def _workspace_with_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    workspace = demo_workspace(tmp_path, monkeypatch, users=120, now="2026-11-25T11:00:00+08:00")
    (tmp_path / "winback.toml").write_text('[workspace]\nname = "t"\nbrand = "品牌"\n\n[channels.sms]\nmode = "cn"\n'
                                           'signature = "品牌"\n', encoding="utf-8")
    return Cli(workspace.db_path)


def test_preview_and_lint_send_the_brackets_and_say_so_once(tmp_path, monkeypatch):
    cli = _workspace_with_signature(tmp_path, monkeypatch)
    shown = cli("preview", "nostalgic-sms-zh", "--user", "U0000001")
    assert shown.exit_code == 0, shown.output
    text = next(line for line in shown.output.splitlines() if "好久不见" in line)
    assert text.startswith("【品牌】"), shown.output
    said = " ".join(shown.output.split())
    assert said.count("has no 【】") == 1, said
    assert "winback.toml line 7: [channels.sms] signature '品牌' has no 【】: sent as '【品牌】'" in said, said
    linted = cli("templates", "lint", "nostalgic-sms-zh", "--segment", "at-risk")
    assert " ".join(linted.output.split()).count("has no 【】") == 1, linted.output
