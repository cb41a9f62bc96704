"""Saving a template whose text is its latest version's makes no new version: no template_versions row, no audit
entry (`winback templates add` says "unchanged"; the console's editor likewise). Changed text is a new version."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.campaign_support import load_workspace, write_config

TEXT = 'name = "miss-you"\nchannel = "sms"\nbody = "{{ user.name }}，好久不见！"\n'
OTHER = 'name = "come-back"\nchannel = "sms"\nbody = "{{ user.name }}，回来看看！"\n'


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04}}))
    ws.open().close()   # the database exists: `templates add` saves into it
    return ws


def _add(ws, *paths, as_json: bool = False):
    return CliRunner().invoke(app, ["--config", str(ws.config.path), "templates", "add", *map(str, paths),
                                    *(["--json"] if as_json else [])])


def _versions_and_audits(ws, name: str = "miss-you") -> tuple[int, int]:
    db = ws.open()
    versions = db.execute("SELECT COUNT(*) FROM template_versions v JOIN templates t ON t.id = v.template_id "
                          "WHERE t.name = ?", [name]).fetchone()[0]
    audits = db.execute("SELECT COUNT(*) FROM audit WHERE action = 'template.save' AND details LIKE ?",
                        [f'%"{name}"%']).fetchone()[0]
    db.close()
    return versions, audits


def test_templates_add_twice_with_the_same_file_keeps_version_1(ws, tmp_path):
    path = tmp_path / "miss-you.toml"
    path.write_text(TEXT, encoding="utf-8")
    assert "saved miss-you (sms) version 1" in _add(ws, path).output
    again = _add(ws, path)
    assert again.exit_code == 0, again.output
    assert "unchanged: miss-you stays version 1" in again.output
    assert _versions_and_audits(ws) == (1, 1)

    path.write_text(TEXT.replace("好久不见", "想您了"), encoding="utf-8")   # changed: a new version
    assert "saved miss-you (sms) version 2" in _add(ws, path).output
    # the same text with Windows line endings and a trailing blank line is the same text
    path.write_bytes(TEXT.replace("好久不见", "想您了").replace("\n", "\r\n").encode("utf-8") + b"\r\n")
    assert "unchanged: miss-you stays version 2" in _add(ws, path).output
    assert _versions_and_audits(ws) == (2, 2)


def test_templates_add_of_several_files_saves_only_the_changed_ones(ws, tmp_path):
    (tmp_path / "a.toml").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.toml").write_text(OTHER, encoding="utf-8")
    assert _add(ws, tmp_path / "a.toml").exit_code == 0
    result = _add(ws, tmp_path / "a.toml", tmp_path / "b.toml", as_json=True)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: (r["version"], r["unchanged"]) for r in json.loads(result.stdout)}
    assert rows == {"miss-you": (1, True), "come-back": (1, False)}
    assert _versions_and_audits(ws) == (1, 1) and _versions_and_audits(ws, "come-back") == (1, 1)


def test_the_editors_save_of_untouched_text_makes_no_new_version(ws):
    from console import templates
    from screens.sources.messages import save_template_text

    db = ws.open()
    first = save_template_text(db, ws.config, TEXT)
    assert (first["version"], first["unchanged"]) == (1, False)
    loaded = templates.get(db, "miss-you").source   # what the editor shows
    assert save_template_text(db, ws.config, loaded) == {"name": "miss-you", "version": 1, "unchanged": True}
    changed = save_template_text(db, ws.config, loaded.replace("好久不见", "想您了"))
    assert (changed["version"], changed["unchanged"]) == (2, False)
    db.close()
    assert _versions_and_audits(ws) == (2, 2)
