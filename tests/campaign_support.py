"""Helpers for the campaign tests: a small workspace with users, consents, templates and channel settings."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.campaigns import control
from console.config import config_from_dict
from console.workspace import Workspace
from storage.db import open_database


def write_config(path: Path, channels: dict[str, dict[str, Any]]) -> Path:
    """A winback.toml with the given channel tables (quiet hours off unless a channel says otherwise)."""
    lines = ['[workspace]', 'name = "test"', 'database = "winback.db"', '']
    for name, settings in channels.items():
        lines.append(f"[channels.{name}]")
        settings = {"quiet_hours": "off", **settings}
        if settings.get("transport") in ("smtp", "sendgrid", "mailgun"):   # a real email send needs one; None: none
            settings = {"unsubscribe_url": "http://127.0.0.1:8787/u/{token}", **settings}
        settings = {k: v for k, v in settings.items() if v is not None}
        for key, value in settings.items():
            if isinstance(value, dict):
                continue
            lines.append(f"{key} = {_toml(value)}")
        for key, value in settings.items():
            if isinstance(value, dict):
                lines.append(f"[channels.{name}.{key}]")
                lines.extend(f"{k} = {_toml(v)}" for k, v in value.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "") + "'" if "'" not in str(value) else '"' + str(value) + '"'


def load_workspace(config_path: Path) -> Workspace:
    return Workspace.load(config=config_path, db=config_path.parent / "winback.db")


def add_users(db, n: int, *, consent: tuple[str, ...] = ("sms", "email", "push"), start: int = 1,
              timezone: str | None = "Asia/Shanghai") -> list[int]:
    """n users with a mobile number, an email and a push token, consenting to the given channels."""
    now = 1_700_000_000
    rows = []
    for i in range(start, start + n):
        rows.append((f"u{i}", f"用户{i}", f"+86138{i:08d}", f"user{i}@example.com", f"tok{i}", timezone, now, now))
    db.conn.executemany(
        "INSERT INTO users (external_id, name, phone, email, push_token, timezone, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    ids = sorted(r[0] for r in db.execute("SELECT id FROM users ORDER BY id DESC LIMIT ?", [n]))
    db.conn.executemany("INSERT INTO consents (user_id, channel, status, at, source) VALUES (?, ?, 'granted', ?, 'test')",
                        [(uid, ch, now) for uid in ids for ch in consent])
    return ids


def add_template(db, config, toml_text: str):
    from console import templates

    return templates.save(db, templates.parse_toml(textwrap.dedent(toml_text)), config)


SMS_TEMPLATE = '''
name = "miss-you"
channel = "sms"
body = "{{ user.name }}，好久不见！"
'''

EMAIL_TEMPLATE = '''
name = "miss-you-mail"
channel = "email"
subject = "We miss you, {{ user.name }}"
body = "Hello {{ user.name }}, come back. Unsubscribe: {{ links.unsubscribe }}"
html = "<p>Hello {{ user.name }}</p><a href='{{ links.unsubscribe }}'>unsubscribe</a>"
'''

PUSH_TEMPLATE = '''
name = "miss-you-push"
channel = "push"
title = "Hi {{ user.name }}"
body = "We miss you"
'''


def open_db(ws: Workspace):
    return open_database(ws.db_path)


__all__ = ["add_template", "add_users", "config_from_dict", "load_workspace", "write_config"]


def launch_in_background(ws: Workspace, campaign: str) -> tuple[threading.Thread, dict[str, Any]]:
    """A real launch of *campaign* on its own connection in a started thread; the dict gets its "summary", or
    the "error" it raised (for the test's assertions), once the thread ends."""
    outcome: dict[str, Any] = {}

    def send() -> None:
        conn = ws.open()
        try:
            outcome["summary"] = control.launch(conn, ws.config, campaign, real=True)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertions
            outcome["error"] = exc
        finally:
            conn.close()

    sender = threading.Thread(target=send)
    sender.start()
    return sender, outcome


HANG = 300.0   # only stops a hung test; nothing asserts how long anything takes


def wait_until(predicate: Callable[[], object], what: str, *, hang: float = HANG) -> None:
    """Wait for a condition another thread or process brings about (polled, never a fixed sleep); fail naming
    `what` if it has not come after `hang` seconds — a bound against a hung test, not a timing."""
    deadline = time.monotonic() + hang
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
