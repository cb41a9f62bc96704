"""A fake SMS gateway for tests: a Starlette app that records every message it is handed and answers with an id.

Serve it with console.inbound.server.ThreadedServer on 127.0.0.1 and point `[channels.sms] url` at `/send`.
"""

from __future__ import annotations

import threading

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Gateway:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.lock = threading.Lock()

        async def send(request: Request) -> JSONResponse:
            body = await request.json()
            with self.lock:
                self.received.append(body)
                n = len(self.received)
            return JSONResponse({"code": "OK", "sid": f"gw-{n}"})

        self.app = Starlette(routes=[Route("/send", send, methods=["POST"])])

    def numbers(self) -> list[str]:
        with self.lock:
            return [m["to"] for m in self.received]


def sms_config(url: str, *, extra: str = "") -> str:
    """winback.toml text sending SMS through the gateway at *url* (real transport, consent unknown = allow)."""
    return f"""
[channels.sms]
transport = "http"
url = "{url}/send"
provider_id_field = "sid"
success_field = "code"
success_value = "OK"
rate = 1000
{extra}
"""
