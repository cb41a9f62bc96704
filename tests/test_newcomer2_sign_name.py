"""An Aliyun or Tencent Cloud sign_name written as it shows in the SMS, '【品牌】', is a winback.toml mistake said with
its line before anything is sent: the providers take the approved signature's name without 【】 and add them
themselves (with them every message would have failed at the provider)."""

from __future__ import annotations

import pytest

from tests.config_words_support import one_error
from tests.test_config_words_providers import (
    ALIYUN,
    SECRETS,
    TENCENT,
    _campaign,
    _line_of,
    _nothing_recorded,
    _with,
    _write,
)


@pytest.mark.parametrize("settings", [ALIYUN, TENCENT], ids=["aliyun", "tencent"])
@pytest.mark.parametrize("written", ["【品牌】", "[品牌]"])
def test_a_sign_name_in_brackets_names_the_line_and_the_name_to_write(cli, db, workspace, monkeypatch, settings,
                                                                       written):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    _campaign(cli, db, workspace, "sms")
    _write("sms", _with(settings, f'sign_name = "{written}"'))
    said = one_error(cli("campaign", "launch", "c", "--real", "--yes"))
    assert said.startswith(f"error: winback.toml line {_line_of('sign_name')}: [channels.sms] sign_name: "
                           f"'{written}': write the signature's name without brackets, sign_name = \"品牌\""), said
    _nothing_recorded(db)
