"""SendGrid (v3 Mail Send): one JSON POST per message to {endpoint}/v3/mail/send, `Authorization: Bearer <API key>`.

Settings in `[channels.email]` with `transport = "sendgrid"`: `api_key_env` (the name of the environment variable
holding the API key), `from` ("Name <address>", a verified sender), `reply_to` (optional), `unsubscribe_mailto`
(optional, as for SMTP), `endpoint` (default https://api.sendgrid.com: tests, proxies, the EU data residency host
https://api.eu.sendgrid.com), `timeout` (seconds, default 15).

Each message is one personalization (one recipient): its `custom_args` carry winback's message id (`winback_id`,
without <>) and the campaign, so the event webhook (console/inbound/email_callbacks.py) finds the row even before
the provider id is stored. The message carries the same List-Unsubscribe / List-Unsubscribe-Post headers as over
SMTP. 202 Accepted → sent, the `X-Message-Id` reply header stored as the provider id (SendGrid's events carry it
as the start of `sg_message_id`). Other outcomes: console/channels/email_api.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from console.channels.base import (
    AmbiguousFailure,
    Channel,
    Message,
    PermanentFailure,
    TemporaryFailure,
)
from console.channels.email_api import (
    address_setting,
    bare_id,
    endpoint_of,
    post,
    winback_headers,
)
from console.channels.recipient import display_name, sendgrid_name
from console.channels.replies import json_object
from console.channels.smtp import require_unsubscribe
from console.secrets import required_env_secret, scrub

DEFAULT_ENDPOINT = "https://api.sendgrid.com"
MESSAGE_ID_ARG = "winback_id"        # custom_args key read back by the event webhook
CAMPAIGN_ARG = "winback_campaign"


class SendGridChannel(Channel):
    transport = "sendgrid"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        s = self.settings
        where = f"[channels.{name}]"
        key = required_env_secret(s, "api_key_env", where, "the SendGrid API key")
        self.sender = address_setting(s, "from", where, required=True)
        self.reply_to = address_setting(s, "reply_to", where, required=False)
        self.mailto = str(s.get("unsubscribe_mailto") or "") or None
        self.url = endpoint_of(s, DEFAULT_ENDPOINT, where) + "/v3/mail/send"
        require_unsubscribe(s, name)   # after the settings above, so their own mistakes are said first
        self._secrets = [key]
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {key}"},
            timeout=float(s.get("timeout", 15)),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )

    def body(self, m: Message) -> dict[str, Any]:
        """The Mail Send body for one message (one personalization)."""
        to: dict[str, str] = {"email": m.to or ""}
        name = display_name(m.fields.get("name"))
        if name:
            to["name"] = sendgrid_name(name)   # quoted where a comma would split it (console/channels/recipient.py)
        content = [{"type": "text/plain", "value": m.text}]
        if m.html:
            content.append({"type": "text/html", "value": m.html})
        body: dict[str, Any] = {
            "personalizations": [{
                "to": [to],
                "custom_args": {MESSAGE_ID_ARG: bare_id(m), CAMPAIGN_ARG: m.campaign},
            }],
            "from": _address(self.sender),
            "subject": m.subject or "",
            "content": content,
            "headers": winback_headers(m, self.mailto),
        }
        if self.reply_to:
            body["reply_to"] = _address(self.reply_to)
        return body

    def send_one(self, message: Message) -> str | None:
        try:
            response, _raw, _whole = post(self.client, self.url, "SendGrid", self._secrets, _sendgrid_error,
                                          json=self.body(message))
        except (TemporaryFailure, PermanentFailure, AmbiguousFailure) as exc:
            exc.args = (scrub(str(exc), self._secrets), *exc.args[1:])
            raise exc from None
        # 202 Accepted is SendGrid's unambiguous "queued": sent, with or without the id header
        provider_id = response.headers.get("X-Message-Id", "").strip()
        return provider_id or None

    def close(self) -> None:
        super().close()
        self.client.close()


def _address(pair: tuple[str, str] | None) -> dict[str, str]:
    name, email = pair or ("", "")
    return {"email": email, "name": name} if name else {"email": email}


def _sendgrid_error(raw: bytes) -> str | None:
    """SendGrid's error reply ({"errors": [{"message": "…", "field": "from.email", "help": …}]}) in one line."""
    data = json_object(raw)
    errors = data.get("errors") if data else None
    if not isinstance(errors, list) or not errors:
        return None
    words = []
    for error in errors[:3]:
        if isinstance(error, dict):
            message = error.get("message")
            field = error.get("field")
            text = json.dumps(message, ensure_ascii=False)[1:-1] if isinstance(message, str) else str(message)
            words.append(f"{field}: {text}" if isinstance(field, str) and field else text)
    return "; ".join(words)[:300] or None
