"""A channel's missing or wrong settings — a provider's required key, an endpoint, a url — are said like every other
winback.toml mistake: exit 2, one line naming the file, the line (of the key, or of the [channels.X] header when the
key is missing) and the key, before anything is claimed or sent. They were a ChannelError (exit 1) naming
[channels.X] but not the file or the line. A secret missing from the environment is not the file's mistake: it
says which variable to set and which line of winback.toml names it. A bad [inbound.receipts.CH.statuses] word
stops `winback serve` before it starts (it was an HTTP 400 to the provider's callback)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.campaign_support import EMAIL_TEMPLATE, SMS_TEMPLATE, add_template, add_users
from tests.config_words_support import one_error

HEAD = '[workspace]\nname = "t"\n\n'
SECRETS = {"WB_P_ID": "id-123456", "WB_P_SECRET": "secret-123456", "WB_P_TOKEN": "token-123456"}

ALIYUN = ['transport = "aliyun"', 'access_key_id_env = "WB_P_ID"', 'access_key_secret_env = "WB_P_SECRET"',
          'sign_name = "品牌"']
TENCENT = ['transport = "tencent"', 'secret_id_env = "WB_P_ID"', 'secret_key_env = "WB_P_SECRET"',
           'sdk_app_id = "1400000000"', 'sign_name = "品牌"']
TWILIO = ['transport = "twilio"', 'account_sid_env = "WB_P_ID"', 'auth_token_env = "WB_P_TOKEN"',
          'from = "+15005550006"']
HTTP = ['transport = "http"', 'url = "http://127.0.0.1:9/send"', 'token_env = "WB_P_TOKEN"']
SENDGRID = ['transport = "sendgrid"', 'api_key_env = "WB_P_TOKEN"', 'from = "B <hello@brand.example>"']
MAILGUN = ['transport = "mailgun"', 'api_key_env = "WB_P_TOKEN"', 'domain = "mg.brand.example"',
           'from = "B <hello@mg.brand.example>"']
SMTP = ['transport = "smtp"', 'host = "127.0.0.1"', 'port = 9', 'security = "none"', 'from = "B <hello@brand.example>"']


def _without(settings: list[str], key: str) -> list[str]:
    return [line for line in settings if not line.startswith(f"{key} =")]


def _with(settings: list[str], line: str) -> list[str]:
    return [*_without(settings, line.split(" =")[0]), line]


# (channel, its settings, the key said, what the words say after it). A missing key is said on the header's line.
CASES = [
    ("sms", _without(ALIYUN, "sign_name"), "sign_name", 'missing: write sign_name = "品牌" (the signature approved'),
    ("sms", _without(ALIYUN, "access_key_secret_env"), "access_key_secret_env",
     'missing: write access_key_secret_env = "NAME"'),
    ("sms", _with(ALIYUN, 'endpoint = "dysmsapi.aliyuncs.com"'), "endpoint", "'dysmsapi.aliyuncs.com': give a URL"),
    ("sms", _without(TENCENT, "sdk_app_id"), "sdk_app_id", 'missing: write sdk_app_id = "1400…" (the SdkAppId'),
    ("sms", _without(TENCENT, "secret_id_env"), "secret_id_env", 'missing: write secret_id_env = "NAME"'),
    ("sms", _without(TWILIO, "from"), "from", 'missing: write from = "+1…"'),
    ("sms", _with(TWILIO, 'status_callback = "winback.example.com/cb"'), "status_callback",
     "'winback.example.com/cb': give the public URL"),
    ("sms", _without(HTTP, "url"), "url", 'missing: write url = "https://…"'),
    ("sms", _with(HTTP, 'auth = "digest"'), "auth", "'digest'; choose one of bearer, basic, none"),
    ("sms", _with(HTTP, "retry_statuses = [400]"), "retry_statuses", "[400]: list the 5xx codes"),
    ("sms", _with(HTTP, 'max_reply_bytes = "1MB"'), "max_reply_bytes", "'1MB' is not a whole number of bytes"),
    ("email", _without(SENDGRID, "from"), "from", 'missing: write from = "Name <address@your-domain>"'),
    ("email", _with(SENDGRID, 'endpoint = "ftp://x"'), "endpoint", "'ftp://x' is not an http(s) URL"),
    ("email", _without(MAILGUN, "domain"), "domain", 'missing: write domain = "mg.example.com"'),
    ("email", _with(MAILGUN, 'from = "nobody"'), "from", "'nobody' is not an email address"),
    ("email", _with(SMTP, 'security = "ssl"'), "security", "'ssl'; choose none, starttls or tls"),
    ("email", _without(SMTP, "from"), "from", 'missing: write from = "Name <address>"'),
    ("email", _with(SMTP, 'port = "smtp"'), "port", "'smtp' is not a port number"),
]


def _campaign(cli, db, workspace, channel: str) -> None:   # type: ignore[no-untyped-def]
    add_users(db, 2)
    add_template(db, workspace.config, SMS_TEMPLATE if channel == "sms" else EMAIL_TEMPLATE)
    template = "miss-you" if channel == "sms" else "miss-you-mail"
    assert cli("campaign", "create", "c", "--segment", "all", "--channel", channel, "--template", template,
               "--holdout", "0").exit_code == 0


def _write(channel: str, settings: list[str]) -> int:
    """./winback.toml with [channels.CHANNEL] holding *settings*; the header's line number."""
    Path("winback.toml").write_text(HEAD + f"[channels.{channel}]\n" + "\n".join(settings) + "\n", encoding="utf-8")
    return HEAD.count("\n") + 1


def _line_of(key: str) -> int:
    lines = Path("winback.toml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(f"{key} ="))


def _nothing_recorded(db) -> None:   # type: ignore[no-untyped-def]
    from console.campaigns import model

    assert db.execute("SELECT COUNT(*) FROM sends").fetchone()[0] == 0
    assert model.get(db, "c").status == "draft"


@pytest.mark.parametrize(("channel", "settings", "key", "words"), CASES,
                         ids=[f"{s[0].split('= ')[1].strip(chr(34))}-{k}" for _, s, k, _ in CASES])
def test_a_providers_missing_or_wrong_setting_names_the_file_line_and_key_exit_2_nothing_sent(
        cli, db, workspace, monkeypatch, channel, settings, key, words):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    _campaign(cli, db, workspace, channel)
    header = _write(channel, settings)
    line = header if words.startswith("missing") else _line_of(key)
    said = one_error(cli("campaign", "launch", "c", "--real", "--yes"))
    assert said.startswith(f"error: winback.toml line {line}: [channels.{channel}] {key}: {words}"), said
    _nothing_recorded(db)


def test_the_launch_that_asks_for_the_count_refuses_the_same_way_before_asking(cli, db, workspace, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    _campaign(cli, db, workspace, "sms")
    header = _write("sms", _without(ALIYUN, "sign_name"))
    said = one_error(cli("campaign", "launch", "c", "--real", input="2\n"))
    assert said.startswith(f"error: winback.toml line {header}: [channels.sms] sign_name: missing"), said
    _nothing_recorded(db)


def test_a_secret_missing_from_the_environment_says_which_variable_to_set_and_the_line_that_names_it(
        cli, db, workspace, monkeypatch):
    monkeypatch.setenv("WB_P_ID", "id-123456")
    monkeypatch.delenv("WB_P_SECRET", raising=False)
    _campaign(cli, db, workspace, "sms")
    _write("sms", ALIYUN)
    result = cli("campaign", "launch", "c", "--real", "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output   # the environment's fault, not the file's
    [said] = result.stderr.strip().splitlines()
    assert said == (f"error: environment variable WB_P_SECRET is not set: set it in the environment winback runs in "
                    f"(winback.toml line {_line_of('access_key_secret_env')}: [channels.sms] access_key_secret_env "
                    "names it; nothing was sent)"), said
    _nothing_recorded(db)


def test_serve_refuses_to_start_on_an_unknown_status_word_instead_of_answering_providers_400(cli, workspace):
    Path("winback.toml").write_text(HEAD + '[inbound.receipts.sms.statuses]\nDELIVRD = "delivered"\n'
                                    'UNDELIV = "failed-ish"\n', encoding="utf-8")
    with socket.socket() as taken:   # were serve to get as far as listening, it would find the port in use: exit 1
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = one_error(cli("serve", "--port", str(port)))
    assert said.startswith("error: winback.toml line 6: [inbound.receipts.sms.statuses] UNDELIV: 'failed-ish' is "
                           "not what a receipt can say: write one of delivered, failed"), said
