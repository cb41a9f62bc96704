"""Running the inbound app with uvicorn: `winback serve` in the foreground, or a background thread (tests)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable

from console.config import Config
from console.errors import WinbackError
from console.inbound.mapping import DEFAULT_SECRET_ENV, inbound_settings

DEFAULT_HOST = "127.0.0.1"  # never listen on every interface unless the operator says so
DEFAULT_PORT = 8787


_TOKEN_PATH = re.compile(r"^/u/[^?#]*")
# Provider callback URLs carry their token in the query (console/inbound/callbacks.py): logged as token=…
_TOKEN_QUERY = re.compile(r"([?&]token=)[^&#\s]*")


class RedactTokens(logging.Filter):
    """Keeps unsubscribe tokens out of the access log: `/u/<token>` is logged as `/u/…`, a callback's `?token=…`
    as `token=…`.

    A token in a log is an unsubscribe anyone reading the log can perform, and it names the user. uvicorn's access
    records carry (client, method, path, http version, status) as args; only the path is touched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = _TOKEN_QUERY.sub(r"\1…", _TOKEN_PATH.sub("/u/…", args[2]))
            record.args = (*args[:2], path, *args[3:])
        return True


REDACT_TOKENS = RedactTokens()


def _uvicorn_config(workspace, host: str | None, port: int | None, log_level: str):
    import uvicorn

    from console.inbound.app import create_app

    settings = inbound_settings(workspace.config)
    workspace.open().close()  # create or migrate the database before the first request
    app = create_app(workspace.config, workspace.db_path)
    config = uvicorn.Config(
        app,
        host=host or str(settings.get("host", DEFAULT_HOST)),
        port=int(settings.get("port", DEFAULT_PORT)) if port is None else port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        access_log=log_level == "info",
    )
    # uvicorn.Config has just (re)configured its loggers; the filter goes on after that (adding it twice is a no-op).
    logging.getLogger("uvicorn.access").addFilter(REDACT_TOKENS)
    return config


def run_server(workspace, *, host: str | None = None, port: int | None = None,
               announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted (Ctrl-C)."""
    import uvicorn

    config = _uvicorn_config(workspace, host, port, "info")
    _check_can_listen(config.host, config.port)
    secret_warning = inbound_secret_warning(workspace.config)
    if secret_warning:
        announce(f"warning: {secret_warning}")
    from console.inbound.callbacks import startup_warnings
    from console.inbound.email_callbacks import startup_warnings as email_warnings

    for warning in [*startup_warnings(workspace.config), *email_warnings(workspace.config)]:
        announce(f"warning: {warning}")
    announce(f"inbound server for {workspace.db_path} on http://{config.host}:{config.port}")
    try:
        uvicorn.Server(config).run()
    except SystemExit as exc:   # uvicorn exits 3 when it cannot start; the CLI promises 0, 1 or 2
        if exc.code not in (None, 0):
            raise WinbackError(f"the inbound server stopped: could not serve on {config.host}:{config.port}") from exc


def inbound_secret_warning(config: Config) -> str | None:
    """What serve says at start when the shared secret of /receipts and /replies is not set (None: it is)."""
    secret_env = str(inbound_settings(config).get("secret_env", DEFAULT_SECRET_ENV))
    if os.environ.get(secret_env):
        return None
    # provider callbacks have their own tokens: say which paths this secret guards, or an Aliyun operator reads
    # it as their receipts being refused
    return (f"${secret_env} is not set: receipts and replies at /receipts/… and /replies/… will be refused (503) "
            "until it is; provider callbacks (/callbacks/…) use their own tokens; unsubscribe links work")


def _check_can_listen(host: str, port: int) -> None:
    """Refuse, in words and before anything starts, a port out of range, an unknown host or a port in use
    (uvicorn would print a traceback, or log an error and exit 3)."""
    import socket

    from console.errors import BadInput

    if not 0 < int(port) < 65536:
        raise BadInput(f"port {port}: give a port from 1 to 65535 (--port, or port in winback.toml [inbound])")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}: {exc.strerror or exc} (--host)") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            raise WinbackError(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                               "(is `winback serve` already running? try another --port)") from exc


class ThreadedServer:
    """Any ASGI app served by uvicorn in a daemon thread: `with ThreadedServer(config) as url:`."""

    def __init__(self, config) -> None:
        import uvicorn

        self.config = config
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="winback-http", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("HTTP server did not start")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class BackgroundServer(ThreadedServer):
    """The inbound server in a thread, for tests and embedding: `with BackgroundServer(ws) as url:` (port 0 =
    a free port)."""

    def __init__(self, workspace, *, host: str = DEFAULT_HOST, port: int = 0) -> None:
        super().__init__(_uvicorn_config(workspace, host, port, "warning"))
