"""The HTTP transport's settings that take more than a lookup (console/channels/http.py): `encoding`/`auth`
choices, a form body's shape, `${NAME}` in header and body values, header names and values, `retry_statuses`.

Each problem is a ChannelSettingError naming the setting (open_channel says it with winback.toml's file and
line); a `${NAME}` whose variable is unset or unusable is the ChannelSecretError console.secrets raises.
"""

from __future__ import annotations

import re
from typing import Any

from console.channels.base import ChannelSettingError
from console.secrets import checked_env

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")        # an HTTP header name (RFC 9110 token)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")                  # not allowed in a header value


def from_env(value: str, where: str, secrets: list[str], setting: str) -> str:
    """`value` with each `${NAME}` replaced by that environment variable, checked as a secret (and remembered in
    `secrets`, so error texts can be scrubbed of it). `setting`: where winback.toml names it ('body', 'headers.X')."""
    def sub(match: re.Match[str]) -> str:
        found = checked_env(match.group(1), where, key=setting)
        secrets.append(found)
        return found

    return _ENV.sub(sub, value)


def choice(settings: dict[str, Any], key: str, choices: tuple[str, ...], default: str, where: str) -> str:
    value = str(settings.get(key) or default).strip().lower()
    if value not in choices:
        raise ChannelSettingError(f"{where} {key} = {settings.get(key)!r}; choose one of {', '.join(choices)}",
                                  key=key, problem=f"{settings.get(key)!r}; choose one of {', '.join(choices)}")
    return value


def check_form_template(template: Any, where: str) -> None:
    """encoding = "form" sends the body template's fields as a form: one flat object of names and values."""
    if not isinstance(template, dict) or any(isinstance(v, dict | list) for v in template.values()):
        need = ('encoding = "form" needs body = a flat JSON object of field names and values, e.g. '
                '\'{"api_key": "${SMS_API_KEY}", "mobile": "{{ to }}", "content": "{{ text }}"}\'')
        raise ChannelSettingError(f"{where} {need}", key="body", problem=need)


def body_from_env(template: Any, where: str, secrets: list[str]) -> Any:
    """The body template with `${NAME}` in its string values replaced by those environment variables."""
    if isinstance(template, dict):
        return {k: body_from_env(v, f"{where}.{k}", secrets) for k, v in template.items()}
    if isinstance(template, list):
        return [body_from_env(v, where, secrets) for v in template]
    if isinstance(template, str) and _ENV.search(template):
        return from_env(template, where, secrets, "body")
    return template


def check_header(name: str, value: str, where: str, setting: str) -> None:
    """A header the HTTP library would refuse at send time (and quote, value and all, in its error) is refused
    now, naming the header but not the value: it may hold a secret. `setting`: 'headers.NAME' in winback.toml."""
    if not HEADER_NAME.match(name):
        raise ChannelSettingError(f"{where}: {name!r} is not a header name", key=setting,
                                  problem=f"{name!r} is not a header name")
    if _CONTROL.search(value):
        problem = "the value holds a control character (a line break?); it cannot be sent"
        raise ChannelSettingError(f"{where}: {problem}", key=setting, problem=problem)


def retry_statuses_of(value: Any, where: str) -> frozenset[int]:
    codes = value if isinstance(value, list) else [value]
    try:
        parsed = frozenset(int(c) for c in codes)
    except (TypeError, ValueError):
        parsed = frozenset({0})
    if any(not 500 <= c <= 599 for c in parsed):
        need = ("list the 5xx codes your provider documents as 'not processed', e.g. retry_statuses = [503] (429 is "
                "always retried)")
        raise ChannelSettingError(f"{where} retry_statuses = {value!r}: {need}", key="retry_statuses",
                                  problem=f"{value!r}: {need}")
    return parsed
