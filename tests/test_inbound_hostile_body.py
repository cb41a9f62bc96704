"""Hostile but small JSON bodies posted to `winback serve` are refused with a 4xx, never a 500 (issue 12.4)."""

from __future__ import annotations

import httpx
import pytest

from console.inbound.server import BackgroundServer
from console.workspace import Workspace

SECRET = "s3cret-for-hostile-tests"


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_TEST_INBOUND_SECRET", SECRET)
    (tmp_path / "winback.toml").write_text(
        '[inbound]\nsecret_env = "WINBACK_TEST_INBOUND_SECRET"\nmax_body_bytes = 1000000\n', encoding="utf-8")
    ws = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    ws.open().close()
    with BackgroundServer(ws) as url:
        yield url


def post(url: str, raw: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(url, content=raw, headers={"Content-Type": content_type, "X-Winback-Secret": SECRET})


@pytest.mark.parametrize("raw", [
    b"[" * 20_000 + b"]" * 20_000,
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b'[{"biz_id": "m1", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}]",
    b'[{"biz_id": ' + b"9" * 5_000 + b"}]",
], ids=["array 20,000 deep", "object 20,000 deep", "deep inside a record", "5,000-digit number"])
def test_deeply_nested_or_huge_json_is_a_400(server, raw):
    for path in ("/receipts/sms", "/replies/sms"):
        response = post(f"{server}{path}", raw)
        assert response.status_code == 400, response.text
        assert "error" in response.json()


def test_brackets_inside_strings_and_forms_are_not_nesting(server):
    # A reply text full of brackets is text, not nesting: it reaches the mapping (and fails there for its
    # missing fields, with a 400 that names them), not the nesting check.
    response = post(f"{server}/replies/sms", b'{"phone": "13800000001", "note": "' + b"[" * 5_000 + b'"}')
    assert response.status_code == 400 and "nested" not in response.json()["error"]
    form = post(f"{server}/replies/sms", b"note=" + b"[" * 5_000, "application/x-www-form-urlencoded")
    assert form.status_code == 400 and "nested" not in form.json()["error"]
