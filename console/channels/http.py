"""HTTP transport for SMS gateways, push services and webhooks (httpx, one pooled client).

Settings: `url`, `method` (POST), `token_env` (sent as `Authorization: Bearer …`), `headers` (values may name
environment variables as `${NAME}`), `body` (a JSON template whose string values may hold `{{ to }}`, `{{ text }}`,
`{{ subject }}`, `{{ message_id }}`, `{{ campaign }}`, `{{ user_id }}`, `{{ coupon_code }}`, `{{ parts }}` and
any message field such as `{{ title }}` or `{{ link }}`), `success_field`/`success_value` (a dotted path into the
JSON reply that must equal the value), `provider_id_field` (a dotted path to the provider's message id).

HTTP 429 and 5xx, and failures to connect, are temporary: retried with backoff and jitter, honouring Retry-After,
then deferred. Other 4xx, and a 2xx reply whose success field says otherwise, are permanent failures. A request
that left but got no reply (read timeout, connection dropped) is `unknown`: it may have arrived, so it is never
resent.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx

from console.channels.base import (
    AmbiguousFailure,
    Channel,
    ChannelError,
    Message,
    PermanentFailure,
    TemporaryFailure,
    Unreachable,
    secret_from_env,
)

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

DEFAULT_BODY = '{"to": "{{ to }}", "text": "{{ text }}", "id": "{{ message_id }}"}'


def _from_env(value: str, where: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ChannelError(f"{where}: environment variable {name} is not set")
        return os.environ[name]

    return _ENV.sub(sub, value)


def fill_template(template: Any, values: dict[str, Any]) -> Any:
    """Substitute placeholders inside a parsed JSON template; the result is always valid JSON.

    A string that is exactly one placeholder takes the value as it is (numbers stay numbers).
    """
    if isinstance(template, dict):
        return {k: fill_template(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill_template(v, values) for v in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole:
            return values.get(whole.group(1))
        return _PLACEHOLDER.sub(lambda m: "" if values.get(m.group(1)) is None else str(values[m.group(1)]),
                                template)
    return template


def dig(data: Any, path: str) -> Any:
    """data['a']['b'] for path 'a.b' (list indexes allowed); None when absent."""
    for key in path.split("."):
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


class HttpChannel(Channel):
    transport = "http"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        s = self.settings
        where = f"[channels.{name}]"
        self.url = str(s.get("url") or "")
        if not self.url.startswith(("http://", "https://")):
            raise ChannelError(f"{where} needs url = \"https://…\"")
        self.method = str(s.get("method", "POST")).upper()
        try:
            self.body_template = json.loads(str(s.get("body", DEFAULT_BODY)))
        except json.JSONDecodeError as exc:
            raise ChannelError(f"{where} body is not a JSON template: {exc}") from exc
        headers = {str(k): _from_env(str(v), f"{where} headers.{k}") for k, v in (s.get("headers") or {}).items()}
        token = secret_from_env(s, "token_env", where)
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        self.success_field = s.get("success_field")
        self.success_value = s.get("success_value")
        self.provider_id_field = s.get("provider_id_field")
        timeout = float(s.get("timeout", 15))
        self.client = httpx.Client(
            headers=headers,
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )

    def values(self, m: Message) -> dict[str, Any]:
        return {
            **m.fields,
            "to": m.to,
            "text": m.text,
            "subject": m.subject,
            "html": m.html,
            "message_id": m.message_id,
            "campaign": m.campaign,
            "user_id": m.user_id,
            "coupon_code": m.coupon_code,
            "parts": m.parts,
            "unsubscribe_url": m.unsubscribe_url,
        }

    def send_one(self, message: Message) -> str | None:
        body = fill_template(self.body_template, self.values(message))
        try:
            response = self.client.request(self.method, self.url, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # the request never left (refused, no route, no answer to connect): certainly not sent
            raise Unreachable(f"cannot reach {self.url}: {type(exc).__name__}: {exc}") from exc
        except httpx.PoolTimeout as exc:
            # the request never left: safe to retry
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:
            # it may have arrived (read timeout, connection dropped before the reply): never resend
            raise AmbiguousFailure(f"no reply: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise TemporaryFailure(f"HTTP {status} {response.text[:200]}", _retry_after(response))
        if status >= 300:
            raise PermanentFailure(f"HTTP {status} {response.text[:200]}")
        reply: Any = None
        if self.success_field or self.provider_id_field:
            try:
                reply = response.json()
            except ValueError as exc:
                raise PermanentFailure(f"HTTP {status}: reply is not JSON: {response.text[:200]}") from exc
        if self.success_field is not None:
            got = dig(reply, str(self.success_field))
            if str(got) != str(self.success_value):
                raise PermanentFailure(f"provider refused: {self.success_field} = {got!r}: {response.text[:200]}")
        if self.provider_id_field:
            found = dig(reply, str(self.provider_id_field))
            return None if found is None else str(found)
        return None

    def close(self) -> None:
        super().close()
        self.client.close()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
