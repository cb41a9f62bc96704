"""Mailgun (Messages API): one multipart form POST per message to {endpoint}/v3/{domain}/messages, HTTP Basic
with the user `api` and the API key.

Settings in `[channels.email]` with `transport = "mailgun"`: `api_key_env` (the name of the environment variable
holding the API key), `domain` (the sending domain set up at Mailgun), `from` ("Name <address>" on that domain),
`reply_to` (optional), `unsubscribe_mailto` (optional, as for SMTP), `endpoint` (default https://api.mailgun.net;
a domain in Mailgun's EU region needs https://api.eu.mailgun.net), `timeout` (seconds, default 15).

Each message carries winback's message id (without <>) in `v:winback_id` (Mailgun returns it in every event's
`user-variables`, console/inbound/email_callbacks.py) and the same List-Unsubscribe / List-Unsubscribe-Post headers
as over SMTP (`h:` fields). 200 with an `id` → sent, the id stored without its <> (events name it so in
`message.headers.message-id`). A 200 without a readable id is `unknown`. Other outcomes: console/channels/email_api.py.
"""

from __future__ import annotations

import base64
import json
import re
from email.utils import formataddr
from typing import Any

import httpx

from console.channels.base import (
    AmbiguousFailure,
    Channel,
    ChannelSettingError,
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
from console.channels.http import _excerpt
from console.channels.recipient import display_name, rfc5322_address
from console.channels.replies import json_object
from console.channels.smtp import require_unsubscribe
from console.secrets import required_env_secret, scrub

DEFAULT_ENDPOINT = "https://api.mailgun.net"
EU_ENDPOINT = "https://api.eu.mailgun.net"
MESSAGE_ID_VAR = "winback_id"        # v:winback_id, read back from event-data.user-variables
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


class MailgunChannel(Channel):
    transport = "mailgun"

    def __init__(self, name: str, settings: dict[str, Any] | None = None):
        super().__init__(name, settings)
        s = self.settings
        where = f"[channels.{name}]"
        key = required_env_secret(s, "api_key_env", where, "the Mailgun API key")
        domain = str(s.get("domain") or "").strip()
        if not _DOMAIN.match(domain) or "." not in domain:
            need = 'domain = "mg.example.com" (the sending domain set up at Mailgun)'
            given = f"{domain!r} is not a domain name" if domain else "missing" if "domain" not in s else "empty"
            raise ChannelSettingError(f"{where} needs {need}" + (f"; {domain!r} is not a domain name" if domain else ""),
                                      key="domain", missing="domain" not in s, problem=f"{given}: write {need}")
        self.sender = address_setting(s, "from", where, required=True)
        self.reply_to = address_setting(s, "reply_to", where, required=False)
        self.mailto = str(s.get("unsubscribe_mailto") or "") or None
        self.url = f"{endpoint_of(s, DEFAULT_ENDPOINT, where)}/v3/{domain}/messages"
        require_unsubscribe(s, name)   # after the settings above, so their own mistakes are said first
        # the key as sent (Basic api:KEY, base64) is scrubbed too: a proxy may echo the Authorization header
        self._secrets = [key, base64.b64encode(f"api:{key}".encode()).decode()]
        self.client = httpx.Client(
            auth=httpx.BasicAuth("api", key),
            timeout=float(s.get("timeout", 15)),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )

    def form(self, m: Message) -> list[tuple[str, str]]:
        """The Messages API form fields for one message, in order."""
        to = rfc5322_address(display_name(m.fields.get("name")), m.to or "")
        fields = [("from", formataddr(self.sender) if self.sender else ""), ("to", to),
                  ("subject", m.subject or ""), ("text", m.text)]
        if m.html:
            fields.append(("html", m.html))
        if self.reply_to:
            fields.append(("h:Reply-To", formataddr(self.reply_to)))
        fields += [(f"h:{k}", v) for k, v in winback_headers(m, self.mailto).items()]
        fields.append((f"v:{MESSAGE_ID_VAR}", bare_id(m)))
        return fields

    def send_one(self, message: Message) -> str | None:
        try:
            return self._send_one(message)
        except (TemporaryFailure, PermanentFailure, AmbiguousFailure) as exc:
            exc.args = (scrub(str(exc), self._secrets), *exc.args[1:])
            raise exc from None

    def _send_one(self, message: Message) -> str | None:
        # multipart/form-data (as Mailgun documents it): each field a part without a file name
        parts = [(k, (None, v.encode("utf-8"))) for k, v in self.form(message)]
        response, raw, whole = post(self.client, self.url, "Mailgun", self._secrets, _mailgun_error, files=parts)
        data = json_object(raw) if whole else None
        found = data.get("id") if data else None
        if not isinstance(found, str) or not found.strip().strip("<>"):
            raise AmbiguousFailure(f"Mailgun HTTP {response.status_code}, but no message id could be read from "
                                   f"the reply: it may have been queued: {_excerpt(raw)}")
        return found.strip().strip("<>")

    def close(self) -> None:
        super().close()
        self.client.close()


def _mailgun_error(raw: bytes) -> str | None:
    """Mailgun's error reply ({"message": "'to' parameter is not a valid address. please check documentation"})."""
    data = json_object(raw)
    message = data.get("message") if data else None
    if not isinstance(message, str):
        return None
    return json.dumps(message, ensure_ascii=False)[1:-1][:300]
