"""`winback init`, `info`, config and database resolution, error handling at the CLI edge."""

from __future__ import annotations

import json
import os
import stat

from typer.testing import CliRunner

from console.cli import app
from console.config import load_config, resolve_db_path


def test_init_writes_a_commented_config_and_a_private_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["init", "--name", "品牌商城"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "winback.toml").read_text(encoding="utf-8")
    assert 'name = "品牌商城"' in text and "# " in text
    assert stat.S_IMODE(os.stat(tmp_path / "winback.db").st_mode) == 0o600
    # A second init keeps the operator's edits.
    (tmp_path / "winback.toml").write_text(text.replace("品牌商城", "edited"), encoding="utf-8")
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    assert 'name = "edited"' in (tmp_path / "winback.toml").read_text(encoding="utf-8")


def test_database_is_found_by_flag_then_env_then_config_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "winback.toml").write_text('[workspace]\ndatabase = "data/shop.db"\n', encoding="utf-8")
    assert resolve_db_path(load_config()) == tmp_path.joinpath("winback.db").relative_to(tmp_path)
    monkeypatch.setenv("WINBACK_CONFIG", str(tmp_path / "conf" / "winback.toml"))
    cfg = load_config()
    assert resolve_db_path(cfg) == tmp_path / "conf" / "data" / "shop.db"
    monkeypatch.setenv("WINBACK_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(cfg) == tmp_path / "env.db"
    assert resolve_db_path(cfg, tmp_path / "flag.db") == tmp_path / "flag.db"


def test_info_reports_paths_and_counts_as_json(cli):
    result = cli("info", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["database"].endswith("winback.db")
    assert data["counts"]["users"] == 0
    assert "m001_foundation" in data["schema"]


def test_a_broken_config_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[workspace\nname = 1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(bad), "info"])
    assert result.exit_code == 2
    assert "bad.toml" in result.output and "Traceback" not in result.output
    zone = tmp_path / "zone.toml"
    zone.write_text('[workspace]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(zone), "info"])
    assert result.exit_code == 2 and "Mars/Olympus" in result.output


def test_audit_lists_what_was_done(cli, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T01:00:00Z")
    assert cli("demo", "--users", "50", "--no-tui").exit_code == 0
    result = cli("audit", "--json", "--action", "demo.*")
    entries = json.loads(result.stdout)
    built = [e for e in entries if e["action"] == "demo.build"]
    assert len(built) == 1
    assert built[0]["actor"] == "tester" and built[0]["details"]["users"] == 50


def test_a_command_on_a_missing_database_says_so_instead_of_creating_an_empty_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    monkeypatch.delenv("WINBACK_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "typo.db"), "segments", "list"])
    assert result.exit_code == 2
    words = " ".join(result.output.split())
    assert "no database at" in words and "`winback init` creates one" in words
    assert not (tmp_path / "typo.db").exists()


def test_listings_print_brackets_in_data_as_they_are(capsys):
    from console.cli.output import emit_rows

    emit_rows([{"name": "[VIP] 王芳", "note": "no unsubscribe_url in [channels.email]"}], as_json=False)
    out = capsys.readouterr().out
    assert "[VIP] 王芳" in out and "[channels.email]" in out
